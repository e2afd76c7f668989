"""The checkpoint format, function by function, on a two-layer model: what `save` writes,
what `read` refuses and with which words, what `load` restores.

These run in well under a second each and train nothing, so mutation testing
(`make mutation`) can run them for every mutant of `train/checkpoint.py`. The Ctrl-C and
crafted-run tests in test_checkpoint_safety.py check the same code through the CLI.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import paddle
import pytest

from lenet5.errors import UserError
from lenet5.store import checkpoint


class _Tiny(paddle.nn.Layer):
    """A weight, a bias and batch-norm buffers: parameters and non-parameter state."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = paddle.nn.Linear(4, 3)
        self.bn = paddle.nn.BatchNorm1D(3)

    def forward(self, x):
        return self.bn(self.fc(x))


def _model(seed: int = 0) -> _Tiny:
    paddle.seed(seed)
    return _Tiny()


def _adam(model: _Tiny, steps: int = 1) -> paddle.optimizer.Adam:
    """Adam behind a scheduler (so the state has a non-tensor entry), after `steps` steps."""
    schedule = paddle.optimizer.lr.StepDecay(learning_rate=0.1, step_size=1, gamma=0.5)
    optimizer = paddle.optimizer.Adam(learning_rate=schedule, parameters=model.parameters())
    x = paddle.to_tensor(np.arange(8, dtype=np.float32).reshape(2, 4) / 8)
    for _ in range(steps):
        model(x).square().mean().backward()
        optimizer.step()
        optimizer.clear_grad()
        schedule.step()
    return optimizer


def _archive(path: Path, **arrays: np.ndarray) -> Path:
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def _meta_bytes(meta: object) -> np.ndarray:
    return np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)


def _state(model: paddle.nn.Layer) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


# --- save -------------------------------------------------------------------------------


def test_save_writes_model_optimizer_and_metadata_under_structured_names(tmp_path: Path) -> None:
    model = _model()
    optimizer = _adam(model)
    checkpoint.save(tmp_path / "c.npz", model, optimizer, {"note": "hello", "epoch": 3})
    with np.load(tmp_path / "c.npz", allow_pickle=False) as archive:
        files = set(archive.files)
        meta = json.loads(archive["__meta__"].tobytes().decode("utf-8"))
        weight = archive["model/fc.weight"]
    assert {"model/fc.weight", "model/fc.bias", "model/bn.weight", "model/bn.bias"} <= files
    assert {"model/bn._mean", "model/bn._variance"} <= files  # buffers, not only parameters
    assert "optim/fc.weight|moment1_0" in files and "optim/bn.bias|moment2_0" in files
    assert "optim/fc.weight|beta1_pow_acc_0" in files
    assert all(k == "__meta__" or k.startswith(("model/", "optim/")) for k in files)
    np.testing.assert_array_equal(weight, model.fc.weight.numpy())
    assert meta["note"] == "hello" and meta["epoch"] == 3
    assert meta["optimizer_extras"]["LR_Scheduler"]["last_epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temporary file left


def test_save_without_an_optimizer_stores_the_model_and_the_metadata_only(tmp_path: Path) -> None:
    checkpoint.save(tmp_path / "m.npz", _model(), None, {"epoch": 0})
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        assert not any(k.startswith("optim/") for k in archive.files)
        assert json.loads(archive["__meta__"].tobytes()) == {"epoch": 0}


def test_optimizer_arrays_rename_paddles_internal_names(tmp_path: Path) -> None:
    model = _model()
    optimizer = _adam(model, steps=2)
    arrays, extras = checkpoint.optimizer_arrays(model, optimizer)
    internal = optimizer.state_dict()
    assert all("|" in key and key.split("|")[0] in dict(model.named_parameters()) for key in arrays)
    np.testing.assert_array_equal(arrays["fc.weight|moment1_0"], internal[f"{model.fc.weight.name}_moment1_0"].numpy())
    assert arrays["fc.bias|beta1_pow_acc_0"].shape == (1,)
    np.testing.assert_allclose(arrays["fc.bias|beta1_pow_acc_0"], [0.9**3], rtol=1e-6)
    assert set(extras) == {"LR_Scheduler"} and extras["LR_Scheduler"]["last_epoch"] == 2


def test_optimizer_state_of_another_model_is_refused() -> None:
    optimizer = _adam(_model(1))
    with pytest.raises(ValueError, match="matches no parameter"):
        checkpoint.optimizer_arrays(_model(2), optimizer)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("linear_7.w_0_moment1_0", ("fc.weight", "moment1_0")),
        ("linear_7.w_0_x_beta2_pow_acc_0", ("other", "beta2_pow_acc_0")),  # the longest name wins
        ("linear_7.b_0_moment2_0", None),
        ("linear_7.w_0", None),  # no separator after the name
    ],
)
def test_an_accumulator_key_splits_at_the_longest_parameter_name(key: str, expected) -> None:
    names = {"linear_7.w_0": "fc.weight", "linear_7.w_0_x": "other"}
    assert checkpoint._split_accumulator_key(key, names) == expected
    reversed_names = dict(reversed(list(names.items())))
    assert checkpoint._split_accumulator_key(key, reversed_names) == expected


