"""Every training setting is declared once (lenet5.settings.TrainSettings): the flags, the
recipes, config.json, the model card and /api/model all follow from that declaration."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import Field

from conftest import DATA_DIR, REPO, TINY, one_error_line
from lenet5 import settings
from lenet5.cli import main
from lenet5.errors import UserError
from lenet5.settings import Setting, from_recipe, recipe

WARMUP_HELP = "epochs of linear learning-rate warm-up (a setting added by a test)"


class WithWarmup(settings.TrainSettings):
    """A setting someone might add, declared as every other one is."""

    warmup: Annotated[int, Field(ge=0), Setting(WARMUP_HELP, recipes={"strong": 2})] = 0


def test_a_new_setting_reaches_the_flags_the_config_and_the_card_with_no_other_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(settings, "TrainSettings", WithWarmup)
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--warmup WARMUP" in help_text and WARMUP_HELP in help_text and "recipe strong 2" in help_text
    assert from_recipe("strong").warmup == 2 and from_recipe("seed").warmup == 0

    run = tmp_path / "run"
    tiny = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    assert main(["train", *tiny, "--warmup", "3", "--data-dir", str(DATA_DIR), "--out", str(run), "--json"]) == 0
    assert json.loads((run / "config.json").read_text())["train"]["warmup"] == 3
    assert f"| `warmup` | 3 | {WARMUP_HELP} |" in (run / "model" / "README.md").read_text()
    assert json.loads((run / "model" / "lenet5.json").read_text())["training"]["warmup"] == 3  # /api/model's source
    assert main(["train", "--warmup", "-1", "--out", str(tmp_path / "bad")]) == 2  # its bounds are checked
    assert one_error_line(capsys.readouterr().err) == "error: --warmup -1: must be at least 0"


def test_recipes_are_read_off_the_fields() -> None:
    """The published recipes, as literals (LeCun et al. 1998 and the article)."""
    paper = recipe("paper")
    assert (paper.model, paper.optimizer, paper.lr, paper.batch_size, paper.epochs, paper.loss) == (
        "lenet5", "sdlm", 1.5e-4, 1, 20, "map",
    )  # fmt: skip
    assert (paper.init, paper.distort, paper.distort_fraction) == ("sqrt", False, 1.0)  # 0.5 only with --distort
    seed = recipe("seed")
    assert (seed.model, seed.optimizer, seed.lr, seed.batch_size, seed.epochs) == ("seed", "adam", 1e-3, 128, 10)
    assert from_recipe("paper", distort=True).distort_fraction == 0.5
    assert from_recipe("paper", model="seed", optimizer="adam", loss="cross_entropy").init == "paper"
    assert from_recipe(None, model="lenet5").recipe == "paper"  # a network's own recipe


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"epochs": "3"}, "train.epochs: expected a whole number (got '3')"),
        ({"epochs": 2.5}, "train.epochs: expected a whole number (got 2.5)"),
        ({"epochs": None}, "train.epochs: expected a whole number (got None)"),
        ({"batch_size": "x"}, "train.batch_size: expected a whole number (got 'x')"),
        ({"seed": -1}, "train.seed: must be between 0 and 18446744073709551615 (got -1)"),
        ({"seed": 2**70}, "train.seed: must be between 0 and 18446744073709551615"),
        ({"lr": "fast"}, "train.lr: expected a number"),
        ({"optimizer": "rmsprop"}, "train.optimizer: choose from"),
        ({"colour": "red"}, "train.colour: not a lenet5 training setting"),
    ],
)
def test_a_hand_edited_config_is_one_line_naming_the_setting(edit: dict, message: str, tmp_path: Path) -> None:
    from lenet5.store.run_dir import RunDir

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"train": {**TINY, **edit}}))
    with pytest.raises(UserError) as caught:
        RunDir(run).read_settings()
    assert str(caught.value).startswith(f"{run / 'config.json'}: {message}")
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2  # resume says the same, no traceback


def test_no_function_in_the_package_is_over_60_lines() -> None:
    long = []
    for path in (REPO / "src" / "lenet5").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
    assert not long, long


def test_run_files_are_named_only_in_the_store() -> None:
    """Nothing outside lenet5.store spells a run directory's or a model folder's file names."""
    names = ('"config.json"', '"summary.json"', '"metrics.jsonl"', '"lenet5.json"', '"best.npz"', '"last.npz"')
    spelled = []
    for path in (REPO / "src" / "lenet5").rglob("*.py"):
        if "store" in path.parts:
            continue
        text = path.read_text()
        spelled += [f"{path.relative_to(REPO)}: {name}" for name in names if name in text]
    assert not spelled, spelled
