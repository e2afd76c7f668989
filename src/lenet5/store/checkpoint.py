"""Checkpoints as a single `.npz` file: parameters, optimizer state and JSON metadata.

A plain numpy archive (loaded with allow_pickle=False) rather than paddle.save's pickle,
so opening a checkpoint someone hands you cannot execute code. One file per checkpoint
means one atomic rename publishes all of it together.

Optimizer accumulators are keyed in Paddle by the parameter's *internal* name
(`conv2d_3.w_0_moment1_0`), which depends on how many layers the process built before.
They are stored under the structured name (`conv1.weight|moment1_0`) instead, so a
checkpoint restores into any process.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lenet5 import atomic
from lenet5.errors import UserError
from lenet5.store.files import regular_file

_META = "__meta__"
MAX_META_BYTES = 16 * 1024 * 1024  # the history of a long run is a few hundred KB
# The largest network's parameters and Adam's two moments are about 10 MB; a file many times
# that size is not a checkpoint of ours (and /dev/zero behind a symlink is not a file at all).
MAX_CHECKPOINT_BYTES = 1024 * 1024 * 1024
# Every array we save is float32, as Paddle's layers and optimizers hold them; anything
# else would fail deep inside Paddle with a message about tensors, not about the file.
ARRAY_DTYPE = np.dtype("<f4")


def _internal_to_structured(model: Any) -> dict[str, str]:
    return {param.name: name for name, param in model.named_parameters()}


def _split_accumulator_key(key: str, names: dict[str, str]) -> tuple[str, str] | None:
    best = None
    for internal in names:
        if key.startswith(internal + "_") and (best is None or len(internal) > len(best)):
            best = internal
    return None if best is None else (names[best], key[len(best) + 1 :])


def optimizer_arrays(model: Any, optimizer: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Optimizer state as {structured key: array} plus its JSON-able scalars."""
    names = _internal_to_structured(model)
    arrays: dict[str, np.ndarray] = {}
    extras: dict[str, Any] = {}
    for key, value in optimizer.state_dict().items():
        if hasattr(value, "numpy"):
            split = _split_accumulator_key(key, names)
            if split is None:
                raise ValueError(f"optimizer state {key!r} matches no parameter")
            arrays[f"{split[0]}|{split[1]}"] = value.numpy()
        else:
            extras[key] = value
    return arrays, extras


def save(path: str | Path, model: Any, optimizer: Any | None, meta: dict[str, Any], average: Any | None = None) -> None:
    """`average`: a second network of the same layers (the weight average of --ema), kept
    under `average/` so that a resumed run goes on averaging where it stopped."""
    arrays = {f"model/{k}": v.numpy() for k, v in model.state_dict().items()}
    if average is not None:
        arrays.update({f"average/{k}": v.numpy() for k, v in average.state_dict().items()})
    if optimizer is not None:
        opt_arrays, extras = optimizer_arrays(model, optimizer)
        arrays.update({f"optim/{k}": v for k, v in opt_arrays.items()})
        meta = {**meta, "optimizer_extras": extras}
    arrays[_META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


class _Meta(BaseModel):
    model_config = ConfigDict(extra="allow")


class EpochRow(_Meta):
    epoch: int = Field(ge=0)
    steps: int = Field(ge=0)
    train_cost: float
    train_accuracy: float
    val_cost: float
    val_accuracy: float
    test_cost: float | None  # None: not scored that epoch (--no-test-each-epoch)
    test_accuracy: float | None
    train_seconds: float
    images_per_second: float


class BestRow(_Meta):
    epoch: int = Field(ge=0)
    val_cost: float
    val_accuracy: float
    test_cost: float | None  # scored at the end with --no-test-each-epoch
    test_accuracy: float | None


class LastMeta(_Meta):
    """What `last.npz` must carry for `--resume`."""

    history: list[EpochRow]
    best: BestRow | None
    wall_seconds: float = Field(ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> LastMeta:
        if [row.epoch for row in self.history] != list(range(len(self.history))):
            raise ValueError("history: epochs are not 0, 1, 2, ...")
        if (self.best is None) != (not self.history) or (self.best and self.best.epoch >= len(self.history)):
            raise ValueError("best: does not name a completed epoch")
        return self


class BestMeta(_Meta):
    """What `best.npz` must carry."""

    epoch: int = Field(ge=0)


def _npy_header(member: Any) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(member)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _fortran, dtype = reader(member)
    return tuple(shape), dtype


def _inspect(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Every member's name, shape and dtype, read from the .npy headers: nothing is
    decompressed beyond a header, so a small file claiming a huge array costs nothing."""
    members: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"member {info.filename!r} is not an array")
            with archive.open(info) as member:
                shape, dtype = _npy_header(member)
            if dtype.hasobject:
                raise ValueError(f"member {info.filename!r} holds Python objects")
            declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if info.file_size > declared + 4096:  # header and padding are well under 4 KiB
                raise ValueError(f"member {info.filename!r} is larger than its header says")
            members[info.filename[: -len(".npy")]] = (shape, dtype)
    return members


def _check_layout(members: dict[str, tuple[tuple[int, ...], np.dtype]], model: Any | None) -> None:
    """Refuse an archive whose keys or shapes do not belong to `model` (before any array
    is read): unknown layers, missing ones, wrong shapes, malformed optimizer keys."""
    if _META not in members:
        raise ValueError("no metadata")
    meta_shape, meta_dtype = members[_META]
    if meta_dtype != np.uint8 or len(meta_shape) != 1 or meta_shape[0] > MAX_META_BYTES:
        raise ValueError("metadata is not a small UTF-8 text")
    if model is None:
        return
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    params = {name: tuple(p.shape) for name, p in model.named_parameters()}
    found = {k[len("model/") :]: shape for k, (shape, _) in members.items() if k.startswith("model/")}
    if set(found) != set(expected):
        extra, missing = sorted(set(found) - set(expected)), sorted(set(expected) - set(found))
        raise _Mismatch(f"unknown layer {extra[0]!r}" if extra else f"missing layer {missing[0]!r}")
    for key, shape in found.items():
        if shape != expected[key]:
            raise _Mismatch(f"{key} has shape {list(shape)}, the model has {list(expected[key])}")
    averaged = {k[len("average/") :]: shape for k, (shape, _) in members.items() if k.startswith("average/")}
    if averaged and averaged != expected:  # the weight average has exactly the model's layers
        raise _Mismatch("the averaged weights (average/) do not match the model's layers")
    for key, (shape, _dtype) in members.items():
        if key == _META or key.startswith(("model/", "average/")):
            continue
        if not key.startswith("optim/"):
            raise _Mismatch(f"unknown entry {key!r}")
        structured, bar, suffix = key[len("optim/") :].partition("|")
        if not bar or not suffix or structured not in params:
            raise _Mismatch(f"optimizer entry {key!r} names no parameter")
        if shape != params[structured] and int(np.prod(shape, dtype=np.int64)) != 1:
            raise _Mismatch(f"optimizer entry {key!r} has shape {list(shape)}")
    for key, (_shape, dtype) in members.items():
        if key != _META and dtype != ARRAY_DTYPE:
            raise _Mismatch(f"{key} holds {dtype} numbers, not float32")


class _Mismatch(ValueError):
    """The archive is readable but does not belong to this model."""


def read(path: str | Path, model: Any | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """All arrays and the metadata of a checkpoint, checked against `model` (if given)
    before anything is decompressed, and failing with a one-line message naming the file."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: checkpoint not found")
    regular_file(path, MAX_CHECKPOINT_BYTES, "lenet5 checkpoint")
    try:
        _check_layout(_inspect(path), model)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        meta = json.loads(arrays.pop(_META).tobytes().decode("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("metadata is not a JSON object")
    except FileNotFoundError:
        raise UserError(f"{path}: checkpoint not found") from None
    except _Mismatch as exc:
        raise UserError(f"{path}: checkpoint does not match the model's parameters ({exc})") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, UnicodeDecodeError, RecursionError) as exc:
        raise UserError(f"{path}: not a readable lenet5 checkpoint ({type(exc).__name__}: {exc})") from None
    return arrays, meta


def validate_meta(path: str | Path, meta: dict[str, Any], schema: type[BaseModel]) -> dict[str, Any]:
    """Check the metadata against `schema` (LastMeta or BestMeta); returns it unchanged."""
    try:
        schema.model_validate(meta)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "metadata"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise UserError(f"{path}: not a usable lenet5 checkpoint ({where}: {message})") from None
    return meta


def load(
    path: str | Path,
    model: Any,
    optimizer: Any | None = None,
    schema: type[BaseModel] | None = None,
    average: Any | None = None,
) -> dict[str, Any]:
    """Restore model (and optimizer, and the weight average) state in place; return the metadata."""
    import paddle

    arrays, meta = read(path, model)
    if schema is not None:
        validate_meta(path, meta, schema)
    if average is not None:
        state = {k[len("average/") :]: v for k, v in arrays.items() if k.startswith("average/")}
        if not state:
            raise UserError(f"{path}: holds no averaged weights, but this run keeps an average (--ema)")
        average.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    model_state = {k[len("model/") :]: v for k, v in arrays.items() if k.startswith("model/")}
    model.set_state_dict({k: paddle.to_tensor(v) for k, v in model_state.items()})
    if optimizer is not None:
        by_structured = {name: param.name for name, param in model.named_parameters()}
        extras = meta.get("optimizer_extras", {})
        if not isinstance(extras, dict):
            raise UserError(f"{path}: not a usable lenet5 checkpoint (optimizer_extras is not an object)")
        state: dict[str, Any] = dict(extras)
        for key, value in arrays.items():
            if key.startswith("optim/"):
                structured, suffix = key[len("optim/") :].split("|", 1)
                state[f"{by_structured[structured]}_{suffix}"] = paddle.to_tensor(value)
        try:
            optimizer.set_state_dict(state)
        except (KeyError, ValueError, TypeError, RuntimeError, AssertionError) as exc:  # Paddle raises all five
            raise UserError(f"{path}: optimizer state does not fit ({type(exc).__name__}: {exc})") from None
    return meta
