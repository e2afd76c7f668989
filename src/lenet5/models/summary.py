"""The layer table (`lenet5 summary`): maps, parameters and connections per layer, all
computed from the model object, never typed in.

- shapes come from a real forward pass (forward hooks on each listed layer);
- parameters are counted from the trainable tensors, masked weights excluded;
- connections follow from shapes and kernels: a unit of a convolution connects to its
  kernel's live weights plus its bias, a subsampling unit to its 2x2 window plus bias, a
  fully connected unit to every input plus bias, an RBF unit to every input, a max-pool
  unit to its window, a batch-norm unit to its one input.

`connections` in the totals sums every layer. For LeNet-5 that is the paper's 340,908: the
six trained layers give 340,068 and the fixed RBF output the other 840 (so the figure
includes the output layer, though it is sometimes quoted as "C1..F6").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet5.data.normalize import NORMALIZATIONS
from lenet5.models.registry import get_spec, reference_path
from lenet5.runtime import import_paddle

paddle = import_paddle()


def _numel(tensor: Any) -> int:
    return int(np.prod(tensor.shape)) if tensor is not None else 0


def _count(layer: Any, out_shape: list[int]) -> tuple[int, int, int, str]:
    """(trainable params, fixed params, connections, kind) of one layer for one sample."""
    from lenet5.models.lenet1998 import EuclideanRBF, MaskedConv2D, Subsampling

    per_sample = out_shape[1:]
    units = int(np.prod(per_sample))
    spatial = int(np.prod(per_sample[1:])) if len(per_sample) == 3 else 1
    if isinstance(layer, MaskedConv2D):
        params = int(layer.mask.sum().item()) + _numel(layer.bias)
        return params, 0, spatial * params, "conv (partial)"
    if isinstance(layer, paddle.nn.Conv2D):
        params = _numel(layer.weight) + _numel(layer.bias)
        return params, 0, spatial * params, "conv"
    if isinstance(layer, Subsampling):
        params = _numel(layer.coefficient) + _numel(layer.bias)
        return params, 0, units * (layer.window * layer.window + 1), "subsampling"
    if isinstance(layer, paddle.nn.Linear):
        params = _numel(layer.weight) + _numel(layer.bias)
        return params, 0, params, "full"
    if isinstance(layer, EuclideanRBF):
        fixed = _numel(layer.prototypes)
        return 0, fixed, fixed, "euclidean rbf (fixed)"
    if isinstance(layer, paddle.nn.MaxPool2D):
        window = layer.ksize * layer.ksize if isinstance(layer.ksize, int) else int(np.prod(layer.ksize))
        return 0, 0, units * window, "max-pool"
    if isinstance(layer, paddle.nn.BatchNorm2D):
        params = sum(_numel(p) for p in layer.parameters() if not p.stop_gradient)
        return params, 0, units, "batch-norm"
    raise TypeError(f"no counting rule for {type(layer).__name__}")


def layer_table(model: Any, model_name: str) -> dict[str, Any]:
    size = NORMALIZATIONS[get_spec(model_name).normalization].size
    layers = model.summary_layers()
    shapes: dict[str, list[int]] = {}
    hooks = [
        layer.register_forward_post_hook(lambda _l, _i, out, n=name: shapes.__setitem__(n, list(out.shape)))
        for name, layer in layers.items()
    ]
    was_training = model.training
    model.eval()
    with paddle.no_grad(), reference_path(model):
        model(paddle.zeros([1, 1, size, size]))
    if was_training:
        model.train()
    for hook in hooks:
        hook.remove()
    rows = []
    for name, layer in layers.items():
        shape = shapes[name]
        params, fixed, connections, kind = _count(layer, shape)
        rows.append(
            {
                "name": name,
                "type": kind,
                "maps": shape[1],
                "size": f"{shape[2]}x{shape[3]}" if len(shape) == 4 else None,
                "params": params,
                "fixed_params": fixed,
                "connections": connections,
            }
        )
    trainable = sum(_numel(p) for p in model.parameters() if not p.stop_gradient)
    masked = sum(int((1 - layer.mask).sum().item()) for layer in layers.values() if hasattr(layer, "mask"))
    return {
        "model": model_name,
        "input": f"1@{size}x{size}",
        "layers": rows,
        "trainable_params": trainable - masked,
        "fixed_params": sum(r["fixed_params"] for r in rows),
        "connections": sum(r["connections"] for r in rows),
    }


def format_table(table: dict[str, Any]) -> str:
    header = f"{'layer':8} {'type':24} {'feature maps':>14} {'params':>9} {'connections':>12}"
    lines = [f"{table['model']}: input {table['input']}", header, "-" * len(header)]
    for row in table["layers"]:
        maps = f"{row['maps']}@{row['size']}" if row["size"] else str(row["maps"])
        params = f"{row['params']:,}" if not row["fixed_params"] else f"({row['fixed_params']:,} fixed)"
        lines.append(f"{row['name']:8} {row['type']:24} {maps:>14} {params:>9} {row['connections']:>12,}")
    lines.append("-" * len(header))
    lines.append(
        f"{'total':8} {'':24} {'':>14} {table['trainable_params']:>9,} {table['connections']:>12,}"
        + (f"   (+{table['fixed_params']:,} fixed RBF weights, not trained)" if table["fixed_params"] else "")
    )
    return "\n".join(lines)
