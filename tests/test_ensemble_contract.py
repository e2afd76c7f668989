"""`lenet5.export.ensemble` on runs made by hand (untrained networks from different seeds,
checkpointed as a finished run would be): what is averaged, what is refused, and what the
folder's description says. No training: `make mutation` runs these against that module."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_config
from lenet5.errors import UserError
from lenet5.export.ensemble import export_ensemble

TEST_LIMIT = 40


def _fake_run(root: Path, seed: int, summary: dict | None = None, **overrides: object) -> Path:
    """A finished run of an untrained network: config, best checkpoint of `epoch` seed+1, summary."""
    import paddle

    from lenet5.models import network_for
    from lenet5.store import checkpoint
    from lenet5.store.run_dir import RunDir

    settings = tiny_config(seed=seed, **{"test_limit": TEST_LIMIT, **overrides})
    run = RunDir(root)
    root.mkdir(parents=True)
    run.write_config(settings)
    paddle.seed(seed)
    run.checkpoints.mkdir()
    checkpoint.save(run.best_checkpoint, network_for(settings), None, {"epoch": seed + 1})
    scores = {"best_epoch": seed + 1, "val_accuracy": 0.1, "test_accuracy": 0.1 + seed / 100}
    run.write_summary({**scores, **(summary or {})})
    return root


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("ensemble")
    first = _fake_run(base / "s0", 0, recipe="strong")
    return first, _fake_run(base / "s1", 1, summary={"digit_test_accuracy": 0.5, "test_accuracy": 0.4}, recipe="strong")


def test_the_average_is_the_mean_and_its_description_says_so(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    from lenet5.data import mnist
    from lenet5.infer.backends import load_backend, predict_batched
    from lenet5.models import network_for
    from lenet5.store import checkpoint
    from lenet5.store.run_dir import RunDir

    out = export_ensemble(list(two_runs), "paddle", tmp_path / "avg")
    assert out == tmp_path / "avg"
    data = mnist.load(tiny_config().data_dir)
    images, labels = data.test_images[:TEST_LIMIT], data.test_labels[:TEST_LIMIT]
    runner = load_backend(out, "paddle")
    inputs = runner.meta.normalize(images)
    alone = []
    for run in two_runs:
        settings = RunDir(run).read_settings()
        net = network_for(settings)
        checkpoint.load(RunDir(run).best_checkpoint, net, schema=checkpoint.BestMeta)
        net.eval()
        import paddle

        alone.append(paddle.nn.functional.softmax(net(paddle.to_tensor(inputs)), axis=1).numpy())
    assert np.abs(alone[0] - alone[1]).max() > 1e-3
    got = predict_batched(runner, inputs)
    np.testing.assert_allclose(got, (alone[0] + alone[1]) / 2, atol=1e-5)
    meta = json.loads((out / "lenet5.json").read_text())
    assert meta["test_accuracy"] == pytest.approx(float((got.argmax(axis=1) == labels).mean()), abs=1 / TEST_LIMIT)
    assert meta["test_limit"] == TEST_LIMIT and meta["recipe"] == "strong"
    assert meta["source"] == [str(run.resolve()) for run in two_runs]
    assert export_ensemble(list(two_runs), "paddle", out, force=True) == out  # --force reaches the export
    assert meta["members"] == [
        {"run": str(two_runs[0]), "recipe": "strong", "seed": 0, "epoch": 1, "test_accuracy": 0.1},
        {"run": str(two_runs[1]), "recipe": "strong", "seed": 1, "epoch": 2, "test_accuracy": 0.5},
    ]


def test_members_of_different_recipes_have_no_recipe(tmp_path: Path) -> None:
    runs = [_fake_run(tmp_path / "a", 0, recipe="strong"), _fake_run(tmp_path / "b", 1, recipe="seed")]
    out = export_ensemble(runs, "paddle", tmp_path / "avg")
    meta = json.loads((out / "lenet5.json").read_text())
    assert "recipe" not in meta and [m["recipe"] for m in meta["members"]] == ["strong", "seed"]


def test_runs_on_all_test_digits_carry_no_test_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lenet5.export import ensemble

    runs = [_fake_run(tmp_path / "a", 0, test_limit=None), _fake_run(tmp_path / "b", 1, test_limit=None)]
    seen = {}

    class Report:
        accuracy = 0.25

    def evaluate(folder: Path, data_dir: str, backend: str, limit: int | None) -> Report:
        seen.update(backend=backend, limit=limit, data_dir=data_dir)
        return Report()

    monkeypatch.setattr(ensemble, "evaluate_model", evaluate)
    meta = json.loads((export_ensemble(runs, "paddle", tmp_path / "avg") / "lenet5.json").read_text())
    assert "test_limit" not in meta and meta["test_accuracy"] == 0.25
    assert seen == {"backend": "paddle", "limit": None, "data_dir": str(tiny_config().data_dir)}


def _refusal(runs: list, tmp_path: Path) -> str:
    with pytest.raises(UserError) as excinfo:
        export_ensemble(runs, "paddle", tmp_path / "never")
    assert not (tmp_path / "never").exists()
    return str(excinfo.value)


def test_what_cannot_be_averaged_is_refused(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_runs
    assert _refusal([a], tmp_path) == "an average needs at least two runs"
    same = "the same run is given twice; an average of a network with itself is that network"
    assert _refusal([a, a], tmp_path) == same
    assert _refusal([a, b, f"{a}/"], tmp_path) == same
    assert _refusal([a, b, a.parent / ".." / a.parent.name / a.name], tmp_path) == same
    assert _refusal([a, tmp_path], tmp_path) == (
        f"{tmp_path}: not a training run directory (several networks are averaged from their runs' best checkpoints)"
    )
    unfinished = _fake_run(tmp_path / "unfinished", 2)
    (unfinished / "summary.json").unlink()
    assert _refusal([a, unfinished], tmp_path) == (
        f"{unfinished}: the run has not finished (no summary.json); finish it: lenet5 train --resume {unfinished}"
    )


def test_a_best_checkpoint_without_its_epoch_is_refused(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    import paddle

    from lenet5.models import network_for
    from lenet5.store import checkpoint
    from lenet5.store.run_dir import RunDir

    bad = _fake_run(tmp_path / "bad", 6, recipe="strong")
    paddle.seed(6)
    checkpoint.save(RunDir(bad).best_checkpoint, network_for(RunDir(bad).read_settings()), None, {"epoch": -1})
    message = _refusal([two_runs[0], bad], tmp_path)
    assert message.startswith(f"{bad / 'checkpoints' / 'best.npz'}: ") and "epoch" in message


def test_unlike_networks_are_refused(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_runs
    junk = _fake_run(tmp_path / "junk", 3, junk=1.0)
    assert _refusal([a, b, junk], tmp_path) == (
        f"{junk}: a different network from {a} (seed with 11 classes against seed with 10 classes);"
        " only like networks are averaged"
    )
    paper = _fake_run(tmp_path / "paper", 4, model="lenet5")
    assert _refusal([a, paper], tmp_path).startswith(
        f"{paper}: a different network from {a} (lenet5 with 10 classes against seed with 10 classes)"
    )
    other = _fake_run(tmp_path / "other-digits", 5, test_limit=TEST_LIMIT + 1)
    assert _refusal([a, b, other], tmp_path) == f"{other}: scored on other test digits than {a} (--test-limit)"