# --- read: the layout is checked from the headers --------------------------------------


def test_a_saved_checkpoint_reads_back_exactly(tmp_path: Path) -> None:
    model = _model()
    checkpoint.save(tmp_path / "c.npz", model, _adam(model), {"epoch": 1})
    arrays, meta = checkpoint.read(tmp_path / "c.npz", model)
    assert "__meta__" not in arrays and meta["epoch"] == 1
    for name, value in _state(model).items():
        np.testing.assert_array_equal(arrays[f"model/{name}"], value)
        assert arrays[f"model/{name}"].dtype == np.float32
    arrays_without_model, _ = checkpoint.read(tmp_path / "c.npz")
    assert arrays_without_model.keys() == arrays.keys()


@pytest.mark.parametrize("version", [(1, 0), (2, 0)])
def test_npy_headers_of_both_versions_are_read(version: tuple[int, int]) -> None:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.zeros((3, 5), np.float64), version=version)
    buffer.seek(0)
    assert checkpoint._npy_header(buffer) == ((3, 5), np.dtype(np.float64))


def test_inspect_lists_every_member_with_shape_and_dtype(tmp_path: Path) -> None:
    path = _archive(tmp_path / "a.npz", a=np.zeros((2, 3), np.float32), b=np.zeros(7, np.uint8))
    assert checkpoint._inspect(path) == {
        "a": ((2, 3), np.dtype(np.float32)),
        "b": ((7,), np.dtype(np.uint8)),
    }


def _zip_with(path: Path, name: str, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name, payload)
    return path


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def test_inspect_refuses_a_member_that_is_not_an_array(tmp_path: Path) -> None:
    path = _zip_with(tmp_path / "x.npz", "notes.txt", b"hi")
    with pytest.raises(ValueError, match=r"^member 'notes.txt' is not an array$"):
        checkpoint._inspect(path)


def test_inspect_refuses_python_objects(tmp_path: Path) -> None:
    path = _zip_with(tmp_path / "x.npz", "evil.npy", _npy(np.array([{"x": 1}], dtype=object)))
    with pytest.raises(ValueError, match=r"^member 'evil.npy' holds Python objects$"):
        checkpoint._inspect(path)


def test_inspect_refuses_a_member_bigger_than_its_header_declares(tmp_path: Path) -> None:
    honest = _npy(np.zeros(4, np.float32))
    # 4 floats declared: up to 16 + 4096 bytes in all (header included) pass, one more does not.
    _zip_with(tmp_path / "ok.npz", "a.npy", honest.ljust(16 + 4096, b"\0"))
    assert checkpoint._inspect(tmp_path / "ok.npz")["a"] == ((4,), np.dtype(np.float32))
    _zip_with(tmp_path / "big.npz", "a.npy", honest.ljust(16 + 4096 + 1, b"\0"))
    with pytest.raises(ValueError, match=r"^member 'a.npy' is larger than its header says$"):
        checkpoint._inspect(tmp_path / "big.npz")


def test_inspect_does_not_decompress_a_huge_array(tmp_path: Path) -> None:
    # A header that claims 2**31 floats, with no data: refusing it must not read or allocate.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (1 << 31,)})
    path = _zip_with(tmp_path / "huge.npz", "model/fc.weight.npy", header.getvalue())
    assert checkpoint._inspect(path) == {"model/fc.weight": ((1 << 31,), np.dtype(np.float32))}


