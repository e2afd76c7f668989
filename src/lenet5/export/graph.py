"""A trained network saved as a Paddle Inference model folder.

A model folder holds `inference.json` + `inference.pdiparams` (what `paddle.jit.save`
writes in Paddle 3.x) and `lenet5.json`, which says how to feed it: the normalisation
and input size. The saved graph ends in class probabilities, so every backend returns
the same thing whatever the network's own output (logits or RBF penalties).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lenet5 import atomic
from lenet5.data.normalize import NORMALIZATIONS
from lenet5.models import get_spec
from lenet5.runtime import import_paddle
from lenet5.store import outputs
from lenet5.store.model_folder import FORMAT, META_FILE, MODEL_PREFIX

paddle = import_paddle()


# `make mutation` leaves the two layers below as written (pragma): Paddle's dy2static re-parses
# `forward` to export the graph, and cannot parse the trampolines mutmut writes.
class ProbabilityModel(paddle.nn.Layer):  # pragma: no mutate block
    """Wraps a network so its exported graph outputs softmax probabilities."""

    def __init__(self, net: Any) -> None:
        super().__init__()
        self.net = net

    def forward(self, image):
        return self.net.probabilities(self.net(image))


class AveragedProbabilities(paddle.nn.Layer):  # pragma: no mutate block
    """Several networks of one architecture as one graph: the mean of their probabilities.

    Averaging the probabilities (not the logits) keeps each row a distribution, and is what
    the networks' errors, partly independent, cancel in (docs/results.md, "Two readers averaged")."""

    def __init__(self, nets: list[Any]) -> None:
        super().__init__()
        self.members = paddle.nn.LayerList([ProbabilityModel(net) for net in nets])

    def forward(self, image):
        total = self.members[0](image)
        for member in self.members[1:]:
            total = total + member(image)
        return total / len(self.members)


def save_model_folder(net: Any | list[Any], model_name: str, out_dir: str | Path, extra_meta: dict[str, Any]) -> Path:
    """Write the folder atomically (all files appear together or not at all). A list of
    networks is saved as one graph averaging their probabilities."""
    norm = NORMALIZATIONS[get_spec(model_name).normalization]
    nets = net if isinstance(net, list) else [net]
    wrapper = ProbabilityModel(nets[0]) if len(nets) == 1 else AveragedProbabilities(nets)
    classes = int(nets[0].fc.weight.shape[1]) if hasattr(nets[0], "fc") else 10
    wrapper.eval()
    spec = paddle.static.InputSpec([None, 1, norm.size, norm.size], "float32", "image")
    meta = {
        "format": FORMAT,
        "model": model_name,
        "normalization": norm.to_dict(),
        "input": {"name": "image", "shape": [None, 1, norm.size, norm.size], "dtype": "float32"},
        # 11 for a model trained with a junk class ("not one whole digit", lenet5.reader.junk).
        "output": {"name": "probabilities", "shape": [None, classes]},
        **extra_meta,
    }
    # Only ever replaces an earlier model folder (a run's own `model/` on resume).
    out_dir = outputs.claim_folder(out_dir, "model", force=True)
    with atomic.atomic_dir(out_dir, replace_existing=True) as tmp:
        paddle.jit.save(wrapper, str(tmp / MODEL_PREFIX), input_spec=[spec])
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return out_dir
