"""`lenet5.serve.services` without a server: the services over the shipped models, and what
/api/model says of a model (`make mutation` runs these against that module)."""

from __future__ import annotations

import io
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lenet5.errors import UserError
from lenet5.serve import services
from lenet5.serve.services import PredictionService, ReaderService, _LockedScores, describe_model
from lenet5.store.model_folder import PRETRAINED, load_meta


def _digit_picture(text: str = "7") -> bytes:
    from PIL import ImageDraw

    image = Image.new("L", (60, 40), 255)
    ImageDraw.Draw(image).text((20, 8), text, fill=0, font_size=28)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_prediction_service_answers_probabilities_of_a_digit() -> None:
    service = PredictionService("lenet5", "paddle")  # neither the default model nor backend
    assert service.backend_name == "paddle" and service.folder == PRETRAINED / "lenet5"
    assert service.backend.meta.model == "lenet5"
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255  # a 1
    probabilities = service.predict(digit)
    assert probabilities.shape == (10,) and abs(float(probabilities.sum()) - 1) < 1e-5
    expected = service.backend.probabilities(service.backend.meta.normalize(digit[None]))[0]
    np.testing.assert_array_equal(probabilities, expected)
    assert int(probabilities.argmax()) == 1
    assert service.info["model"] == "lenet5" and service.info["backend"] == "paddle"


def test_describe_model_says_only_what_the_folder_holds() -> None:
    meta = load_meta(PRETRAINED / "seed")
    info = describe_model(meta, "paddle")
    assert info["model"] == "seed" and info["backend"] == "paddle"
    assert info["input"] == {"name": "image", "shape": [None, 1, 28, 28], "dtype": "float32"}
    assert info["normalization"] == {"name": "seed", "scale": 2.0, "offset": -1.0, "size": 28}
    assert info["test_accuracy"] == meta.test_accuracy
    assert "recipe" not in info and "summary" not in info
    assert isinstance(info["architecture"], list | str | dict) and info["architecture"]
    json.dumps(info)  # an answer the server can send


def test_describe_model_publishes_the_runs_settings_and_scores() -> None:
    meta = load_meta(PRETRAINED / "seed").model_copy(
        update={"training": {"epochs": 3}, "summary": {"best_epoch": 2}, "test_accuracy": None}
    )
    info = describe_model(meta, "onnx")
    assert info["recipe"] == {"epochs": 3} and info["summary"] == {"best_epoch": 2}
    assert info["test_accuracy"] is None


def test_an_unknown_architecture_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import lenet5.models

    meta = load_meta(PRETRAINED / "seed")

    def refuse(name: str) -> None:
        raise UserError(f"unknown model {name}")

    monkeypatch.setattr(lenet5.models, "create_model", refuse)
    assert describe_model(meta, "onnx")["architecture"] is None


def test_the_architecture_is_the_networks_layer_table() -> None:
    from lenet5.models import create_model
    from lenet5.models.summary import layer_table

    meta = load_meta(PRETRAINED / "lenet5")
    assert describe_model(meta, "onnx")["architecture"] == layer_table(create_model("lenet5"), "lenet5")


def test_locked_scores_pass_through_under_one_lock() -> None:
    class Backend:
        meta, classes, name = "META", 11, "fake"

        def __init__(self) -> None:
            self.inside = 0
            self.most = 0

        def scores(self, inputs: np.ndarray) -> np.ndarray:
            self.inside += 1
            self.most = max(self.most, self.inside)
            threading.Event().wait(0.05)
            self.inside -= 1
            return inputs * 2

    backend = Backend()
    locked = _LockedScores(backend)
    assert (locked.meta, locked.classes, locked.name) == ("META", 11, "fake")
    threads = [threading.Thread(target=locked.scores, args=(np.ones(2),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert backend.most == 1
    np.testing.assert_array_equal(locked.scores(np.ones(2)), [2.0, 2.0])


def test_reader_service_reads_a_number_and_names_only_shipped_models(tmp_path: Path) -> None:
    reader = ReaderService("reader", "paddle")  # neither the default model nor backend
    assert reader.name == "reader" and reader.model == load_meta(PRETRAINED / "reader").model
    assert reader.backend.name == "paddle" and reader.backend.classes == 11
    answer = reader.read(_digit_picture("7"), max_pixels=10_000)
    assert answer["number"] == "7"
    copy = tmp_path / "my-reader"
    shutil.copytree(PRETRAINED / "reader", copy)
    assert ReaderService(copy, "onnx").name is None


def test_reader_service_errors_are_the_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = ReaderService("reader", "onnx")
    with pytest.raises(UserError, match=r"^upload: "):
        reader.read(b"not a picture", max_pixels=10_000)
    with pytest.raises(UserError, match="pixels"):
        reader.read(_digit_picture("7"), max_pixels=100)

    def surprise(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError

    monkeypatch.setattr(services, "read_file", surprise)
    with pytest.raises(UserError, match=r"^upload: cannot decode the image \(ZeroDivisionError\)$"):
        reader.read(_digit_picture("7"), max_pixels=10_000)