_META_OK = _meta_bytes({})


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({}, "no metadata"),
        ({"__meta__": np.zeros(3, np.int8)}, "metadata is not a small UTF-8 text"),
        ({"__meta__": np.zeros((2, 2), np.uint8)}, "metadata is not a small UTF-8 text"),
    ],
)
def test_metadata_must_be_a_short_byte_string(members: dict, message: str, tmp_path: Path) -> None:
    layout = {k: (v.shape, v.dtype) for k, v in members.items()}
    with pytest.raises(ValueError, match=f"^{message}$"):
        checkpoint._check_layout(layout, None)


def test_metadata_size_limit_is_inclusive() -> None:
    limit = checkpoint.MAX_META_BYTES
    assert limit == 16 * 1024 * 1024
    checkpoint._check_layout({"__meta__": ((limit,), np.dtype(np.uint8))}, None)
    with pytest.raises(ValueError, match="small UTF-8"):
        checkpoint._check_layout({"__meta__": ((limit + 1,), np.dtype(np.uint8))}, None)


def _layout_of(model: _Tiny, optimizer=None) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    layout = {f"model/{k}": (tuple(v.shape), np.dtype(np.float32)) for k, v in model.state_dict().items()}
    if optimizer is not None:
        arrays, _ = checkpoint.optimizer_arrays(model, optimizer)
        layout.update({f"optim/{k}": (v.shape, v.dtype) for k, v in arrays.items()})
    layout["__meta__"] = ((2,), np.dtype(np.uint8))
    return layout


def test_the_layout_of_a_real_checkpoint_passes() -> None:
    model = _model()
    checkpoint._check_layout(_layout_of(model, _adam(model)), model)


def _edited(edit) -> dict:
    model = _model()
    layout = _layout_of(model, _adam(model))
    edit(layout)
    return layout


F32 = np.dtype(np.float32)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update({"model/a.extra": ((1,), F32), "model/z.extra": ((1,), F32)}), "unknown layer 'a.extra'"),
        (lambda m: (m.pop("model/fc.bias"), m.pop("model/bn.bias")), "missing layer 'bn.bias'"),
        (
            lambda m: m.update({"model/fc.weight": ((3, 4), F32)}),
            r"fc.weight has shape \[3, 4\], the model has \[4, 3\]",
        ),
        (lambda m: m.update({"model/bn._mean": ((4,), F32)}), r"bn._mean has shape \[4\], the model has \[3\]"),
        (lambda m: m.update({"stray": ((1,), F32)}), "unknown entry 'stray'"),
        (
            lambda m: m.update({"optim/fc.weight_moment1_0": ((4, 3), F32)}),
            "optimizer entry 'optim/fc.weight_moment1_0' names no parameter",
        ),
        (
            lambda m: m.update({"optim/fc.weight|": ((4, 3), F32)}),
            r"optimizer entry 'optim/fc.weight\|' names no parameter",
        ),
        (
            lambda m: m.update({"optim/ghost.weight|moment1_0": ((3,), F32)}),
            r"optimizer entry 'optim/ghost.weight\|moment1_0' names no parameter",
        ),
        (
            lambda m: m.update({"optim/fc.bias|moment1_0": ((4,), F32)}),
            r"optimizer entry 'optim/fc.bias\|moment1_0' has shape \[4\]",
        ),
        (
            lambda m: m.update({"optim/fc.bias|beta1_pow_acc_0": ((2,), F32)}),
            r"optimizer entry 'optim/fc.bias\|beta1_pow_acc_0' has shape \[2\]",
        ),
    ],
)
def test_a_layout_that_does_not_fit_the_model_is_named(edit, message: str) -> None:
    model = _model()
    with pytest.raises(checkpoint._Mismatch, match=f"^{message}$"):
        checkpoint._check_layout(_edited(edit), model)


