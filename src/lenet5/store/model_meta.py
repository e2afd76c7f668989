"""The schema of `lenet5.json`, the file that says how to feed an exported model.

Model folders are meant to be copied around and opened by hand, so the file is checked
against this schema (pydantic: declarative, with error messages that name the field) every
time a folder is opened. A hand edit that would make every prediction crash, such as a
32 px input size on a 28 px model, is refused there with one line naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lenet5.data.normalize import NETWORK_INPUTS as INPUTS
from lenet5.data.normalize import NORMALIZATIONS
from lenet5.errors import UserError

META_FILE = "lenet5.json"
FORMAT = "lenet5-model/1"
MAX_META_BYTES = 1_000_000  # a real one is under 1 KB; refuse to parse anything huge


class NormalizationMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    scale: float
    offset: float
    size: int


class TensorMeta(BaseModel):
    name: str
    shape: list[int | None]
    dtype: str = "float32"


class ModelMeta(BaseModel):
    """`lenet5.json`. Unknown extra keys are kept (newer versions may add some)."""

    model_config = ConfigDict(extra="allow")
    format: Literal["lenet5-model/1"]
    model: str
    normalization: NormalizationMeta
    input: TensorMeta
    output: TensorMeta | None = None
    backend: Literal["paddle", "onnx", "both"] | None = None
    recipe: str | None = None
    epoch: int | None = Field(default=None, ge=0)
    test_accuracy: float | None = Field(default=None, ge=0, le=1)
    val_accuracy: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _consistent_with_the_network(self) -> ModelMeta:
        if self.model not in INPUTS:
            raise ValueError(f"model: unknown network {self.model!r} (known: {', '.join(sorted(INPUTS))})")
        expected = NORMALIZATIONS[INPUTS[self.model]]
        for field in ("name", "scale", "offset", "size"):
            got, want = getattr(self.normalization, field), getattr(expected, field)
            if got != want:
                raise ValueError(f"normalization.{field}: {got!r} does not match network {self.model!r} ({want!r})")
        want_shape = [None, 1, expected.size, expected.size]
        if self.input.shape != want_shape:
            raise ValueError(f"input.shape: {self.input.shape} does not match network {self.model!r} ({want_shape})")
        return self


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def validate_meta(raw: Any, label: object) -> ModelMeta:
    if not isinstance(raw, dict):
        raise UserError(f"{label}: invalid model description (expected a JSON object, got {type(raw).__name__})")
    try:
        return ModelMeta.model_validate(raw)
    except ValidationError as exc:
        raise UserError(f"{label}: invalid model description ({_first_problem(exc)})") from None


def load_meta(folder: Path) -> ModelMeta:
    """Read and validate `folder/lenet5.json`, or raise a one-line UserError."""
    path = folder / META_FILE
    try:
        if path.stat().st_size > MAX_META_BYTES:
            raise UserError(f"{path}: invalid model description (over {MAX_META_BYTES:,} bytes)")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except UserError:
        raise
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{path}: not valid JSON ({type(exc).__name__})") from None
    return validate_meta(raw, path)
