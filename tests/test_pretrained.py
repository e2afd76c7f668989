"""The models shipped inside the package: usable with no training, honest about their accuracy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import DATA_DIR, assert_accuracy_up_to_ties, assert_same_decisions
from lenet5.cli import main
from lenet5.store.model_folder import DEFAULT_MODEL, shipped_models


def test_the_default_model_is_shipped() -> None:
    shipped = shipped_models()
    assert DEFAULT_MODEL in shipped
    files = {p.name for p in shipped[DEFAULT_MODEL].iterdir()}
    assert {"inference.json", "inference.pdiparams", "model.onnx", "lenet5.json", "README.md"} <= files
    assert sum(p.stat().st_size for folder in shipped.values() for p in folder.iterdir()) < 2_000_000


PROBABILITY_TIE = 2e-4  # two runtimes' probabilities differ by less than 1e-4 (asserted below)


@pytest.mark.parametrize("name", sorted(shipped_models()))
def test_shipped_model_scores_exactly_its_card(name: str) -> None:
    """Each backend scores the test accuracy written on the model's card, on the bundled
    MNIST test set (exactly, but for near ties), and the two backends agree within 1e-4 on
    every probability and on every decision that is not a near tie."""
    from lenet5.data import mnist
    from lenet5.infer.backends import load_backend, predict_batched

    folder = shipped_models()[name]
    meta = json.loads((folder / "lenet5.json").read_text())
    data = mnist.load(DATA_DIR)
    results = {}
    for backend in ("paddle", "onnx"):
        runner = load_backend(folder, backend)
        results[backend] = predict_batched(runner, runner.meta.normalize(data.test_images))
    # The card's accuracy was measured at export, on another machine: another CPU's GEMM
    # rounds differently, so a digit whose two likeliest classes are within 2e-4 (twice the
    # largest difference allowed between the two runtimes, below) may have gone either way.
    assert_accuracy_up_to_ties(meta["test_accuracy"], results["paddle"], data.test_labels, PROBABILITY_TIE)
    assert np.abs(results["paddle"] - results["onnx"]).max() < 1e-4
    assert_same_decisions(results["paddle"], results["onnx"], PROBABILITY_TIE)
    card = (folder / "README.md").read_text()
    assert f"{100 * meta['test_accuracy']:.2f}%" in card and "Recipe `" in card and "Command: `lenet5 train" in card


def test_predict_needs_no_training_and_no_paddle(tmp_path: Path) -> None:
    """`lenet5 predict photo.png` with no --model reads the digit with the shipped model,
    through ONNX Runtime, without importing Paddle (which costs about a second)."""
    from lenet5.data import mnist

    images, labels = mnist.load(DATA_DIR).test_images, mnist.load(DATA_DIR).test_labels
    page = Image.new("L", (300, 240), 255)
    page.paste(Image.fromarray(255 - images[0]).resize((150, 150)), (70, 40))
    page.save(tmp_path / "photo.png")
    probe = (
        "import json, sys\n"
        "from lenet5.cli import main\n"
        f"status = main(['predict', {str(tmp_path / 'photo.png')!r}, '--json'])\n"
        "print(json.dumps({'status': status, 'paddle': 'paddle' in sys.modules}))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    lines = result.stdout.strip().splitlines()
    answer, state = json.loads(lines[0]), json.loads(lines[-1])
    assert state == {"status": 0, "paddle": False}, result.stderr
    assert answer["digit"] == int(labels[0]) and answer["warning"] is None


def test_models_lists_networks_and_shipped_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [n["name"] for n in listing["networks"]] == ["lenet5", "seed"]
    default = next(m for m in listing["shipped"] if m["default"])
    assert default["name"] == DEFAULT_MODEL and default["test_accuracy"] > 0.99
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "Shipped trained models" in text and f"{100 * default['test_accuracy']:.2f}%" in text
    assert "name" in text.splitlines()[1] and "test accuracy" in text  # columns have a header
    # Every shipped model says its recipe, the 1998 one too (its run predates the config's field).
    recipes = {m["name"]: m["recipe"] for m in listing["shipped"]}
    assert recipes == {"lenet5": "paper", "reader": "reader", "seed": "strong"}
    reader = next(m for m in listing["shipped"] if m["name"] == "reader")
    assert reader["networks_averaged"] == 2 and default["networks_averaged"] == 1  # the reader ships two seeds
    assert "the average of 2 networks" in next(line for line in text.splitlines() if line.strip().startswith("reader"))


def test_a_shipped_model_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lenet5.data import mnist

    Image.fromarray(255 - mnist.load(DATA_DIR).test_images[1]).save(tmp_path / "d.png")
    assert main(["predict", str(tmp_path / "d.png"), "--model", DEFAULT_MODEL, "--backend", "paddle", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["digit"] == int(mnist.load(DATA_DIR).test_labels[1])
    assert main(["predict", str(tmp_path / "d.png"), "--model", "nonesuch"]) == 2
    assert "shipped: " in capsys.readouterr().err


def _card_of_run(tmp_path: Path, config: dict, name: str = "reader") -> str:
    from lenet5.export.card import RunFacts, model_card
    from lenet5.store.model_folder import load_meta

    (tmp_path / "config.json").write_text(json.dumps(config))
    return model_card(load_meta(shipped_models()[name]), [RunFacts.of(tmp_path)], "both")


def test_the_card_says_what_the_reader_was_trained_on(tmp_path: Path) -> None:
    train = {"recipe": "reader", "optimizer": "adam", "lr": 0.002, "batch_size": 128, "epochs": 20}
    for extra, wanted, unwanted in (
        ({"junk": 0.5, "segmented": 0.25}, ["0.5 junk pieces per digit", "0.25 pieces per digit cut"], []),
        ({"junk": 0.5, "segmented": 0.0}, ["0.5 junk pieces per digit"], ["cut from lines", "passes over"]),
        ({"junk": 0.0}, [], ["junk pieces", "cut from lines", "passes over"]),
        (
            {"junk": 0.5, "segmented": 0.5, "line_epochs": 3, "lines": 5000},
            ["then 3 passes over 5,000 lines of digits", "reads lines of validation digits best"],
            [],
        ),
    ):
        card = _card_of_run(tmp_path, {"train": {**train, **extra}})
        prose = card.split("All settings of the run")[0]  # the table below names every setting
        assert all(text in prose for text in wanted), card
        assert not any(text in prose for text in unwanted), card
        # Every published setting is in the card's table, with its value.
        assert f"| `junk` | {extra['junk']:g} |" in card and "| `select_by` | cost |" in card


def test_a_hand_edited_config_is_refused_in_one_line_naming_the_setting(tmp_path: Path) -> None:
    from lenet5.errors import UserError

    with pytest.raises(UserError) as caught:
        _card_of_run(tmp_path, {"train": {"recipe": "reader", "junk": 0.5, "line_epochs": 2, "lines": "many"}})
    assert str(caught.value) == f"{tmp_path / 'config.json'}: train.lines: expected a whole number (got 'many')"


def test_a_run_older_than_the_recipe_field_is_carded_with_its_commands_recipe(tmp_path: Path) -> None:
    from lenet5.export.card import recipe_in_command

    train = {"model": "lenet5", "optimizer": "sdlm", "lr": 0.00015, "batch_size": 1, "epochs": 20, "loss": "map"}
    for command, recipe in (
        (["lenet5", "train", "--model", "lenet5", "--recipe", "paper", "--distort"], "paper"),
        (["lenet5", "train", "--recipe=strong"], "strong"),
        (["lenet5", "train", "--epochs", "3"], None),
    ):
        assert recipe_in_command(command) == recipe
        card = _card_of_run(tmp_path, {"train": train, "command": command}, "lenet5")
        assert f"Recipe `{recipe or 'custom'}`" in card
    card = _card_of_run(tmp_path, {"train": {**train, "recipe": "paper"}, "command": command}, "lenet5")
    assert "Recipe `paper`" in card


def test_a_folder_named_like_a_shipped_model_wins_in_the_working_directory(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--model seed` with a folder `seed` here means that folder: what the user has is what they mean."""
    import shutil

    from lenet5.store.model_folder import resolve_model_folder

    assert resolve_model_folder("seed") == shipped_models()["seed"]
    monkeypatch.chdir(tmp_path)
    shutil.copytree(trained_run / "model", tmp_path / "seed")
    assert resolve_model_folder("seed") == Path("seed")
    assert resolve_model_folder("seed").resolve() == (tmp_path / "seed").resolve()
    (tmp_path / "reader").mkdir()  # a folder that is not a model: one line, not the shipped one
    with pytest.raises(Exception, match="reader: not a run directory or model folder"):
        resolve_model_folder("reader")
