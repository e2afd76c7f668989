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

from lenet5 import atomic
from lenet5.errors import UserError

_META = "__meta__"


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


def save(path: str | Path, model: Any, optimizer: Any | None, meta: dict[str, Any]) -> None:
    arrays = {f"model/{k}": v.numpy() for k, v in model.state_dict().items()}
    if optimizer is not None:
        opt_arrays, extras = optimizer_arrays(model, optimizer)
        arrays.update({f"optim/{k}": v for k, v in opt_arrays.items()})
        meta = {**meta, "optimizer_extras": extras}
    arrays[_META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def read(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """All arrays and the metadata of a checkpoint, validated enough to fail with a message."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        meta = json.loads(arrays.pop(_META).tobytes().decode("utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: checkpoint not found") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a readable lenet5 checkpoint ({type(exc).__name__})") from None
    return arrays, meta


def load(path: str | Path, model: Any, optimizer: Any | None = None) -> dict[str, Any]:
    """Restore model (and optimizer) state in place; return the metadata."""
    import paddle

    arrays, meta = read(path)
    model_state = {k[len("model/") :]: v for k, v in arrays.items() if k.startswith("model/")}
    expected = model.state_dict()
    if set(model_state) != set(expected) or any(
        tuple(model_state[k].shape) != tuple(expected[k].shape) for k in expected
    ):
        raise UserError(f"{path}: checkpoint does not match the model's parameters")
    model.set_state_dict({k: paddle.to_tensor(v) for k, v in model_state.items()})
    if optimizer is not None:
        by_structured = {name: param.name for name, param in model.named_parameters()}
        state: dict[str, Any] = dict(meta.get("optimizer_extras", {}))
        for key, value in arrays.items():
            if key.startswith("optim/"):
                structured, suffix = key[len("optim/") :].split("|", 1)
                state[f"{by_structured[structured]}_{suffix}"] = paddle.to_tensor(value)
        optimizer.set_state_dict(state)
    return meta