def test_scalar_accumulators_may_have_any_shape_of_one_element() -> None:
    model = _model()
    layout = _layout_of(model, _adam(model))
    layout["optim/fc.weight|beta1_pow_acc_0"] = ((1, 1), F32)
    layout["optim/fc.bias|beta2_pow_acc_0"] = ((), F32)
    checkpoint._check_layout(layout, model)


@pytest.mark.parametrize(
    ("key", "dtype"),
    [
        ("model/fc.weight", np.float64),
        ("model/bn._mean", np.complex64),
        ("model/fc.bias", np.int8),
        ("model/fc.bias", ">f4"),  # float32, but big-endian
        ("optim/fc.weight|moment1_0", "<U3"),
        ("optim/fc.bias|beta1_pow_acc_0", "datetime64[s]"),
        ("model/bn._variance", [("a", "<f4")]),
    ],
)
def test_an_array_that_is_not_float32_is_refused_by_name(key: str, dtype, tmp_path: Path) -> None:
    """Hand-edited dtypes used to end in Paddle's `Variable dtype not match` traceback."""
    model = _model()
    optimizer = _adam(model)
    layout = _layout_of(model, optimizer)
    layout[key] = (layout[key][0], np.dtype(dtype))
    with pytest.raises(checkpoint._Mismatch, match=f"^{re.escape(key)} holds .* numbers, not float32$"):
        checkpoint._check_layout(layout, model)

    saved = tmp_path / "saved.npz"
    checkpoint.save(saved, model, optimizer, {})
    with np.load(saved) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays[key] = np.zeros(arrays[key].shape, dtype=dtype)
    edited = _archive(tmp_path / "edited.npz", **arrays)
    with pytest.raises(UserError, match=f"^{edited}: checkpoint does not match the model's parameters"):
        checkpoint.load(edited, _model(), _adam(_model()))


def test_a_checkpoint_that_is_not_a_regular_file_is_refused_without_reading(tmp_path: Path) -> None:
    model = _model()
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    with pytest.raises(UserError, match=f"^{fifo}: not a regular file \\(a FIFO\\)"):
        checkpoint.read(fifo, model)
    endless = tmp_path / "zero.npz"
    endless.symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(UserError, match=f"^{endless}: not a regular file \\(a device\\)"):
        checkpoint.read(endless, model)
    huge = tmp_path / "huge.npz"
    with open(huge, "wb") as handle:
        handle.truncate(checkpoint.MAX_CHECKPOINT_BYTES + 1)  # sparse: no disk used
    with pytest.raises(UserError, match=f"^{huge}: .* bytes, more than a lenet5 checkpoint can be"):
        checkpoint.read(huge, model)


# --- read: the one-line errors ----------------------------------------------------------


def test_read_names_the_file_and_the_problem(tmp_path: Path) -> None:
    model = _model()
    missing = tmp_path / "nothing.npz"
    with pytest.raises(UserError, match=f"^{missing}: checkpoint not found$"):
        checkpoint.read(missing, model)

    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    with pytest.raises(UserError, match=f"^{text}: not a readable lenet5 checkpoint \\(BadZipFile: "):
        checkpoint.read(text, model)

    other = tmp_path / "other.npz"
    checkpoint.save(other, paddle.nn.Linear(2, 2), None, {})
    expected = f"{other}: checkpoint does not match the model's parameters (unknown layer 'bias')"
    with pytest.raises(UserError) as caught:
        checkpoint.read(other, model)
    assert str(caught.value) == expected

    listing = _archive(tmp_path / "list.npz", __meta__=_meta_bytes([1, 2]))
    with pytest.raises(UserError, match=r"\(ValueError: metadata is not a JSON object\)$"):
        checkpoint.read(listing)

    latin = _archive(tmp_path / "latin.npz", __meta__=np.frombuffer(b'{"a": "\xe9"}', np.uint8))
    with pytest.raises(UserError, match="UnicodeDecodeError"):
        checkpoint.read(latin)

    not_json = _archive(tmp_path / "nojson.npz", __meta__=np.frombuffer(b"{oops", np.uint8))
    with pytest.raises(UserError, match=f"^{not_json}: not a readable lenet5 checkpoint \\(JSONDecodeError: "):
        checkpoint.read(not_json)


