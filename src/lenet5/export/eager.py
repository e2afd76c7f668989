"""A model folder's weights back in a trainable network: the inverse of
`lenet5.export.graph.save_model_folder`, for fine-tuning a shipped model (`train --from`).

A folder holds what `paddle.jit.save` wrote: a graph and its parameters, which
`paddle.jit.load` gives back under positional names (`param_0`, `param_1`, ...) but with
the internal names Paddle gave them when the network was built (`conv2d_2.w_0_0`: the
third convolution made in that process, its weight; batch norm's `w_1`, `w_2`: its running
mean and variance). A freshly built network has internal names of the same form. So each
saved layer is matched to the network's layer of the same kind in the same order of
creation (`conv2d_2` and `conv2d_3` to the network's first and second convolution), and
each parameter by its role (`w_0`, `b_0`, ...); a tensor Paddle only named
`generated_tensor_N` (lenet5's fixed RBF bitmaps) is matched by its shape, when exactly
one saved tensor has it. Shapes must agree everywhere.

Names can lie, so the match is then proved: the network, so loaded, must give the folder's
own probabilities on a fixed batch of inputs (within PROBE_TOLERANCE), or loading fails
with one line. A folder that averages several networks (the shipped `reader`) holds no
single network to start from and is refused.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from lenet5.errors import UserError
from lenet5.runtime import import_paddle
from lenet5.store.model_folder import MODEL_PREFIX, PADDLE_PARAMS, ModelMeta

paddle = import_paddle()

# Saved: `conv2d_2.w_0_0` (the last `_0` added by jit.save); built: `conv2d_0.w_0`.
_SAVED = re.compile(r"^(?P<kind>[a-z][a-z0-9_]*?)_(?P<index>\d+)\.(?P<role>[a-z]_\d+)_\d+$")
_BUILT = re.compile(r"^(?P<kind>[a-z][a-z0-9_]*?)_(?P<index>\d+)\.(?P<role>[a-z]_\d+)$")
_GENERATED = "generated_tensor"
PROBE_COUNT = 64
PROBE_TOLERANCE = 1e-4  # two orders of summation differ by ~1e-6; a misplaced tensor by far more


def load_folder_weights(net: Any, folder: Path, meta: ModelMeta) -> None:
    """Set `net`'s parameters and buffers to the folder's, proved by its probabilities.
    `net` must be the folder's network, built fresh (lenet5.models.network_for)."""
    if meta.members:
        raise UserError(
            f"{folder}: averages {len(meta.members)} networks; fine-tune from one of them "
            f"(its run directory: {', '.join(m.run for m in meta.members)})"
        )
    if not (folder / PADDLE_PARAMS).is_file():
        raise UserError(
            f"{folder}: no {PADDLE_PARAMS} (an ONNX-only export); fine-tuning needs Paddle's weights: "
            "start from its run directory or export it with --format paddle"
        )
    try:
        saved = paddle.jit.load(str(folder / MODEL_PREFIX))
    except (OSError, ValueError, RuntimeError) as exc:
        raise UserError(f"{folder}: cannot load its Paddle weights ({type(exc).__name__}: {exc})") from None
    saved.eval()
    state = _matched(net, saved, folder)
    net.set_state_dict({key: paddle.to_tensor(value) for key, value in state.items()})
    _prove(net, saved, meta, folder)


def _matched(net: Any, saved: Any, folder: Path) -> dict[str, np.ndarray]:
    """{the network's state key: the saved array} by kind, order of creation and role."""
    saved_by_layer: dict[str, dict[tuple[int, str], np.ndarray]] = defaultdict(dict)
    generated: list[np.ndarray] = []
    for param in saved.parameters():
        value = param.numpy()
        if param.name.startswith(_GENERATED):
            generated.append(value)
            continue
        found = _SAVED.match(param.name)
        if found is None:
            raise UserError(f"{folder}: saved parameter {param.name!r} has a name lenet5 cannot place")
        saved_by_layer[found["kind"]][(int(found["index"]), found["role"])] = value
    built: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    state: dict[str, np.ndarray] = {}
    for key, tensor in net.state_dict().items():
        found = _BUILT.match(tensor.name)
        if found is None:  # a tensor with no layer of its own
            state[key] = _by_shape(key, tuple(tensor.shape), generated, folder)
            continue
        built[found["kind"]].append((key, int(found["index"]), found["role"]))
    for kind, entries in built.items():
        # The n-th layer of a kind built now is the n-th of that kind when the folder was saved.
        ours = sorted({index for _key, index, _role in entries})
        theirs = sorted({index for index, _role in saved_by_layer.get(kind, {})})
        if len(ours) != len(theirs):
            raise UserError(f"{folder}: holds {len(theirs)} {kind} layer(s), the network has {len(ours)}")
        for key, index, role in entries:
            value = saved_by_layer[kind].get((theirs[ours.index(index)], role))
            if value is None:
                raise UserError(f"{folder}: no saved tensor for the network's {key}")
            state[key] = value
    for key, tensor in net.state_dict().items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise UserError(
                f"{folder}: its {key} has shape {list(state[key].shape)}, the network's {list(tensor.shape)}"
            )
    return state


def _by_shape(key: str, shape: tuple[int, ...], generated: list[np.ndarray], folder: Path) -> np.ndarray:
    same = [value for value in generated if tuple(value.shape) == shape]
    if len(same) != 1:
        raise UserError(f"{folder}: cannot tell which saved tensor is the network's {key} ({len(same)} of its shape)")
    return same[0]


def probe_inputs(meta: ModelMeta) -> np.ndarray:
    """A fixed batch of the network's inputs: random strokes of ink on background."""
    rng = np.random.default_rng(29)
    pixels = np.zeros((PROBE_COUNT, 28, 28), dtype=np.uint8)
    for picture in pixels:
        for _ in range(3):
            y, x = rng.integers(4, 24, size=2)
            dy, dx = rng.integers(-4, 5, size=2)
            for t in np.linspace(0, 1, 12):
                picture[int(y + t * dy) - 1 : int(y + t * dy) + 2, int(x + t * dx) - 1 : int(x + t * dx) + 2] = 255
    return meta.normalize(pixels)


def _prove(net: Any, saved: Any, meta: ModelMeta, folder: Path) -> None:
    x = paddle.to_tensor(probe_inputs(meta))
    net.eval()
    with paddle.no_grad():
        ours = net.probabilities(net(x)).numpy()
        theirs = saved(x).numpy()
    gap = float(np.abs(ours - theirs).max()) if ours.shape == theirs.shape else float("inf")
    if gap > PROBE_TOLERANCE:
        raise UserError(f"{folder}: its weights, placed in the network, do not reproduce its answers (gap {gap:.2g})")
