"""`lenet5.infer.predict` piece by piece, with a stand-in backend whose scores are chosen by
the test (no model is run: `make mutation` runs these against that module)."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lenet5.errors import UserError
from lenet5.infer import predict
from lenet5.infer.predict import (
    Failure,
    Prediction,
    expand_inputs,
    predict_digit,
    predict_files,
    predict_picture,
    rank,
    save_input_png,
    save_png,
    saved_input_names,
    warning_for,
    write_csv,
)
from lenet5.store.model_folder import META_FILE, PRETRAINED, validate_meta
from lenet5.store.outputs import CSV_HEADER, is_ours
from lenet5.vision.preprocess import PictureDigit

SEED_META = json.loads((PRETRAINED / "seed" / META_FILE).read_text())


class FakeBackend:
    """Answers every input with the given scores; remembers what it was fed."""

    name = "fake"

    def __init__(self, scores: list[float], temperature: float | None = None) -> None:
        raw = copy.deepcopy(SEED_META)
        raw["output"]["shape"] = [None, len(scores)]
        if temperature is not None:
            raw["calibration"] = {"temperature": temperature}
        self.meta = validate_meta(raw, "fake")
        self.classes = len(scores)
        self._scores = np.array([scores], dtype=np.float32)
        self.fed: list[np.ndarray] = []

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        self.fed.append(inputs)
        return np.repeat(self._scores, len(inputs), axis=0)


TEN = [0.05, 0.0, 0.1, 0.6, 0.0, 0.0, 0.15, 0.0, 0.1, 0.0]


def test_warning_for_several_digits_and_low_confidence() -> None:
    assert warning_for(0, 0.6) is None
    assert warning_for(0, 0.599) == "low confidence (60%): the picture may not be a single clear digit"
    assert warning_for(0, 0.254) == "low confidence (25%): the picture may not be a single clear digit"
    assert warning_for(1, 0.99) == (
        "the picture seems to hold 2 or more digits; this reads only the most prominent one "
        "(to read a whole number: lenet5 read, or POST /api/read)"
    )
    assert warning_for(3, 0.1).startswith("the picture seems to hold 4 or more digits")


def test_rank_is_stable_and_cut_at_top_k() -> None:
    probabilities = np.array([0.1, 0.3, 0.3, 0.05, 0.25], dtype=np.float32)
    assert rank(probabilities, 3) == [(1, pytest.approx(0.3)), (2, pytest.approx(0.3)), (4, pytest.approx(0.25))]
    assert [d for d, _ in rank(probabilities, 10)] == [1, 2, 4, 0, 3]
    assert all(type(d) is int and type(p) is float for d, p in rank(probabilities, 2))


def test_predict_digit_normalises_and_ranks() -> None:
    backend = FakeBackend(TEN)
    digit = np.full((28, 28), 255, dtype=np.uint8)
    prediction = predict_digit(backend, digit, "a.png", top_k=2)
    assert backend.fed[0].shape == (1, 1, 28, 28) and np.all(backend.fed[0] == 1.0)
    assert prediction.file == "a.png" and prediction.digit == 3 and prediction.junk is None
    assert prediction.probability == pytest.approx(0.6)
    assert prediction.top_k == [(3, pytest.approx(0.6)), (6, pytest.approx(0.15))]
    assert len(predict_digit(backend, digit, "a.png").top_k) == 3


def test_predict_digit_applies_the_calibration() -> None:
    prediction = predict_digit(FakeBackend(TEN, temperature=2.0), np.zeros((28, 28), np.uint8), "a")
    sharp = np.sqrt(np.array(TEN))
    assert prediction.probability == pytest.approx(sharp[3] / sharp.sum(), rel=1e-5)


def test_with_a_junk_class_the_digits_share_what_junk_leaves() -> None:
    scores = [0.0] * 10 + [0.7]
    scores[4], scores[9] = 0.2, 0.1
    prediction = predict_digit(FakeBackend(scores), np.zeros((28, 28), np.uint8), "a")
    assert prediction.junk == pytest.approx(0.7)
    assert prediction.digit == 4 and prediction.probability == pytest.approx(0.2)
    assert prediction.top_k[1] == (9, pytest.approx(0.1))
    assert prediction.not_a_digit


def test_not_a_digit_only_when_junk_beats_the_digit() -> None:
    base = Prediction("a", 1, 0.5, [(1, 0.5)])
    assert not base.not_a_digit
    assert not Prediction("a", 1, 0.5, [(1, 0.5)], junk=0.5).not_a_digit
    assert Prediction("a", 1, 0.5, [(1, 0.5)], junk=0.51).not_a_digit
    assert not Prediction("a", 1, 0.5, [(1, 0.5)], junk=0.49).not_a_digit


def test_prediction_json() -> None:
    p = Prediction("a.png", 7, 0.9, [(7, 0.9), (1, 0.05)], box=(1, 2, 3, 4), warning="w", junk=0.01)
    expected = {
        "file": "a.png",
        "digit": 7,
        "probability": 0.9,
        "top_k": [[7, 0.9], [1, 0.05]],
        "box": [1, 2, 3, 4],
        "warning": "w",
        "junk": 0.01,
        "not_a_digit": False,
    }
    assert p.to_json() == expected and p.to_dict() == expected
    assert Prediction("a", 1, 0.5, [(1, 0.5)]).to_json()["box"] is None


def test_failure_names_the_file_once() -> None:
    failure = Failure.of(Path("d/a.png"), UserError("d/a.png: cannot read"))
    assert (failure.file, failure.error) == ("d/a.png", "cannot read")
    assert str(failure) == "d/a.png: cannot read"
    assert failure.to_json() == {"file": "d/a.png", "error": "cannot read"}
    assert Failure.of(Path("b.png"), UserError("upload: bad")).error == "upload: bad"


def test_predict_picture_warns_for_junk_several_digits_or_doubt() -> None:
    digit = np.zeros((28, 28), np.uint8)
    picture = PictureDigit(digit=digit, box=(1, 2, 3, 4), other_digits=0)
    clear = predict_picture(FakeBackend([0.0] * 3 + [0.9] + [0.0] * 6 + [0.1]), picture, "a")
    assert clear.box == (1, 2, 3, 4) and clear.warning is None
    junk = predict_picture(FakeBackend([0.0] * 3 + [0.3] + [0.0] * 6 + [0.7]), picture, "a")
    assert junk.warning == "not a digit: the model takes it for a mark that is not one digit (70%)"
    several = PictureDigit(digit=digit, box=(1, 2, 3, 4), other_digits=1)
    assert predict_picture(FakeBackend(TEN), several, "a").warning.startswith("the picture seems to hold 2")
    assert predict_picture(FakeBackend(TEN), picture, "a", top_k=1).warning is None  # 0.6 is trusted
    doubtful = predict_picture(FakeBackend([0.5, 0.5] + [0.0] * 8), picture, "a", top_k=1)
    assert doubtful.warning.startswith("low confidence (50%)") and len(doubtful.top_k) == 1


def test_expand_inputs_walks_folders_for_pictures(tmp_path: Path) -> None:
    for name in ("b/2.PNG", "a.jpg", "b/c/1.webp", "notes.txt", ".hidden/x.png", "b/.x.png", "model.onnx"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "folder.png").mkdir()
    files, skipped = expand_inputs([str(tmp_path), str(tmp_path / "notes.txt"), "missing.png"])
    assert files == [
        tmp_path / "a.jpg",
        tmp_path / "b/2.PNG",
        tmp_path / "b/c/1.webp",
        tmp_path / "notes.txt",
        Path("missing.png"),
    ]
    assert skipped == [tmp_path / "model.onnx", tmp_path / "notes.txt"]


def test_expand_inputs_hides_only_hidden_entries_below_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / ".pictures"
    folder.mkdir()
    (folder / "a.gif").write_text("x")
    assert expand_inputs([str(folder)]) == ([folder / "a.gif"], [])
    suffixes = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"]
    for suffix in suffixes:
        (folder / f"x{suffix}").write_text("x")
    assert len(expand_inputs([str(folder)])[0]) == len(suffixes) + 1


def test_saved_input_names_are_plain_unless_stems_clash() -> None:
    files = [Path("si/a/x.png"), Path("si/b/x.png"), Path("y.jpg"), Path("si__a__x.png.png")]
    names = saved_input_names(files, suffix=".png")
    assert names == {
        Path("si/a/x.png"): "si__a__x.png.png",
        Path("si/b/x.png"): "si__b__x.png.png",
        Path("y.jpg"): "y.png",
        Path("si__a__x.png.png"): "si__a__x.png-2.png",
    }
    assert len(set(names.values())) == len(files)


def test_saved_input_names_drop_root_and_dots_and_count_on() -> None:
    files = [Path("/d/x.png"), Path("../x.png"), Path("./x.png")]
    assert saved_input_names(files) == {
        Path("/d/x.png"): "d__x.png.28x28.png",
        Path("../x.png"): "x.png.28x28.png",
        Path("x.png"): "x.png-2.28x28.png",
    }
    three = [Path("a/x.png"), Path("b/a/x.png"), Path("c/x.png"), Path("a__x.png.jpg")]
    names = saved_input_names(three)
    assert names[Path("a__x.png.jpg")] == "a__x.png-2.28x28.png"


def test_saved_input_names_keep_the_first_given_plain() -> None:
    files = [Path("a__x.png.jpg"), Path("a/x.png"), Path("b/x.png")]
    names = saved_input_names(files)
    assert names[Path("a__x.png.jpg")] == "a__x.png.28x28.png"
    assert names[Path("a/x.png")] == "a__x.png-2.28x28.png"
    assert names[Path("b/x.png")] == "b__x.png.28x28.png"
    taken = [Path("x.png.28x28.png"), Path("a/x.png.28x28.png")]
    assert saved_input_names([Path("one.png"), *taken]) == {
        Path("one.png"): "one.28x28.png",
        Path("x.png.28x28.png"): "x.png.28x28.png.28x28.png",
        Path("a/x.png.28x28.png"): "a__x.png.28x28.png.28x28.png",
    }
    after = saved_input_names([Path("q.png"), Path("q.png"), Path("r.png")])
    assert after[Path("r.png")] == "r.28x28.png"  # a repeated input does not stop the naming
    repeated = saved_input_names([Path("q.png"), Path("q.png"), Path("q.png")])
    # one file named twice is saved once, under one name (no "-2" for itself)
    assert list(repeated) == [Path("q.png")] and repeated[Path("q.png")] in ("q.28x28.png", "q.png.28x28.png")


def test_save_png_marks_the_picture_ours_and_refuses_a_users_file(tmp_path: Path) -> None:
    digit = np.arange(28 * 28, dtype=np.uint32).reshape(28, 28).astype(np.uint8)
    save_input_png(digit, tmp_path / "out" / "d.png")
    saved = tmp_path / "out" / "d.png"
    assert is_ours(saved, "png")
    np.testing.assert_array_equal(np.asarray(Image.open(saved)), digit)
    save_input_png(digit[::-1], saved)  # ours: replaced
    np.testing.assert_array_equal(np.asarray(Image.open(saved)), digit[::-1])
    Image.fromarray(digit).save(tmp_path / "user.png")
    with pytest.raises(UserError, match="--plot"):
        save_png(Image.fromarray(digit), tmp_path / "user.png", "--plot")
    with pytest.raises(UserError) as excinfo:
        save_input_png(digit, tmp_path / "user.png")
    assert str(excinfo.value) == (
        f"{tmp_path / 'user.png'}: exists and was not written by lenet5; choose another name for --save-input"
    )


@pytest.mark.parametrize(
    ("error", "message"),
    [(PermissionError, "permission denied (cannot write)"), (OSError, "cannot write (disk full)")],
)
def test_a_failed_png_write_is_one_line(error: type, message: str, tmp_path: Path, monkeypatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise error(28, "disk full")

    monkeypatch.setattr(predict.atomic, "write_bytes", fail)
    with pytest.raises(UserError) as excinfo:
        save_png(Image.new("L", (2, 2)), tmp_path / "p.png", "--plot")
    assert str(excinfo.value) == f"{tmp_path / 'p.png'}: {message}"


def test_save_png_refuses_a_file_that_appears_before_the_rename(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "p.png"
    real_save = Image.Image.save

    def save_then_user_writes(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        real_save(self, fp, *args, **kwargs)
        target.write_text("the user's")

    monkeypatch.setattr(Image.Image, "save", save_then_user_writes)
    with pytest.raises(UserError, match=str(target)):
        save_png(Image.new("L", (2, 2)), target, "--plot")
    assert target.read_text() == "the user's"


def test_predict_files_yields_one_result_per_file_in_order(tmp_path: Path) -> None:
    ok = tmp_path / "ok.png"
    canvas = np.full((40, 40), 255, np.uint8)
    canvas[10:30, 18:22] = 0
    Image.fromarray(canvas).save(ok)
    (tmp_path / "bad.png").write_text("not a picture")
    saved = tmp_path / "saved"
    results = list(predict_files(FakeBackend(TEN), [tmp_path / "bad.png", ok], top_k=2, save_input=saved))
    assert isinstance(results[0], Failure) and results[0].file == str(tmp_path / "bad.png")
    assert results[0].error == "not an image file (or a format Pillow cannot read)"  # named once, in front
    assert isinstance(results[1], Prediction) and results[1].file == str(ok) and len(results[1].top_k) == 2
    assert sorted(p.name for p in saved.iterdir()) == ["ok.28x28.png"]
    (saved / "ok.28x28.png").unlink()
    (plain,) = predict_files(FakeBackend(TEN), [ok])
    assert not any(saved.iterdir())
    assert len(plain.top_k) == 3
    assert (
        len(predict_picture(FakeBackend(TEN), PictureDigit(np.zeros((28, 28), np.uint8), (0, 0, 1, 1), 0), "a").top_k)
        == 3
    )


def test_a_save_input_refusal_is_that_files_failure(tmp_path: Path) -> None:
    ok = tmp_path / "ok.png"
    canvas = np.full((40, 40), 255, np.uint8)
    canvas[10:30, 18:22] = 0
    Image.fromarray(canvas).save(ok)
    saved = tmp_path / "saved"
    saved.mkdir()
    Image.new("L", (2, 2)).save(saved / "ok.28x28.png")  # the user's
    results = list(predict_files(FakeBackend(TEN), [ok], save_input=saved))
    assert [type(r) for r in results] == [Failure]
    assert "was not written by lenet5" in results[0].error


def test_write_csv(tmp_path: Path) -> None:
    rows = [Prediction("a,b.png", 3, 0.5, [(3, 0.5), (1, 0.25)]), Prediction("c.png", 0, 1.0, [(0, 1.0)])]
    write_csv(tmp_path / "o.csv", rows)
    text = (tmp_path / "o.csv").read_text()
    assert text.splitlines()[0] == CSV_HEADER
    assert list(csv.reader(text.splitlines()[1:])) == [
        ["a,b.png", "3", "0.500000", "3:0.500000 1:0.250000"],
        ["c.png", "0", "1.000000", "0:1.000000"],
    ]
    write_csv(tmp_path / "o.csv", rows[:1])  # ours: replaced
    assert len((tmp_path / "o.csv").read_text().splitlines()) == 2
    (tmp_path / "user.csv").write_text("x\n")
    with pytest.raises(Exception):  # noqa: B017 - atomic's refusal, whatever its type
        write_csv(tmp_path / "user.csv", rows)
    assert (tmp_path / "user.csv").read_text() == "x\n"


def test_module_constants_used_by_the_cli() -> None:
    assert predict.LOW_CONFIDENCE == 0.6
