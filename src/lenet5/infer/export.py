"""Saving a trained network as a Paddle Inference model folder.

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
from lenet5.data.normalize import NORMALIZATIONS, Normalization
from lenet5.errors import UserError
from lenet5.models import get_spec
from lenet5.runtime import import_paddle

paddle = import_paddle()

MODEL_PREFIX = "inference"
META_FILE = "lenet5.json"


class ProbabilityModel(paddle.nn.Layer):
    """Wraps a network so its exported graph outputs softmax probabilities."""

    def __init__(self, net: Any) -> None:
        super().__init__()
        self.net = net

    def forward(self, image):
        return self.net.probabilities(self.net(image))


def save_model_folder(net: Any, model_name: str, out_dir: str | Path, extra_meta: dict[str, Any]) -> Path:
    """Write the folder atomically (all files appear together or not at all)."""
    norm = NORMALIZATIONS[get_spec(model_name).normalization]
    wrapper = ProbabilityModel(net)
    wrapper.eval()
    spec = paddle.static.InputSpec([None, 1, norm.size, norm.size], "float32", "image")
    meta = {
        "format": "lenet5-model/1",
        "model": model_name,
        "normalization": norm.to_dict(),
        "input": {"name": "image", "shape": [None, 1, norm.size, norm.size], "dtype": "float32"},
        "output": {"name": "probabilities", "shape": [None, 10]},
        **extra_meta,
    }
    out_dir = Path(out_dir)
    with atomic.atomic_dir(out_dir) as tmp:
        paddle.jit.save(wrapper, str(tmp / MODEL_PREFIX), input_spec=[spec])
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return out_dir


def resolve_model_folder(path: str | Path) -> Path:
    """Accept a run directory (uses its `model/`) or a model folder itself."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such run directory or model folder")
    for candidate in (path / "model", path):
        if (candidate / META_FILE).is_file():
            return candidate
    raise UserError(f"{path}: not a run directory or model folder (no {META_FILE} found)")


def read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta = json.loads((folder / META_FILE).read_text())
        meta["normalization"] = Normalization(**meta["normalization"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{folder / META_FILE}: unreadable model description ({type(exc).__name__})") from None
    return meta
