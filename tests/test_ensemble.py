"""`lenet5 export RUN RUN ...`: several runs' networks shipped as one averaging model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA_DIR, assert_accuracy_up_to_ties, one_error_line, quiet, tiny_config
from lenet5.cli import main


@pytest.fixture(scope="module")
def second_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run like `trained_run` but from another seed: a different network."""
    from lenet5.train.loop import train

    out = tmp_path_factory.mktemp("runs") / "tiny-seed1"
    train(tiny_config(seed=1), out, echo=quiet, progress=False)
    return out


def _test_digits(count: int) -> tuple[np.ndarray, np.ndarray]:
    from lenet5.data import mnist

    data = mnist.load(DATA_DIR)
    return data.test_images[:count], data.test_labels[:count]


def test_the_average_is_the_mean_of_the_networks_and_scores_what_its_card_says(
    trained_run: Path, second_run: Path, tmp_path: Path
) -> None:
    from lenet5.infer.backends import load_backend, predict_batched

    out = tmp_path / "average"
    assert main(["export", str(trained_run), str(second_run), "--format", "both", "--out", str(out)]) == 0
    images, labels = _test_digits(500)  # the tiny runs were scored on the first 500
    alone = []
    for run in (trained_run, second_run):
        runner = load_backend(run / "model", "paddle")
        alone.append(predict_batched(runner, runner.meta.normalize(images)))
    assert np.abs(alone[0] - alone[1]).max() > 1e-3  # two different networks, or the test proves nothing
    wanted = (alone[0] + alone[1]) / 2
    for backend in ("paddle", "onnx"):
        runner = load_backend(out, backend)
        got = predict_batched(runner, runner.meta.normalize(images))
        assert np.abs(got - wanted).max() < 1e-5, backend
        assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
    meta = json.loads((out / "lenet5.json").read_text())
    accuracy = float((wanted.argmax(axis=1) == labels).mean())
    # Measured at export on the averaging graph, here as a NumPy mean: equal but for near
    # ties (the two differ by under 1e-5, asserted above).
    assert_accuracy_up_to_ties(meta["test_accuracy"], wanted, labels, 2e-5)
    assert [m["seed"] for m in meta["members"]] == [0, 1] and meta["test_limit"] == 500
    card = (out / "README.md").read_text()
    assert f"Test accuracy of the average: {100 * accuracy:.2f}%" in card
    assert f"run `{trained_run}`" in card and f"run `{second_run}`" in card
    assert card.count("- Recipe `") == 2 and "Network 2 of 2" in card


def test_what_cannot_be_averaged_is_refused_in_one_line(
    trained_run: Path, second_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other-network"
    shutil.copytree(trained_run, other)
    config = json.loads((other / "config.json").read_text())
    config["train"]["model"] = "lenet5"
    (other / "config.json").write_text(json.dumps(config))
    unfinished = tmp_path / "unfinished"
    shutil.copytree(second_run, unfinished)
    (unfinished / "summary.json").unlink()
    other_digits = tmp_path / "other-test-digits"
    shutil.copytree(second_run, other_digits)
    config = json.loads((other_digits / "config.json").read_text())
    assert config["train"]["train_limit"] == 2000  # the same training limit: only the test digits differ
    config["train"]["test_limit"] = 400
    (other_digits / "config.json").write_text(json.dumps(config))
    user_folder = tmp_path / "mine"
    user_folder.mkdir()
    (user_folder / "notes.txt").write_text("keep me")
    cases = [
        ([trained_run, trained_run], "the same run is given twice"),
        ([trained_run, f"{trained_run}/"], "the same run is given twice"),
        ([trained_run, other_digits], "scored on other test digits"),
        ([trained_run, other], "a different network"),
        ([trained_run, trained_run / "model"], "not a training run directory"),
        ([trained_run, unfinished], "has not finished"),
    ]
    for runs, problem in cases:
        out = tmp_path / "never"
        assert main(["export", *map(str, runs), "--out", str(out)]) == 2
        assert problem in one_error_line(capsys.readouterr().err)
        assert not out.exists()
    assert main(["export", str(trained_run), str(second_run), "--out", str(user_folder), "--force"]) == 2
    assert "not written by lenet5" in one_error_line(capsys.readouterr().err)
    assert (user_folder / "notes.txt").read_text() == "keep me" and len(list(user_folder.iterdir())) == 1


def test_export_force_replaces_only_an_export_of_the_same_run(
    trained_run: Path, second_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`export RUN2 --out RUN1/model --force` would leave RUN1 with a model that is not its own."""
    run1 = tmp_path / "run1"
    shutil.copytree(trained_run, run1)
    own_model = {p.name: p.read_bytes() for p in (run1 / "model").iterdir()}
    assert main(["export", str(second_run), "--format", "onnx", "--out", str(run1 / "model"), "--force"]) == 2
    assert "--force only replaces an export of the same run" in one_error_line(capsys.readouterr().err)
    assert {p.name: p.read_bytes() for p in (run1 / "model").iterdir()} == own_model

    out = tmp_path / "exported"
    assert main(["export", str(run1), "--format", "onnx", "--out", str(out)]) == 0
    assert main(["export", str(run1), "--format", "paddle", "--out", str(out), "--force"]) == 0  # the same run: fine
    assert json.loads((out / "lenet5.json").read_text())["source"] == [str(run1.resolve())]
    assert main(["export", str(second_run), "--format", "onnx", "--out", str(out), "--force"]) == 2
    assert f"holds the model of {run1.resolve()}" in one_error_line(capsys.readouterr().err)
    assert json.loads((out / "lenet5.json").read_text())["backend"] == "paddle"
