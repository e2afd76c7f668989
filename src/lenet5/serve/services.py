"""What the server holds: the loaded models, what /api/model says of them, and the limits on
what one request may cost (decoding slots, pixels, body size and time)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from lenet5.errors import UserError
from lenet5.infer.backends import load_backend
from lenet5.reader.numbers import read_file
from lenet5.serve.bodies import bad_picture_is_the_clients
from lenet5.store.model_folder import ModelMeta, resolve_model_folder, shipped_name


class PredictionService:
    """The loaded model plus what /api/model reports about it."""

    def __init__(self, model_path: str | Path | None, backend: str | None = None) -> None:
        self.backend = load_backend(model_path, backend)
        self.backend_name = self.backend.name
        self.folder = resolve_model_folder(model_path)
        self._lock = threading.Lock()
        self.info = describe_model(self.backend.meta, self.backend_name)

    def predict(self, digit: np.ndarray) -> np.ndarray:
        x = self.backend.meta.normalize(digit[None])
        with self._lock:
            return self.backend.probabilities(x)[0]


def describe_model(meta: ModelMeta, backend: str) -> dict[str, Any]:
    """What /api/model says of a model: only what its own `lenet5.json` holds (names and
    numbers, never a path), and the layer table of its network. Nothing beside the folder
    is read: whatever a user keeps next to a model folder stays private."""
    info: dict[str, Any] = {
        "model": meta.model,
        "backend": backend,
        "input": meta.input.model_dump(),
        "normalization": meta.normalize.to_dict(),
        "test_accuracy": meta.test_accuracy,
    }
    if meta.training is not None:
        info["recipe"] = meta.training  # the run's published settings (lenet5.settings)
    if meta.summary is not None:
        info["summary"] = meta.summary  # what its run scored (names and numbers only)
    try:
        from lenet5.models import create_model
        from lenet5.models.summary import layer_table

        info["architecture"] = layer_table(create_model(meta.model), meta.model)
    except (ImportError, UserError):
        info["architecture"] = None
    return info


class _LockedScores:
    """A backend whose model calls take a lock (the runtimes' predictor objects are shared)."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._lock = threading.Lock()
        self.meta = backend.meta
        self.classes = backend.classes
        self.name = backend.name

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._backend.scores(inputs)


class ReaderService:
    """The model behind /api/read: the shipped reader model unless told otherwise."""

    def __init__(self, model_path: str | Path | None, backend: str | None = None) -> None:
        self.backend = _LockedScores(load_backend(model_path, backend))
        self.model = self.backend.meta.model
        self.folder = resolve_model_folder(model_path)

    @property
    def name(self) -> str | None:
        """The shipped model's name, never a path."""
        return shipped_name(self.folder)

    def read(self, raw: bytes, max_pixels: int) -> dict[str, Any]:
        with bad_picture_is_the_clients():
            reading, _ = read_file(self.backend, raw, "upload", max_pixels=max_pixels)
        return reading.to_json()
