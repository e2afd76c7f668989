"""Checkpoints someone crafted or damaged: one line naming the file, never a traceback,
and nothing decompressed before the keys and shapes are known to fit the model."""

from __future__ import annotations

import io
import json
import shutil
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA_DIR, one_error_line, tiny_config
from lenet5.cli import main
from lenet5.errors import UserError
from lenet5.models import network_for


def _with_meta(edit: Callable[[dict], object]) -> Callable[[dict[str, np.ndarray]], None]:
    def mutate(arrays: dict[str, np.ndarray]) -> None:
        meta = json.loads(arrays["__meta__"].tobytes())
        arrays["__meta__"] = np.frombuffer(json.dumps(edit(meta)).encode(), dtype=np.uint8)

    return mutate


def _rename_first_optimizer_key(arrays: dict[str, np.ndarray]) -> None:
    key = next(k for k in arrays if k.startswith("optim/"))
    arrays[key.replace("|", "_")] = arrays.pop(key)


def _crafted_run(trained_run: Path, folder: Path, mutate: Callable[[dict[str, np.ndarray]], None]) -> Path:
    run = folder / "run"
    shutil.copytree(trained_run, run)
    (run / "summary.json").unlink()
    last = run / "checkpoints" / "last.npz"
    with np.load(last) as archive:
        arrays = {k: archive[k] for k in archive.files}
    mutate(arrays)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    last.write_bytes(buffer.getvalue())
    return run


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_rename_first_optimizer_key, "names no parameter"),
        (lambda a: a.update({"model/ghost.weight": np.zeros(3, np.float32)}), "unknown layer 'ghost.weight'"),
        (lambda a: a.pop("model/fc.bias"), "missing layer 'fc.bias'"),
        (lambda a: a.update({"model/fc.bias": np.zeros(11, np.float32)}), "fc.bias has shape [11]"),
        (lambda a: a.update({"optim/fc.bias|moment1_0": np.zeros(99, np.float32)}), "has shape [99]"),
        (lambda a: a.update({"stray": np.zeros(1)}), "unknown entry 'stray'"),
        (lambda a: a.pop("__meta__"), "no metadata"),
        (_with_meta(lambda m: {k: v for k, v in m.items() if k != "history"}), "history: Field required"),
        (_with_meta(lambda m: [1, 2]), "metadata is not a JSON object"),
        (_with_meta(lambda m: {**m, "best": {"epoch": 7}}), "best."),
        (_with_meta(lambda m: {**m, "optimizer_extras": [1]}), "optimizer_extras"),
        (_with_meta(lambda m: {**m, "wall_seconds": "soon"}), "wall_seconds"),
    ],
)
def test_crafted_last_checkpoint_is_one_line(
    mutate, message: str, trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _crafted_run(trained_run, tmp_path, mutate)
    assert main(["train", "--resume", str(run)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(run / "checkpoints" / "last.npz") in line and message in line, line


def test_a_small_file_claiming_a_huge_array_is_refused_without_reading_it(trained_run: Path, tmp_path: Path) -> None:
    from lenet5.store import checkpoint

    run = _crafted_run(trained_run, tmp_path, lambda a: a.update({"model/fc.weight": np.zeros(1 << 28, np.float32)}))
    last = run / "checkpoints" / "last.npz"
    assert last.stat().st_size < 3_000_000  # 1 GiB of zeros compresses to about a megabyte
    model = network_for(tiny_config())
    tracemalloc.start()
    with pytest.raises(UserError, match=r"fc\.weight has shape \[268435456\]"):
        checkpoint.read(last, model)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50_000_000, f"{peak:,} bytes allocated"


def test_a_pickle_inside_a_checkpoint_is_refused(trained_run: Path, tmp_path: Path) -> None:
    from lenet5.store import checkpoint

    run = _crafted_run(trained_run, tmp_path, lambda a: a.update({"evil": np.array([{"x": 1}], dtype=object)}))
    with pytest.raises(UserError, match="holds Python objects"):
        checkpoint.read(run / "checkpoints" / "last.npz", network_for(tiny_config()))
    # Even without a model to check against, numpy is never allowed to unpickle.
    with pytest.raises(UserError, match="Python objects"):
        checkpoint.read(run / "checkpoints" / "last.npz")


def test_best_checkpoint_meta_is_checked(trained_run: Path, tmp_path: Path, capsys) -> None:
    from lenet5.store import checkpoint

    model = network_for(tiny_config())
    checkpoint.save(tmp_path / "best.npz", model, None, {"config": {}})
    with pytest.raises(UserError, match="epoch: Field required"):
        checkpoint.load(tmp_path / "best.npz", model, schema=checkpoint.BestMeta)


def test_ctrl_c_while_writing_a_checkpoint_says_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lenet5.store import checkpoint
    from lenet5.train import loop

    real_save = checkpoint.save
    calls = []

    def interrupted_save(path, *args, **kwargs):
        calls.append(Path(path).name)
        if len(calls) == 4:  # epoch 1's last.npz (epoch 0 wrote best + last, epoch 1 best)
            raise KeyboardInterrupt
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "save", interrupted_save)
    out = tmp_path / "run"
    args = ["train", "--train-limit", "600", "--val-size", "200", "--test-limit", "100", "--epochs", "2"]
    args += ["--batch-size", "64", "--data-dir", str(DATA_DIR), "--no-progress", "--out", str(out)]
    monkeypatch.setattr(loop, "plot_curves", lambda *a: None)
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "1 completed epoch(s) are saved" in err and f"lenet5 train --resume {out}" in err
    assert "Traceback" not in err
    monkeypatch.setattr(checkpoint, "save", real_save)
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert json.loads((out / "summary.json").read_text())["epochs"] == 2


def test_ctrl_c_during_the_export_says_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lenet5.train import loop

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    real = loop.save_model_folder
    monkeypatch.setattr(loop, "save_model_folder", interrupted)
    out = tmp_path / "run"
    args = ["train", "--train-limit", "600", "--val-size", "200", "--test-limit", "100", "--epochs", "1"]
    args += ["--batch-size", "64", "--data-dir", str(DATA_DIR), "--no-progress", "--out", str(out)]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert f"lenet5 train --resume {out}" in err and "Traceback" not in err
    assert not (out / "model").exists()
    monkeypatch.setattr(loop, "save_model_folder", real)
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert (out / "model" / "lenet5.json").is_file()


def test_ctrl_c_during_export_command(trained_run: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    from lenet5.export import folder as export

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "convert_to_onnx", interrupted)
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(tmp_path / "x")]) == 130
    assert "nothing was written" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and list(tmp_path.iterdir()) == []
