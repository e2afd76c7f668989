"""`lenet5.export.graph.save_model_folder` on untrained networks: the folder's files, its
description, and which folders it may replace (no training: `make mutation` runs these)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lenet5.errors import UserError
from lenet5.export.graph import save_model_folder
from lenet5.store.model_folder import load_meta


def _net(name: str = "seed", **kwargs: object):
    import paddle

    from lenet5.models import create_model

    paddle.seed(0)
    return create_model(name, **kwargs)


def _probabilities(folder: Path, inputs: np.ndarray) -> np.ndarray:
    from lenet5.infer.backends import load_backend

    return load_backend(folder, "paddle").scores(inputs)  # every class, junk included


def test_a_seed_network_is_saved_with_its_description(tmp_path: Path) -> None:
    import paddle

    net = _net()
    out = save_model_folder(net, "seed", tmp_path / "m", {"epoch": 3, "recipe": "strong"})
    assert out == tmp_path / "m"
    assert sorted(p.name for p in out.iterdir()) == ["inference.json", "inference.pdiparams", "lenet5.json"]
    text = (out / "lenet5.json").read_text()
    assert text.endswith("}\n") and '\n  "format"' in text
    assert json.loads(text) == {
        "format": "lenet5-model/1",
        "model": "seed",
        "normalization": {"name": "seed", "scale": 2.0, "offset": -1.0, "size": 28},
        "input": {"name": "image", "shape": [None, 1, 28, 28], "dtype": "float32"},
        "output": {"name": "probabilities", "shape": [None, 10]},
        "epoch": 3,
        "recipe": "strong",
    }
    assert load_meta(out).classes == 10
    inputs = np.random.default_rng(0).uniform(-1, 1, (3, 1, 28, 28)).astype(np.float32)
    net.eval()
    expected = paddle.nn.functional.softmax(net(paddle.to_tensor(inputs)), axis=1).numpy()
    np.testing.assert_allclose(_probabilities(out, inputs), expected, atol=1e-5)


def test_a_junk_class_network_has_eleven_outputs(tmp_path: Path) -> None:
    out = save_model_folder(_net(num_classes=11), "seed", tmp_path / "m", {})
    assert json.loads((out / "lenet5.json").read_text())["output"]["shape"] == [None, 11]
    assert _probabilities(out, np.zeros((1, 1, 28, 28), np.float32)).shape == (1, 11)


def test_the_paper_network_takes_32_px_inputs(tmp_path: Path) -> None:
    out = save_model_folder(_net("lenet5"), "lenet5", tmp_path / "m", {})
    meta = json.loads((out / "lenet5.json").read_text())
    assert meta["input"]["shape"] == [None, 1, 32, 32] and meta["normalization"]["name"] == "paper"
    assert meta["output"]["shape"] == [None, 10]  # no `fc`: always ten
    probabilities = _probabilities(out, np.zeros((2, 1, 32, 32), np.float32))
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_extra_description_wins(tmp_path: Path) -> None:
    out = save_model_folder(_net(), "seed", tmp_path / "m", {"output": {"name": "p", "shape": [None, 10]}})
    assert json.loads((out / "lenet5.json").read_text())["output"]["name"] == "p"


def test_a_list_of_one_network_is_that_network(tmp_path: Path) -> None:
    net = _net()
    one = save_model_folder(net, "seed", tmp_path / "one", {})
    listed = save_model_folder([net], "seed", tmp_path / "listed", {})
    inputs = np.random.default_rng(1).uniform(-1, 1, (2, 1, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(_probabilities(one, inputs), _probabilities(listed, inputs))


def test_it_replaces_only_an_earlier_model_folder(tmp_path: Path) -> None:
    out = save_model_folder(_net(), "seed", tmp_path / "m", {"epoch": 1})
    assert save_model_folder(_net(), "seed", out, {"epoch": 2}) == out  # a run's model/ on resume
    assert load_meta(out).epoch == 2
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="was not written by lenet5"):
        save_model_folder(_net(), "seed", mine, {})
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_the_graphs_input_is_named_as_described(tmp_path: Path) -> None:
    from paddle import inference

    out = save_model_folder(_net(), "seed", tmp_path / "m", {})
    config = inference.Config(str(out / "inference.json"), str(out / "inference.pdiparams"))
    predictor = inference.create_predictor(config)
    assert predictor.get_input_names() == ["image"]


def test_the_graph_declares_one_channel_for_other_runtimes(tmp_path: Path) -> None:
    """Paddle runs the graph whatever channel count its input declares, but ONNX Runtime holds
    a converted graph to it: the declared input must be what `lenet5.json` says."""
    import onnxruntime

    from lenet5.infer.convert import convert_to_onnx

    out = save_model_folder(_net(), "seed", tmp_path / "m", {})
    session = onnxruntime.InferenceSession(convert_to_onnx(out), providers=["CPUExecutionProvider"])
    (declared,) = session.get_inputs()
    assert declared.name == "image" and declared.shape[1:] == [1, 28, 28]
    (probabilities,) = session.run(None, {"image": np.zeros((2, 1, 28, 28), np.float32)})
    assert probabilities.shape == (2, 10)
