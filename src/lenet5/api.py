"""The Python API: load a model, read a digit or every number from a picture.

    >>> import lenet5
    >>> model = lenet5.load()                      # the shipped default model
    >>> model.predict("digit.png").digit           # doctest: +SKIP
    7

`load(name_or_path)` takes a shipped model's name (`lenet5 models` lists them), a model
folder or a training run directory. `predict` and `read` take a file path, the file's
bytes, a PIL image or a numpy array (H x W grey or H x W x 3 RGB, uint8 0-255 or float
0-1), or a list of them; they answer what `lenet5 predict --json` and `lenet5 read --json`
print, as dataclasses (`.to_dict()`), boxes in the picture's own pixels. A model in ONNX
form never imports Paddle. One model may be shared between threads: its calls take turns.

Every problem with a picture is a `lenet5.UserError` whose message names it, as on the
command line.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
from PIL import Image

from lenet5.errors import UserError
from lenet5.infer.backends import Backend, load_backend
from lenet5.infer.photo import photo_digit
from lenet5.infer.predict import Prediction, predict_picture
from lenet5.reader.numbers import PageReading, read_page
from lenet5.store.model_folder import resolve_model_folder, shipped_name
from lenet5.vision.preprocess import MAX_PIXELS, with_picture

Picture = str | Path | bytes | Image.Image | np.ndarray


class Model:
    """A loaded model (see `load`). `name` is the shipped model's name, or None."""

    def __init__(self, name_or_path: str | Path | None = None, backend: str | None = None) -> None:
        self.folder = resolve_model_folder(name_or_path)
        self.name = shipped_name(self.folder)
        self._backend: Backend = load_backend(self.folder, backend)
        self._turn = threading.Lock()  # Paddle's predictor is not thread-safe; ONNX's is, cheaply so

    @property
    def backend(self) -> str:
        """The runtime: "onnx" or "paddle"."""
        return self._backend.name

    @property
    def meta(self) -> Any:
        """The model folder's `lenet5.json` (lenet5.store.model_folder.ModelMeta)."""
        return self._backend.meta

    def __repr__(self) -> str:
        return f"lenet5.Model({self.name or str(self.folder)!r}, backend={self.backend!r})"

    @overload
    def predict(self, pictures: Picture, top_k: int = 3) -> Prediction: ...
    @overload
    def predict(self, pictures: Sequence[Picture], top_k: int = 3) -> list[Prediction]: ...

    def predict(self, pictures: Picture | Sequence[Picture], top_k: int = 3) -> Prediction | list[Prediction]:
        """The most prominent digit of each picture (`lenet5 predict`)."""
        if not 1 <= top_k <= 10:
            raise UserError(f"top_k must be 1-10, got {top_k}")

        def one(image: Image.Image, label: str) -> Prediction:
            found = photo_digit(image, label)
            with self._turn:
                return predict_picture(self._backend, found, label, top_k)

        return _each(pictures, one)

    @overload
    def read(self, pictures: Picture, digits: int | None = None, min_confidence: float = 0.0) -> PageReading: ...
    @overload
    def read(
        self, pictures: Sequence[Picture], digits: int | None = None, min_confidence: float = 0.0
    ) -> list[PageReading]: ...

    def read(
        self, pictures: Picture | Sequence[Picture], digits: int | None = None, min_confidence: float = 0.0
    ) -> PageReading | list[PageReading]:
        """Every number written on each picture, top to bottom (`lenet5 read`), each of
        exactly `digits` digits if given, none below `min_confidence`. The shipped `reader`
        model reads numbers best: `lenet5.load("reader").read(...)`."""
        if digits is not None and not 1 <= digits <= 64:
            raise UserError(f"digits must be 1-64, got {digits}")
        if not 0.0 <= min_confidence <= 1.0:
            raise UserError(f"min_confidence must be from 0 to 1, got {min_confidence}")

        def one(image: Image.Image, label: str) -> PageReading:
            with self._turn:
                return read_page(self._backend, image, label, digits, min_confidence)

        return _each(pictures, one)


def load(name_or_path: str | Path | None = None, backend: str | None = None) -> Model:
    """A model: a shipped model's name ("seed", "reader", "lenet5"; None: the default), a
    model folder or a run directory. `backend`: "onnx" or "paddle" (default: ONNX Runtime
    when the folder has model.onnx)."""
    return Model(name_or_path, backend)


def _each(pictures: Picture | Sequence[Picture], work: Any) -> Any:
    if isinstance(pictures, (list, tuple)):
        return [_one(picture, work, f"picture {k}") for k, picture in enumerate(pictures)]
    return _one(pictures, work, "picture")


def _one(picture: Picture, work: Any, label: str) -> Any:
    if isinstance(picture, (str, Path, bytes)):
        return with_picture(picture, work, None if isinstance(picture, (str, Path)) else label)
    image = _from_memory(picture, label)
    return with_picture(_png(image), lambda decoded, _label: work(decoded, label), label)


def _from_memory(picture: Any, label: str) -> Image.Image:
    """A PIL image or a numpy array as a PIL image, checked as a file would be."""
    if isinstance(picture, Image.Image):
        return picture  # its EXIF orientation travels with it (_png)
    if not isinstance(picture, np.ndarray):
        raise UserError(f"{label}: expected a path, bytes, a PIL image or a numpy array, got {type(picture).__name__}")
    array = picture
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)) or 0 in array.shape:
        raise UserError(f"{label}: expected an H x W or H x W x 3 array, got shape {array.shape}")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise UserError(f"{label}: image too large ({array.shape[1]}x{array.shape[0]}, limit {MAX_PIXELS:,} pixels)")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise UserError(f"{label}: the array holds NaN or infinity")
        high = 1.0 if array.max() <= 1.0 else 255.0  # floats 0-1, or 0-255 as floats
        array = np.clip(array / high * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif array.dtype == np.bool_:
        array = np.where(array, 255, 0).astype(np.uint8)
    elif array.dtype.kind in "ui" and array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise UserError(f"{label}: expected numbers, got an array of {array.dtype}")
    return Image.fromarray(np.ascontiguousarray(array))


def _png(image: Image.Image) -> bytes:
    """The picture as PNG bytes: arrays and PIL images then take the very path of a file
    (the same decoding, size limits and one-line errors)."""
    import io

    if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")  # e.g. CMYK, float "F"
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=0, exif=image.getexif())
    return buffer.getvalue()


__all__ = ["Model", "Picture", "load"]