def test_read_refuses_a_pickle_even_without_a_model(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__meta__.npy", _npy(_META_OK))
        archive.writestr("evil.npy", _npy(np.array([{"x": 1}], dtype=object)))
    with pytest.raises(UserError, match=r"holds Python objects\)$"):
        checkpoint.read(path)


# --- metadata schemas -------------------------------------------------------------------


def _row(epoch: int) -> dict:
    return {
        "epoch": epoch, "steps": 10 * (epoch + 1), "train_cost": 0.5, "train_accuracy": 0.9,
        "val_cost": 0.4, "val_accuracy": 0.91, "test_cost": 0.45, "test_accuracy": 0.9,
        "train_seconds": 1.0, "images_per_second": 100.0,
    }  # fmt: skip


def _last(**changes) -> dict:
    best = {"epoch": 1, "val_cost": 0.4, "val_accuracy": 0.91, "test_cost": 0.45, "test_accuracy": 0.9}
    return {"history": [_row(0), _row(1)], "best": best, "wall_seconds": 3.0, **changes}


def test_a_consistent_last_meta_passes_unchanged(tmp_path: Path) -> None:
    meta = _last(extra_field="kept")
    assert checkpoint.validate_meta(tmp_path / "l.npz", meta, checkpoint.LastMeta) is meta
    assert checkpoint.validate_meta("x", {"history": [], "best": None, "wall_seconds": 0}, checkpoint.LastMeta)


@pytest.mark.parametrize(
    ("meta", "where_and_what"),
    [
        (_last(history=[_row(0), _row(2)]), "metadata: history: epochs are not 0, 1, 2, ..."),
        (_last(history=[_row(1), _row(0)]), "metadata: history: epochs are not 0, 1, 2, ..."),
        (_last(best=None), "metadata: best: does not name a completed epoch"),
        (_last(best={**_last()["best"], "epoch": 2}), "metadata: best: does not name a completed epoch"),
        ({**_last(), "history": [], "best": _last()["best"]}, "metadata: best: does not name a completed epoch"),
        (_last(wall_seconds=-1), "wall_seconds: Input should be greater than or equal to 0"),
        (_last(history=[{**_row(0), "epoch": -1}]), "history.0.epoch: Input should be greater than or equal to 0"),
        (_last(history=[{**_row(0), "steps": -1}]), "history.0.steps: Input should be greater than or equal to 0"),
        (_last(best={**_last()["best"], "epoch": -1}), "best.epoch: Input should be greater than or equal to 0"),
        ({k: v for k, v in _last().items() if k != "best"}, "best: Field required"),
    ],
)
def test_an_inconsistent_last_meta_is_one_line(meta: dict, where_and_what: str) -> None:
    with pytest.raises(UserError) as caught:
        checkpoint.validate_meta("run/last.npz", meta, checkpoint.LastMeta)
    assert str(caught.value) == f"run/last.npz: not a usable lenet5 checkpoint ({where_and_what})"


def test_best_meta_needs_a_non_negative_epoch() -> None:
    assert checkpoint.validate_meta("b", {"epoch": 0}, checkpoint.BestMeta) == {"epoch": 0}
    with pytest.raises(UserError, match=r"^b: not a usable lenet5 checkpoint \(epoch: Input should be greater"):
        checkpoint.validate_meta("b", {"epoch": -1}, checkpoint.BestMeta)


# --- load -------------------------------------------------------------------------------


def test_load_restores_the_model_and_returns_the_metadata(tmp_path: Path) -> None:
    trained = _model(1)
    _adam(trained, steps=3)  # moves the weights and batch-norm statistics away from their start
    checkpoint.save(tmp_path / "c.npz", trained, None, {"epoch": 4})
    fresh = _model(2)
    assert checkpoint.load(tmp_path / "c.npz", fresh, schema=checkpoint.BestMeta) == {"epoch": 4}
    for name, value in _state(trained).items():
        np.testing.assert_array_equal(_state(fresh)[name], value, err_msg=name)


def test_load_checks_the_schema_before_touching_the_model(tmp_path: Path) -> None:
    checkpoint.save(tmp_path / "c.npz", _model(1), None, {"no_epoch": True})
    fresh = _model(2)
    before = _state(fresh)
    with pytest.raises(UserError) as caught:
        checkpoint.load(tmp_path / "c.npz", fresh, schema=checkpoint.BestMeta)
    assert str(caught.value) == f"{tmp_path / 'c.npz'}: not a usable lenet5 checkpoint (epoch: Field required)"
    for name, value in before.items():
        np.testing.assert_array_equal(_state(fresh)[name], value)
    assert checkpoint.load(tmp_path / "c.npz", fresh) == {"no_epoch": True}  # no schema: any object


def test_a_resumed_optimizer_continues_exactly_like_the_uninterrupted_one(tmp_path: Path) -> None:
    x = paddle.to_tensor(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4))

    def step(model, optimizer) -> None:
        model(x).square().mean().backward()
        optimizer.step()
        optimizer.clear_grad()
        optimizer._learning_rate.step()

    model = _model(3)
    optimizer = _adam(model, steps=2)
    checkpoint.save(tmp_path / "c.npz", model, optimizer, {"epoch": 1})
    step(model, optimizer)

    resumed = _model(4)
    resumed_optimizer = _adam(resumed, steps=1)  # different moments and schedule: all overwritten
    meta = checkpoint.load(tmp_path / "c.npz", resumed, resumed_optimizer)
    assert meta["epoch"] == 1 and "optimizer_extras" in meta
    assert resumed_optimizer.get_lr() == pytest.approx(0.1 * 0.5**2)
    step(resumed, resumed_optimizer)
    for name, value in _state(model).items():
        np.testing.assert_array_equal(_state(resumed)[name], value, err_msg=name)  # the same path: bit for bit


