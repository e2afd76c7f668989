"""Model folders on disk: finding one (a run, a folder, or a shipped model by name), its
files and its `lenet5.json`. Free of Paddle, so that predicting with ONNX Runtime never
pays Paddle's import (about a second)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lenet5.data.normalize import Normalization
from lenet5.errors import UserError
from lenet5.store.model_meta import META_FILE, load_meta

MODEL_PREFIX = "inference"
ONNX_FILE = "model.onnx"
PRETRAINED = Path(__file__).resolve().parent.parent / "pretrained"  # models shipped inside the package
DEFAULT_MODEL = "seed"
DEFAULT_READER = "reader"  # `lenet5 read`'s default: the seed network trained with a junk class


def shipped_models() -> dict[str, Path]:
    """Name -> folder of every model shipped with the package."""
    if not PRETRAINED.is_dir():
        return {}
    return {p.name: p for p in sorted(PRETRAINED.iterdir()) if (p / META_FILE).is_file()}


def resolve_model_folder(path: str | Path | None) -> Path:
    """A run directory (uses its `model/`), a model folder, the name of a shipped model, or
    None for the default shipped model."""
    if path is None:
        path = DEFAULT_MODEL
    shipped = shipped_models()
    if isinstance(path, str) and path in shipped and not Path(path).exists():
        return shipped[path]
    path = Path(path)
    if not path.exists():
        names = ", ".join(shipped) or "none installed"
        raise UserError(f"{path}: no such run directory, model folder or shipped model (shipped: {names})")
    for candidate in (path / "model", path):
        if (candidate / META_FILE).is_file():
            return candidate
    raise UserError(f"{path}: not a run directory or model folder (no {META_FILE} found)")


def read_meta(folder: Path) -> dict[str, Any]:
    """`lenet5.json`, validated (see model_meta), with the normalisation as a callable."""
    meta = load_meta(folder).model_dump()
    meta["normalization"] = Normalization(**meta["normalization"])
    return meta


def output_classes(meta: dict[str, Any]) -> int:
    """10, or 11 for a model with a junk class ("not one whole digit", lenet5.reader.junk)."""
    output = meta.get("output") or {}
    return int((output.get("shape") or [None, 10])[-1])


def detect_backend(folder: Path) -> str:
    """ONNX Runtime when the folder has `model.onnx` (fastest to start: no Paddle import),
    else Paddle Inference."""
    return "onnx" if (folder / ONNX_FILE).is_file() else "paddle"
