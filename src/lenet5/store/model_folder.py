"""Model folders on disk: their files, their `lenet5.json` (typed and validated), and finding
one (a run directory, a folder, or a shipped model by name). Free of Paddle, so that
predicting with ONNX Runtime never pays Paddle's import (about a second).

    MODEL/
      lenet5.json            how to feed the model: network, normalisation, input, output (ModelMeta)
      inference.json         Paddle Inference graph      } either or both
      inference.pdiparams    Paddle Inference weights    }
      model.onnx             ONNX graph                  }
      README.md              the model card

Model folders are meant to be copied around and opened by hand, so `lenet5.json` is checked
against ModelMeta (pydantic: declarative, with error messages that name the field) every
time a folder is opened. A hand edit that would make every prediction crash, such as a
32 px input size on a 28 px model, is refused there with one line naming the field.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lenet5.data.normalize import NETWORK_INPUTS, NORMALIZATIONS, Normalization
from lenet5.errors import UserError
from lenet5.store.files import read_json

META_FILE = "lenet5.json"
MODEL_PREFIX = "inference"
PADDLE_GRAPH = f"{MODEL_PREFIX}.json"
PADDLE_PARAMS = f"{MODEL_PREFIX}.pdiparams"
ONNX_FILE = "model.onnx"
CARD_FILE = "README.md"
MODEL_FILES = frozenset({META_FILE, CARD_FILE, PADDLE_GRAPH, PADDLE_PARAMS, ONNX_FILE})  # all an export writes
FORMAT = "lenet5-model/1"
FORMAT_PREFIX = FORMAT.rsplit("/", 1)[0] + "/"  # any version of the model-folder format
MAX_META_BYTES = 1_000_000  # a real one is under 2 KB; refuse to parse anything huge

PRETRAINED = Path(__file__).resolve().parent.parent / "pretrained"  # models shipped inside the package
DEFAULT_MODEL = "seed"
DEFAULT_READER = "reader"  # `lenet5 read`'s default: the seed network trained with a junk class


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


class MemberMeta(BaseModel):
    """One network of an average (`lenet5 export RUN RUN ...`)."""

    model_config = ConfigDict(extra="allow")
    run: str
    recipe: str | None = None
    seed: int | None = None
    epoch: int | None = None
    test_accuracy: float | None = None


class Calibration(BaseModel):
    """Fitted on validation data, applied when answers are given (never to the raw scores)."""

    model_config = ConfigDict(extra="allow")
    temperature: float = Field(default=1.0, gt=0, le=100)  # one digit: p_i proportional to p_i^(1/T)
    # a number: sigmoid(a * logit(its weakest digit's probability) + b) (lenet5.reader.read.number_confidence)
    number_platt: tuple[float, float] | None = None


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
    test_accuracy_with_junk: float | None = Field(default=None, ge=0, le=1)
    val_accuracy: float | None = Field(default=None, ge=0, le=1)
    test_limit: int | None = Field(default=None, ge=1)
    members: list[MemberMeta] | None = None  # the networks of an average
    training: dict[str, Any] | None = None  # the run's published settings (lenet5.settings)
    summary: dict[str, Any] | None = None  # the run's summary.json, but for its path
    calibration: Calibration | None = None  # how its confidences are calibrated (bench/calibration.py)
    source: list[str] | None = None  # the run folders (or model folder) an export was made from

    @model_validator(mode="after")
    def _consistent_with_the_network(self) -> ModelMeta:
        if self.model not in NETWORK_INPUTS:
            raise ValueError(f"model: unknown network {self.model!r} (known: {', '.join(sorted(NETWORK_INPUTS))})")
        expected = NORMALIZATIONS[NETWORK_INPUTS[self.model]]
        for field in ("name", "scale", "offset", "size"):
            got, want = getattr(self.normalization, field), getattr(expected, field)
            if got != want:
                raise ValueError(f"normalization.{field}: {got!r} does not match network {self.model!r} ({want!r})")
        want_shape = [None, 1, expected.size, expected.size]
        if self.input.shape != want_shape:
            raise ValueError(f"input.shape: {self.input.shape} does not match network {self.model!r} ({want_shape})")
        return self

    @functools.cached_property
    def normalize(self) -> Normalization:
        """The pixels-to-input function (uint8 digits -> the network's float input)."""
        return Normalization(**self.normalization.model_dump())

    @property
    def classes(self) -> int:
        """10, or 11 for a model with a junk class ("not one whole digit", lenet5.reader.junk)."""
        return int((self.output.shape if self.output else [None, 10])[-1] or 10)

    @property
    def networks_averaged(self) -> int:
        return len(self.members) if self.members else 1


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
    return validate_meta(read_json(path, MAX_META_BYTES, "model description"), path)


def is_model_folder(folder: Path) -> bool:
    """Whether `folder` holds a `lenet5.json` of any version of our format (written by lenet5)."""
    try:
        raw = read_json(folder / META_FILE, MAX_META_BYTES, "model description")
    except UserError:
        return False
    return isinstance(raw, dict) and str(raw.get("format", "")).startswith(FORMAT_PREFIX)


def shipped_models() -> dict[str, Path]:
    """Name -> folder of every model shipped with the package."""
    if not PRETRAINED.is_dir():
        return {}
    return {p.name: p for p in sorted(PRETRAINED.iterdir()) if (p / META_FILE).is_file()}


def resolve_model_folder(path: str | Path | None) -> Path:
    """A run directory (uses its `model/`), a model folder, the name of a shipped model, or
    None for the default shipped model. A folder of that name in the working directory
    wins over a shipped model's name: what the user has is what they mean."""
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


def shipped_name(folder: Path) -> str | None:
    """The name of a shipped model's folder, None for any other folder."""
    return folder.name if folder.resolve().parent == PRETRAINED.resolve() else None


def detect_backend(folder: Path) -> str:
    """ONNX Runtime when the folder has `model.onnx` (fastest to start: no Paddle import),
    else Paddle Inference."""
    return "onnx" if (folder / ONNX_FILE).is_file() else "paddle"
