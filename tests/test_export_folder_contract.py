"""`lenet5.export.folder` on the shipped seed model and hand-made runs around copies of it:
what an export holds, what it records as its source, and which folders `--force` may
replace (no training: `make mutation` runs these against that module)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import tiny_config
from lenet5.errors import UserError
from lenet5.export.folder import export_folder
from lenet5.store.model_folder import PRETRAINED
from lenet5.store.run_dir import RunDir

SEED = PRETRAINED / "seed"


def _meta(folder: Path) -> dict:
    return json.loads((folder / "lenet5.json").read_text())


def _run_around_seed(
    root: Path, finished: bool = True, recipe: str | None = "strong", meta_recipe: bool = True, val: float = 0.9
) -> Path:
    """A run directory whose model/ is a copy of the seed model (ONNX left out)."""
    (root / "model").mkdir(parents=True)
    for name in ("inference.json", "inference.pdiparams", "lenet5.json"):
        shutil.copyfile(SEED / name, root / "model" / name)
    meta = _meta(root / "model")
    if not meta_recipe:
        del meta["recipe"]
    (root / "model" / "lenet5.json").write_text(json.dumps(meta))
    run = RunDir(root)
    run.write_config(tiny_config(recipe=recipe))
    if finished:
        run.write_summary({"best_epoch": 1, "val_accuracy": val, "test_accuracy": 0.9})
    return root


def test_a_paddle_export_is_the_model_its_description_and_card(tmp_path: Path) -> None:
    out = export_folder("seed", "paddle", tmp_path / "out")
    assert out == tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "inference.json",
        "inference.pdiparams",
        "lenet5.json",
    ]
    for name in ("inference.json", "inference.pdiparams"):
        assert (out / name).read_bytes() == (SEED / name).read_bytes()
    meta = _meta(out)
    assert meta["backend"] == "paddle" and meta["source"] == [str(SEED.resolve())]
    assert {k: v for k, v in meta.items() if k not in ("backend", "source")} == {
        k: v for k, v in _meta(SEED).items() if k != "backend"
    }
    text = (out / "lenet5.json").read_text()
    assert text.endswith("}\n") and '\n  "format"' in text
    assert "Paddle Inference" in (out / "README.md").read_text()


def test_an_onnx_export_holds_only_the_onnx_graph(tmp_path: Path) -> None:
    out = export_folder(SEED, "onnx", tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "lenet5.json", "model.onnx"]
    assert _meta(out)["backend"] == "onnx"


def test_a_both_export_loads_and_runs_each_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lenet5.infer.backends as backends

    loaded = []
    real = backends.load_backend

    def spy(folder: Path, backend: str, label: object = None):
        loaded.append((backend, label))
        return real(folder, backend, label=label)

    monkeypatch.setattr(backends, "load_backend", spy)
    out = export_folder(SEED, "both", tmp_path / "out")
    assert loaded == [("onnx", SEED), ("paddle", SEED)]
    assert {"model.onnx", "inference.json", "inference.pdiparams"} <= {p.name for p in out.iterdir()}
    assert _meta(out)["backend"] == "both"


def test_an_unknown_format_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError) as excinfo:
        export_folder(SEED, "tflite", tmp_path / "out")
    assert str(excinfo.value) == "--format tflite: choose 'paddle', 'onnx' or 'both'"
    assert not (tmp_path / "out").exists()


def test_a_model_is_never_exported_onto_itself(tmp_path: Path) -> None:
    copy = tmp_path / "m"
    shutil.copytree(SEED, copy)
    (copy / "lenet5.json").write_text(json.dumps({**_meta(SEED), "source": [str(copy.resolve())]}))
    with pytest.raises(UserError) as excinfo:
        export_folder(copy, "paddle", tmp_path / "." / "m", force=True)
    assert str(excinfo.value) == f"{tmp_path / 'm'}: is the model being exported; choose a new folder"


def test_a_finished_runs_model_records_the_run(tmp_path: Path) -> None:
    run = _run_around_seed(tmp_path / "run", meta_recipe=False, val=0.9123)
    out = export_folder(run, "paddle", tmp_path / "out")
    meta = _meta(out)
    assert meta["source"] == [str(run.resolve())]
    assert meta["recipe"] == "strong"  # taken from the run when the model does not say
    assert "(validation accuracy 91.23%)" in (out / "README.md").read_text()


def test_the_models_own_recipe_wins_and_a_run_without_one_adds_none(tmp_path: Path) -> None:
    run = _run_around_seed(tmp_path / "run", recipe="seed")
    assert _meta(export_folder(run, "paddle", tmp_path / "a"))["recipe"] == "strong"
    bare = _run_around_seed(tmp_path / "bare", recipe=None, meta_recipe=False)
    assert "recipe" not in _meta(export_folder(bare, "paddle", tmp_path / "b"))


def test_an_unfinished_runs_model_records_the_folder(tmp_path: Path) -> None:
    run = _run_around_seed(tmp_path / "run", finished=False)
    out = export_folder(run / "model", "paddle", tmp_path / "out")
    assert _meta(out)["source"] == [str((run / "model").resolve())]
    assert "validation accuracy" not in (out / "README.md").read_text()


def test_the_card_describes_the_runs_given(tmp_path: Path) -> None:
    runs = [_run_around_seed(tmp_path / "r1", val=0.8111), _run_around_seed(tmp_path / "r2", val=0.8222)]
    out = export_folder(SEED, "paddle", tmp_path / "out", run_dirs=runs)
    assert _meta(out)["source"] == [str(r.resolve()) for r in runs]
    assert "(validation accuracy 81.11%)" in (out / "README.md").read_text()


def test_force_replaces_an_export_of_the_same_source_only(tmp_path: Path) -> None:
    out = export_folder(SEED, "paddle", tmp_path / "out")
    with pytest.raises(UserError, match="add --force"):
        export_folder(SEED, "paddle", out)
    assert export_folder(SEED, "onnx", out, force=True) == out
    assert _meta(out)["backend"] == "onnx"
    run = _run_around_seed(tmp_path / "run")
    with pytest.raises(UserError) as excinfo:
        export_folder(run, "paddle", out, force=True)
    assert str(excinfo.value) == (
        f"{out}: holds the model of {SEED.resolve()}; --force only replaces an export of the same run"
    )
    assert _meta(out)["backend"] == "onnx"


def test_the_order_of_several_sources_does_not_matter(tmp_path: Path) -> None:
    runs = [_run_around_seed(tmp_path / "r1"), _run_around_seed(tmp_path / "r2")]
    out = export_folder(SEED, "paddle", tmp_path / "out", run_dirs=runs)
    assert export_folder(SEED, "paddle", out, force=True, run_dirs=runs[::-1]) == out
    with pytest.raises(UserError) as excinfo:
        export_folder(SEED, "paddle", out, force=True, run_dirs=runs[:1])
    assert str(excinfo.value) == (
        f"{out}: holds the model of {runs[1].resolve()}, {runs[0].resolve()};"  # as recorded, by the second export
        " --force only replaces an export of the same run"
    )


def test_an_export_without_a_recorded_source(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    for name in ("inference.json", "inference.pdiparams", "lenet5.json"):
        shutil.copyfile(SEED / name, old / name)
    with pytest.raises(UserError) as excinfo:
        export_folder(SEED, "paddle", old, force=True)
    assert str(excinfo.value) == (
        f"{old}: holds an export that does not say what it was made from; remove it or choose a new folder"
    )


def test_a_runs_own_model_folder_is_that_runs(tmp_path: Path) -> None:
    run = _run_around_seed(tmp_path / "run")
    # a run's model/ records no source: it is implied by the run around it
    with pytest.raises(UserError, match=f"holds the model of {run.resolve()};"):
        export_folder(SEED, "paddle", run / "model", force=True)


def test_a_damaged_description_in_the_target_is_no_source(tmp_path: Path) -> None:
    out = export_folder(SEED, "paddle", tmp_path / "out")
    (out / "lenet5.json").write_text('{"format": "lenet5-model/1", "model": "unknown"}')
    with pytest.raises(UserError, match="does not say what it was made from"):
        export_folder(SEED, "paddle", out, force=True)


def test_an_empty_target_folder_is_fine(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    assert export_folder(SEED, "paddle", tmp_path / "out") == tmp_path / "out"


def test_a_missing_graph_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(SEED, broken)
    (broken / "inference.pdiparams").unlink()
    with pytest.raises(UserError) as excinfo:
        export_folder(broken, "paddle", tmp_path / "out")
    assert str(excinfo.value) == f"{broken / 'inference.pdiparams'}: no such file"


@pytest.mark.parametrize(
    "summary",
    [{"val_accuracy": 0.9, "test_accuracy": 0.9}, {"best_epoch": "1", "val_accuracy": 0.9, "test_accuracy": 0.9}],
)
def test_a_hand_edited_summary_is_one_line_not_a_key_error(tmp_path: Path, summary: dict) -> None:
    run = RunDir(_run_around_seed(tmp_path / "run"))
    run.summary.write_text(json.dumps(summary))
    with pytest.raises(UserError, match=r'summary.json: not a lenet5 run summary \("best_epoch"'):
        run.read_summary()


def test_a_model_that_does_not_run_is_never_exported(tmp_path: Path) -> None:
    """Its files are all there but the parameters are cut short: the staged copy is loaded
    before anything is written, and that fails naming the model exported."""
    broken = tmp_path / "broken"
    shutil.copytree(SEED, broken)
    params = (broken / "inference.pdiparams").read_bytes()
    (broken / "inference.pdiparams").write_bytes(params[: len(params) // 2])
    with pytest.raises(UserError) as excinfo:
        export_folder(broken, "paddle", tmp_path / "out")
    assert str(excinfo.value) == f"{broken}: Paddle Inference cannot load the model (RuntimeError)"
    assert not (tmp_path / "out").exists()


def test_a_failed_write_into_the_output_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills while the card is written: one line naming the output, nothing left."""
    import errno

    real = Path.write_text

    def full(self: Path, text: str, *args: object, **kwargs: object) -> int:
        if self.name == "README.md":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    out = tmp_path / "out"
    with pytest.raises(UserError) as excinfo:
        export_folder(SEED, "paddle", out)
    assert str(excinfo.value) == f"{out}: cannot write (No space left on device)"
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == []
