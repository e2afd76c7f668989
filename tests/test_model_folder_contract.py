"""`lenet5.store.model_folder`: the model description's checks, and how a model folder is
found, on hand-made folders (no Paddle, no training: `make mutation` runs these)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from lenet5.data.normalize import NORMALIZATIONS
from lenet5.errors import UserError
from lenet5.store import model_folder
from lenet5.store.model_folder import (
    META_FILE,
    PRETRAINED,
    ModelMeta,
    detect_backend,
    is_model_folder,
    load_meta,
    resolve_model_folder,
    shipped_models,
    shipped_name,
    validate_meta,
)

SEED_META = json.loads((PRETRAINED / "seed" / META_FILE).read_text())
PAPER_META = {
    "format": "lenet5-model/1",
    "model": "lenet5",
    "normalization": {"name": "paper", "scale": 1.275, "offset": -0.1, "size": 32},
    "input": {"name": "image", "shape": [None, 1, 32, 32]},
}


def _edited(**changes: object) -> dict:
    meta = copy.deepcopy(SEED_META)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = meta
        for key in parents:
            node = node[key]
        node[last] = value
    return meta


def _problem(raw: object) -> str:
    with pytest.raises(UserError) as excinfo:
        validate_meta(raw, "M/lenet5.json")
    return str(excinfo.value)


def test_both_networks_descriptions_are_valid() -> None:
    assert validate_meta(SEED_META, "x").model == "seed"
    assert validate_meta(PAPER_META, "x").model == "lenet5"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"model": "resnet"}, "model: unknown network 'resnet' (known: lenet5, seed)"),
        ({"normalization__name": "paper"}, "normalization.name: 'paper' does not match network 'seed' ('seed')"),
        ({"normalization__scale": 1.0}, "normalization.scale: 1.0 does not match network 'seed' (2.0)"),
        ({"normalization__offset": 0.0}, "normalization.offset: 0.0 does not match network 'seed' (-1.0)"),
        ({"normalization__size": 32}, "normalization.size: 32 does not match network 'seed' (28)"),
        (
            {"input__shape": [None, 1, 32, 32]},
            "input.shape: [None, 1, 32, 32] does not match network 'seed' ([None, 1, 28, 28])",
        ),
        ({"input__shape": [1, 1, 28, 28]}, "input.shape: [1, 1, 28, 28] does not match"),
    ],
)
def test_a_description_that_contradicts_its_network_is_one_line(changes: dict, problem: str) -> None:
    message = _problem(_edited(**changes))
    assert message.startswith(f"M/lenet5.json: invalid model description ({problem}")
    assert "\n" not in message and "Value error" not in message


def test_a_field_error_names_the_field() -> None:
    assert _problem(_edited(epoch=-1)) == (
        "M/lenet5.json: invalid model description (epoch: Input should be greater than or equal to 0)"
    )
    assert _problem(_edited(output__shape="x")).startswith("M/lenet5.json: invalid model description (output.shape: ")


def test_a_description_that_is_not_an_object() -> None:
    assert _problem([1, 2]) == "M/lenet5.json: invalid model description (expected a JSON object, got list)"


def test_the_normalization_and_classes_come_from_the_description() -> None:
    meta = validate_meta(SEED_META, "x")
    digits = np.random.default_rng(0).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(meta.normalize(digits), NORMALIZATIONS["seed"](digits))
    assert meta.classes == 10
    assert validate_meta(_edited(output__shape=[None, 11]), "x").classes == 11
    assert validate_meta(_edited(output__shape=[None, None]), "x").classes == 10
    no_output = copy.deepcopy(SEED_META)
    del no_output["output"]
    assert validate_meta(no_output, "x").classes == 10
    paper = validate_meta(PAPER_META, "x")
    np.testing.assert_array_equal(paper.normalize(digits), NORMALIZATIONS["paper"](digits))


def test_networks_averaged_counts_members() -> None:
    assert validate_meta(SEED_META, "x").networks_averaged == 1
    assert validate_meta(_edited(members=[]), "x").networks_averaged == 1
    members = [{"run": "a"}, {"run": "b"}, {"run": "c"}]
    assert validate_meta(_edited(members=members), "x").networks_averaged == 3


def test_load_meta_reads_and_checks_the_file(tmp_path: Path) -> None:
    (tmp_path / META_FILE).write_text(json.dumps(_edited(epoch=3)))
    assert isinstance(load_meta(tmp_path), ModelMeta) and load_meta(tmp_path).epoch == 3
    (tmp_path / META_FILE).write_text(json.dumps(_edited(model="x")))
    with pytest.raises(UserError, match=rf"^{tmp_path / META_FILE}: invalid model description \(model: unknown"):
        load_meta(tmp_path)


@pytest.mark.parametrize(
    ("text", "ours"),
    [
        ('{"format": "lenet5-model/1"}', True),
        ('{"format": "lenet5-model/9", "model": "future"}', True),
        ('{"format": "lenet5-report/1"}', False),
        ('{"format": "xlenet5-model/1"}', False),
        ('{"model": "seed"}', False),
        ('["lenet5-model/1"]', False),
        ("{", False),
        (None, False),
    ],
)
def test_is_model_folder_by_its_format(text: str | None, ours: bool, tmp_path: Path) -> None:
    if text is not None:
        (tmp_path / META_FILE).write_text(text)
    assert is_model_folder(tmp_path) is ours


def test_a_description_that_is_not_json_says_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / META_FILE).write_text("{")
    with pytest.raises(UserError) as excinfo:
        load_meta(tmp_path)
    assert str(excinfo.value) == f"{tmp_path / META_FILE}: not valid JSON (JSONDecodeError); expected model description"


def test_a_huge_description_is_not_parsed(tmp_path: Path) -> None:
    (tmp_path / META_FILE).write_text('{"format": "lenet5-model/1", "pad": "' + "x" * 1_000_000 + '"}')
    assert is_model_folder(tmp_path) is False
    with pytest.raises(UserError, match="model description"):
        load_meta(tmp_path)


def test_shipped_models_are_the_folders_with_a_description(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"seed", "lenet5", "reader"} <= set(shipped_models())
    assert shipped_models()["seed"] == PRETRAINED / "seed"
    for name in ("b", "a"):
        (tmp_path / name).mkdir()
        (tmp_path / name / META_FILE).write_text("{}")
    (tmp_path / "c").mkdir()  # no description: not a model
    (tmp_path / "d").write_text("x")
    monkeypatch.setattr(model_folder, "PRETRAINED", tmp_path)
    assert list(shipped_models().items()) == [("a", tmp_path / "a"), ("b", tmp_path / "b")]
    monkeypatch.setattr(model_folder, "PRETRAINED", tmp_path / "missing")
    assert shipped_models() == {}


def test_resolve_the_default_and_shipped_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_model_folder(None) == PRETRAINED / "seed"
    assert resolve_model_folder("reader") == PRETRAINED / "reader"
    assert resolve_model_folder(PRETRAINED / "lenet5") == PRETRAINED / "lenet5"


def test_a_folder_in_the_working_directory_wins_over_a_shipped_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed").mkdir()
    with pytest.raises(UserError, match=r"^seed: not a run directory or model folder"):
        resolve_model_folder("seed")
    (tmp_path / "seed" / META_FILE).write_text("{}")
    assert resolve_model_folder("seed") == Path("seed")


def test_resolve_a_run_directory_or_a_model_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / META_FILE).write_text("{}")
    (run / META_FILE).write_text("{}")  # the run's model/ comes first
    assert resolve_model_folder(run) == run / "model"
    assert resolve_model_folder(str(run / "model")) == run / "model"
    (run / "model" / META_FILE).unlink()
    (run / "model" / META_FILE).mkdir()  # not a file
    assert resolve_model_folder(run) == run


def test_resolve_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError) as excinfo:
        resolve_model_folder(tmp_path / "none")
    message = str(excinfo.value)
    assert message.startswith(f"{tmp_path / 'none'}: no such run directory, model folder or shipped model (shipped: ")
    assert "seed" in message and "reader" in message
    for name in ("b", "a"):
        (tmp_path / "shipped" / name).mkdir(parents=True)
        (tmp_path / "shipped" / name / META_FILE).write_text("{}")
    monkeypatch.setattr(model_folder, "PRETRAINED", tmp_path / "shipped")
    with pytest.raises(UserError, match=r"\(shipped: a, b\)$"):
        resolve_model_folder(tmp_path / "none")
    monkeypatch.setattr(model_folder, "PRETRAINED", tmp_path / "missing")
    with pytest.raises(UserError, match=r"\(shipped: none installed\)$"):
        resolve_model_folder(tmp_path / "none")
    with pytest.raises(UserError) as excinfo:
        resolve_model_folder(tmp_path)
    assert str(excinfo.value) == f"{tmp_path}: not a run directory or model folder (no lenet5.json found)"


def test_shipped_name_only_for_shipped_folders(tmp_path: Path) -> None:
    assert shipped_name(PRETRAINED / "seed") == "seed"
    assert shipped_name(PRETRAINED / "seed" / ".." / "reader") == "reader"
    (tmp_path / "seed").mkdir()
    assert shipped_name(tmp_path / "seed") is None
    (tmp_path / "link").symlink_to(PRETRAINED / "lenet5")
    assert shipped_name(tmp_path / "link") == "link"


def test_detect_backend_prefers_onnx(tmp_path: Path) -> None:
    assert detect_backend(tmp_path) == "paddle"
    (tmp_path / "model.onnx").mkdir()
    assert detect_backend(tmp_path) == "paddle"
    (tmp_path / "model.onnx").rmdir()
    (tmp_path / "model.onnx").write_bytes(b"x")
    assert detect_backend(tmp_path) == "onnx"