def test_load_refuses_optimizer_extras_that_are_not_an_object(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "c.npz"
    checkpoint.save(path, model, _adam(model), {})
    arrays, meta = checkpoint.read(path, model)
    _archive(path, **arrays, __meta__=_meta_bytes({**meta, "optimizer_extras": [1]}))
    with pytest.raises(UserError) as caught:
        checkpoint.load(path, model, _adam(model))
    assert str(caught.value) == f"{path}: not a usable lenet5 checkpoint (optimizer_extras is not an object)"


@pytest.mark.parametrize(("scheduler_state", "error"), [(5, "TypeError"), ({"last_epoch": 3}, "RuntimeError")])
def test_load_turns_an_optimizer_that_does_not_fit_into_one_line(scheduler_state, error: str, tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "c.npz"
    checkpoint.save(path, model, _adam(model), {})
    arrays, meta = checkpoint.read(path, model)
    _archive(path, **arrays, __meta__=_meta_bytes({**meta, "optimizer_extras": {"LR_Scheduler": scheduler_state}}))
    with pytest.raises(UserError, match=f"^{path}: optimizer state does not fit \\({error}: "):
        checkpoint.load(path, model, _adam(model))


def test_load_refuses_another_models_checkpoint_before_touching_the_model(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    checkpoint.save(path, paddle.nn.Linear(4, 3), None, {"epoch": 0})  # fc-shaped, but not _Tiny
    model = _model()
    before = _state(model)
    with pytest.raises(UserError) as caught:
        checkpoint.load(path, model)
    assert str(caught.value) == f"{path}: checkpoint does not match the model's parameters (unknown layer 'bias')"
    for name, value in before.items():
        np.testing.assert_array_equal(_state(model)[name], value)


def test_a_checkpoint_without_optimizer_state_restores_no_optimizer_state(tmp_path: Path) -> None:
    """best.npz holds no optimizer state. Loaded with a plain Adam at hand, only the model is
    restored; with a scheduled Adam (whose schedule Paddle insists on) it is one line."""
    trained = _model(1)
    path = tmp_path / "best.npz"
    checkpoint.save(path, trained, None, {"epoch": 2})
    fresh = _model(2)
    plain = paddle.optimizer.Adam(learning_rate=0.1, parameters=fresh.parameters())
    assert checkpoint.load(path, fresh, plain) == {"epoch": 2}
    np.testing.assert_array_equal(fresh.fc.weight.numpy(), trained.fc.weight.numpy())
    with pytest.raises(UserError, match=f"^{path}: optimizer state does not fit \\(AssertionError: LR_Scheduler"):
        checkpoint.load(path, fresh, _adam(fresh, steps=0))
