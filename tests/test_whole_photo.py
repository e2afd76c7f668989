"""The photo people take (issue #27): a sheet lying crooked on a desk, the whole frame, every
number on it. Small synthetic frames (lenet5.photo.synth) with MNIST test digits on them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import DATA_DIR, run_cli
from lenet5.photo import synth

Box = tuple[int, int, int, int]


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    from lenet5.data import mnist

    data = mnist.load(DATA_DIR)
    return data.test_images, data.test_labels


def _first(labels: np.ndarray, digit: int, skip: int = 0) -> int:
    return int(np.flatnonzero(labels == digit)[skip])


def _write(page: synth.Page, image: np.ndarray, x: int, y: int, height: int, ink: float = 40.0) -> Box:
    """An MNIST digit drawn on the page, `height` px tall, in `ink` (dark); its box on the page."""
    big = cv2.resize(image, (height, height), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    region = page.image[y : y + height, x : x + height]
    region[:] = region * (1 - big) + ink * big
    rows, cols = np.nonzero(big > 0.3)
    return x + int(cols.min()), y + int(rows.min()), x + int(cols.max()) + 1, y + int(rows.max()) + 1


def _number(page: synth.Page, images: list[np.ndarray], x: int, y: int, height: int) -> Box:
    boxes = [_write(page, image, x + k * int(0.8 * height), y, height) for k, image in enumerate(images)]
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def _save(frame: np.ndarray, path: Path, quality: int = 90) -> Path:
    Image.fromarray(frame).save(path, quality=quality)
    return path


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return max(0, w) * max(0, h) / max(1, smaller)


def test_predict_reads_the_digit_on_a_sheet_on_a_desk_not_the_sheets_edge(digits, tmp_path: Path) -> None:
    images, labels = digits
    right = 0
    for k, (desk, digit) in enumerate((("wood", 7), ("black", 4), ("white", 3), ("grey", 9))):
        page = synth.blank_page(600, 800, seed=k)
        box = _write(page, images[_first(labels, digit)], 250, 330, 110)
        photo = synth.photograph(page, (900, 700), angle=5.0 - 3 * k, desk=desk, seed=k)
        result = run_cli("predict", str(_save(photo.frame, tmp_path / f"{desk}.jpg")), "--json")
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert _overlap(tuple(answer["box"]), photo.to_frame(box)) > 0.7, (desk, answer["box"], photo.to_frame(box))
        right += answer["digit"] == digit
    assert right >= 3


def test_read_reads_every_number_on_the_sheet_top_to_bottom(digits, tmp_path: Path) -> None:
    images, labels = digits
    page = synth.blank_page(700, 900, seed=3)
    first = [images[_first(labels, d)] for d in (3, 0, 7)]
    second = [images[_first(labels, d, 1)] for d in (5, 1, 4, 2)]
    boxes = [_number(page, first, 120, 180, 90), _number(page, second, 150, 520, 90)]
    photo = synth.photograph(page, (1000, 800), angle=-4.0, desk="wood", seed=5)
    result = run_cli("read", str(_save(photo.frame, tmp_path / "two.jpg")), "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert [n["number"] for n in answer["numbers"]] == ["307", "5142"], answer["number"]
    assert answer["number"] == "307 5142" and answer["sheet"] is True
    for number, truth in zip(answer["numbers"], boxes, strict=True):
        assert _overlap(tuple(number["box"]), photo.to_frame(truth)) > 0.8
    text = run_cli("read", str(tmp_path / "two.jpg"))
    assert [line.split()[1] for line in text.stdout.splitlines()] == ["307", "5142"]  # a line per number


def test_a_printed_label_and_its_underline_are_not_read(digits, tmp_path: Path) -> None:
    images, labels = digits
    page = synth.blank_page(800, 600, seed=4)
    synth.print_text(page, "Amount:", 60, 330, height=34)
    synth.line(page, (250, 345), (700, 345), "underline")
    _number(page, [images[_first(labels, d)] for d in (2, 0, 2, 6)], 300, 240, 95)
    photo = synth.photograph(page, (1000, 800), angle=3.0, desk="grey", seed=2)
    result = run_cli("read", str(_save(photo.frame, tmp_path / "form.jpg")), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["number"] == "2026"


def test_what_shows_through_from_the_back_of_the_sheet_is_not_read(digits) -> None:
    """Digits written on the sheet's back show through, faint and mirrored; only the pen's
    number on this side is read."""
    from lenet5.infer.backends import load_backend
    from lenet5.reader.numbers import read_page

    images, labels = digits
    page = synth.blank_page(800, 700, seed=6)
    for row, y in enumerate((120, 470)):  # two faint mirrored numbers
        for k, d in enumerate((4, 8, 1, 6)):
            _write(page, images[_first(labels, d, row + 2)][:, ::-1], 120 + 80 * k, y, 90, ink=185.0)
    _number(page, [images[_first(labels, d)] for d in (9, 3, 5)], 200, 300, 95)
    photo = synth.photograph(page, (1000, 900), angle=2.0, desk="grey", seed=3)
    reading = read_page(load_backend("reader"), Image.fromarray(photo.frame), "back.png")
    assert [n.number for n in reading.numbers] == ["935"]


@pytest.mark.parametrize("command", ["predict", "read"])
def test_boxes_are_the_same_whether_a_large_photo_is_a_jpeg_or_a_png(command: str, digits, tmp_path: Path) -> None:
    """A large JPEG is decoded at a reduced size; its boxes must still be in the file's pixels."""
    images, labels = digits
    picture = np.full((4000, 3000), 225, np.uint8)
    big = cv2.resize(255 - images[_first(labels, 8)], (600, 600), interpolation=cv2.INTER_CUBIC)
    picture[1500:2100, 1200:1800] = np.minimum(picture[1500:2100, 1200:1800], big)
    _save(picture, tmp_path / "page.jpg")
    Image.fromarray(picture).save(tmp_path / "page.png")
    found = []
    for name in ("page.jpg", "page.png"):
        result = run_cli(command, str(tmp_path / name), "--json")
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        found.append(answer["box"] if command == "predict" else answer["numbers"][0]["box"])
    jpeg, png = found
    assert png[0] > 1150 and png[2] < 1850 and png[1] > 1450 and png[3] < 2150  # on the ink, in the file's pixels
    assert max(abs(a - b) for a, b in zip(jpeg, png, strict=True)) <= 12, (jpeg, png)


def test_annotate_draws_on_the_upright_picture_of_a_large_photo_stored_sideways(digits, tmp_path: Path) -> None:
    """A phone stores a portrait photo as landscape pixels with an EXIF tag that turns it
    upright. `read --annotate` enlarges the reduced decode back to the file's size: that
    size must be the upright one, or the copy is squeezed and the boxes miss the ink."""
    images, labels = digits
    upright_picture = np.full((4000, 3000), 225, np.uint8)  # portrait, as the user sees it
    for k, digit in enumerate((4, 2)):
        big = cv2.resize(255 - images[_first(labels, digit)], (500, 500), interpolation=cv2.INTER_CUBIC)
        region = upright_picture[1500:2000, 800 + 450 * k : 1300 + 450 * k]
        np.minimum(region, big, out=region)
    stored = np.ascontiguousarray(np.rot90(upright_picture, 1))  # landscape pixels; tag 6 turns them back
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.jpg"
    Image.fromarray(stored).save(path, quality=90, exif=exif.tobytes())
    result = run_cli("read", str(path), "--json", "--annotate", str(tmp_path / "marked"))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["number"] == "42"
    x0, y0, x1, y1 = answer["numbers"][0]["box"]
    assert x0 > 750 and x1 < 1800 and y0 > 1450 and y1 < 2050  # upright pixels, on the ink
    marked = np.asarray(Image.open(tmp_path / "marked" / "sideways.read.png").convert("RGB")).astype(int)
    assert marked.shape[:2] == (4000, 3000)
    # Each digit's box is drawn in colour around its ink: the box's left side at the digit's
    # left edge is coloured (grey pictures have R = G = B).
    for digit in answer["numbers"][0]["digits"]:
        bx0, by0, _, by1 = digit["box"]
        side = marked[by0 + 5 : by1 - 5, bx0]
        assert (side.max(axis=1) - side.min(axis=1) > 60).mean() > 0.8, digit["box"]


def test_a_colour_photo_is_read_in_grey_and_annotated_in_colour(digits, tmp_path: Path) -> None:
    """Readings are made on a JPEG's luminance alone (decoded without its colour planes);
    `read --annotate` draws on the photo decoded again in colour, a phone photo's reduced
    decode included."""
    from lenet5.vision.preprocess import open_image

    images, labels = digits
    picture = np.zeros((1800, 2400, 3), np.uint8)
    picture[:] = (235, 225, 160)  # yellowish paper
    for k, digit in enumerate((7, 3)):
        big = cv2.resize(images[_first(labels, digit)], (300, 300), interpolation=cv2.INTER_CUBIC) / 255.0
        region = picture[700:1000, 900 + 280 * k : 1200 + 280 * k].astype(np.float64)
        ink = np.array([30.0, 40.0, 150.0])  # blue ballpoint
        region = region * (1 - big[..., None]) + ink * big[..., None]
        picture[700:1000, 900 + 280 * k : 1200 + 280 * k] = np.minimum(
            picture[700:1000, 900 + 280 * k : 1200 + 280 * k], region.astype(np.uint8)
        )
    path = tmp_path / "yellow.jpg"
    Image.fromarray(picture).save(path, quality=90)
    assert open_image(path).mode == "L" and open_image(path, colour=True).mode == "RGB"
    result = run_cli("read", str(path), "--json", "--annotate", str(tmp_path / "marked"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["number"] == "73"
    marked = np.asarray(Image.open(tmp_path / "marked" / "yellow.read.png").convert("RGB")).astype(int)
    assert marked.shape[:2] == (1800, 2400)
    corner = marked[50:200, 50:200].reshape(-1, 3).mean(axis=0)
    assert corner[0] - corner[2] > 50, corner  # the paper is still yellow


@pytest.mark.parametrize("index", [116, 122, 127])
def test_a_page_that_fills_the_frame_is_not_read_at_its_corner_of_desk(digits, index: int) -> None:
    """A sheet photographed so close that only a corner of desk shows: no sheet is found, and
    the close-up finder took the desk's strip at the picture's border for a "1". The page's
    writing finder sees the digit; it is read there (MNIST test digit `index`)."""
    from lenet5.infer.backends import load_backend
    from lenet5.infer.photo import photo_digit

    images, labels = digits
    rng = np.random.default_rng(index - 100)
    page = synth.blank_page(600, 800, seed=index - 100)
    size = int(rng.integers(50, 120))
    x, y = int(rng.integers(150, 600 - size - 20)), int(rng.integers(100, 800 - size - 20))
    truth = _write(page, images[index], x, y, size)
    photo = synth.photograph(
        page, (900, 1200), angle=float(rng.uniform(-4, 4)), cover=1.35, desk="grey", seed=index - 100
    )
    found = photo_digit(Image.fromarray(photo.frame))
    model = load_backend(None)
    assert int(np.argmax(model.probabilities(model.meta.normalize(found.digit[None]))[0])) == labels[index]
    tx0, ty0, tx1, ty1 = photo.to_frame(truth)
    x0, y0, x1, y1 = found.box
    assert x0 <= (tx0 + tx1) / 2 <= x1 and y0 <= (ty0 + ty1) / 2 <= y1, (found.box, (tx0, ty0, tx1, ty1))


@pytest.mark.parametrize("seed", [1, 2])
def test_a_number_on_a_page_that_fills_the_frame_takes_in_no_corner(digits, seed: int) -> None:
    """The same kind of picture for `read`: one line of writing and no sheet is read as a
    close-up of that line, and the close-up reader took the desk's corner and the vignette's
    corners for digits at both ends (240 read as 12240)."""
    from lenet5.infer.backends import load_backend
    from lenet5.reader.numbers import read_page

    images, labels = digits
    rng = np.random.default_rng(seed)
    page = synth.blank_page(600, 800, seed=seed)
    size = int(rng.integers(50, 90))
    x, y = int(rng.integers(100, 250)), int(rng.integers(100, 600))
    chosen = [300 + 3 * seed + j for j in range(3)]
    for j, index in enumerate(chosen):
        _write(page, images[index], x + j * int(0.8 * size), y, size)
    photo = synth.photograph(page, (900, 1200), angle=float(rng.uniform(-4, 4)), cover=1.35, desk="grey", seed=seed)
    reading = read_page(load_backend("reader"), Image.fromarray(photo.frame), "close.png")
    assert [n.number for n in reading.numbers] == ["".join(str(labels[i]) for i in chosen)]


def test_the_junk_class_says_not_a_digit_and_never_above_half(digits) -> None:
    """Two touching digits are no one digit: the reader model says so, and the digit it would
    pick gets under 50%."""
    from lenet5.infer.backends import load_backend
    from lenet5.infer.predict import predict_digit
    from lenet5.reader.lines import compose_line, crop
    from lenet5.vision.preprocess import render_mnist

    images, labels = digits
    reader = load_backend("reader", "onnx")
    rng = np.random.default_rng(0)
    verdicts = []
    for k in range(20):
        pair, _owner = compose_line([crop(images[k]), crop(images[k + 20])], "touching", rng)
        answer = predict_digit(reader, render_mnist(crop((pair * 255).astype(np.uint8))), "pair")
        verdicts.append(answer.not_a_digit)
        if answer.not_a_digit:
            assert answer.probability < 0.5 and answer.junk > 0.5
    one = predict_digit(reader, images[0], "one")
    assert not one.not_a_digit and one.digit == labels[0] and one.probability > 0.9
    assert sum(verdicts) >= 15, verdicts


def test_a_long_number_read_right_keeps_a_high_confidence(digits) -> None:
    """Eleven digits read right: the confidence follows the weakest digit, calibrated, not
    the product of eleven probabilities (which a plain 1 can sink)."""
    from lenet5.infer.backends import load_backend
    from lenet5.reader.lines import compose_line, crop, photograph
    from lenet5.reader.read import number_confidence, reading_of, score_graph

    images, labels = digits
    reader = load_backend("reader", "onnx")
    rng = np.random.default_rng(4)
    picks = [_first(labels, d, 2) for d in (1, 3, 8, 0, 0, 1, 3, 8, 0, 0, 1)]
    line, _owner = compose_line([crop(images[i]) for i in picks], "separated", rng)
    graph = score_graph(reader, photograph(line, rng, 4))
    reading = reading_of(graph, "line", lambda box: box, reader.meta.calibration)
    assert reading.number == "13800138001"
    probabilities = [d.probability for d in reading.digits]
    product = float(np.prod(probabilities))
    assert reading.confidence > 0.9 and reading.confidence >= product, (reading.confidence, product)
    # Length alone never lowers it: the same digits as a 2-digit number are as sure.
    weakest = int(np.argmin(probabilities))
    pair = [probabilities[weakest], max(probabilities)]
    assert number_confidence(pair, reader.meta.calibration) == reading.confidence


def test_number_confidence_is_the_weakest_digit_through_the_models_calibration() -> None:
    from lenet5.reader.read import number_confidence
    from lenet5.store.model_folder import Calibration

    assert number_confidence([0.9, 0.3, 0.99], None) == pytest.approx(0.3)
    assert number_confidence([], None) == 0.0
    identity = Calibration(number_platt=(1.0, 0.0))
    assert number_confidence([0.9, 0.3], identity) == pytest.approx(0.3)
    shifted = Calibration(number_platt=(1.0, np.log(3)))  # the odds times 3
    assert number_confidence([0.9, 0.3], shifted) == pytest.approx((3 * 0.3 / 0.7) / (1 + 3 * 0.3 / 0.7))
    steeper = Calibration(number_platt=(2.0, 0.0))
    assert number_confidence([0.8], steeper) == pytest.approx(0.8**2 / (0.8**2 + 0.2**2))


def test_a_blank_sheet_on_a_desk_has_no_digit(tmp_path: Path) -> None:
    photo = synth.photograph(synth.blank_page(600, 800, seed=9), (900, 700), angle=4.0, desk="wood", seed=9)
    result = run_cli("predict", str(_save(photo.frame, tmp_path / "blank.jpg")))
    assert result.returncode == 1 and "no digit found" in result.stderr and "Traceback" not in result.stderr


def test_read_json_keeps_todays_keys_for_one_number(digits, tmp_path: Path) -> None:
    images, labels = digits
    picture = np.full((200, 400), 235, np.uint8)
    for k, d in enumerate((4, 2)):  # ink on the paper (pasted white squares would be a sheet of their own)
        region = picture[50:150, 60 + 120 * k : 160 + 120 * k]
        np.minimum(region, 255 - cv2.resize(images[_first(labels, d)], (100, 100)), out=region)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    (tmp_path / "42.png").write_bytes(buffer.getvalue())
    answer = json.loads(run_cli("read", str(tmp_path / "42.png"), "--json").stdout)
    assert {"file", "number", "confidence", "digits"} <= set(answer) and answer["number"] == "42"
    assert len(answer["numbers"]) == 1 and answer["numbers"][0]["number"] == "42"
    assert answer["confidence"] == answer["numbers"][0]["confidence"]


def test_the_closer_look_at_a_small_digit_keeps_only_its_own_ink() -> None:
    # The finer patch is cut from the picture: a ruled line that the page's writing finder
    # took out crosses the digit there again, and must not reach the network.
    from types import SimpleNamespace

    from lenet5.infer.photo import _only_the_word

    patch = np.full((60, 60), 220, np.uint8)
    patch[20:22, :] = 150  # the ruled line
    patch[10:50, 29:32] = 40  # the digit's stroke
    word_mask = np.zeros((40, 3), np.uint8)
    word_mask[:] = 1  # the stroke, the rule's pixels beside it not included
    word = SimpleNamespace(box=(29, 10, 32, 50), mask=word_mask)
    cleaned = _only_the_word(patch, lambda box: box, word)
    assert (cleaned[10:50, 29:32] == 40).all()  # the digit untouched
    assert (cleaned[20:22, :27] == 220).all() and (cleaned[20:22, 34:] == 220).all()  # the line gone


def test_boxes_stay_inside_the_picture_when_the_sheet_reaches_past_the_frame() -> None:
    # A sheet whose corner lies outside the photo is straightened whole, so a word at its
    # cut edge (a printed label half out of view) has page pixels beyond the frame.
    from lenet5.infer.photo import Page

    page = Page(np.zeros((10, 10), np.uint8), None, (2.0, 2.0), np.zeros((10, 10), np.uint8), 1.0, (100, 80))
    assert page.to_original((-5, -3, 60, 50)) == (0, 0, 100, 80)
    assert page.to_original((10, 5, 20, 15)) == (20, 10, 40, 30)  # inside: only scaled
    unclipped = Page(np.zeros((10, 10), np.uint8), None, (2.0, 2.0), np.zeros((10, 10), np.uint8), 1.0)
    assert unclipped.to_original((-5, -3, 60, 50)) == (-10, -6, 120, 100)


def _label(page: synth.Page, text: str) -> None:
    """A printed word in dark toner near the page's top."""
    mask = np.zeros(page.image.shape, np.uint8)
    cv2.putText(mask, text, (60, 140), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 255, 6)
    page.image[mask > 0] = 30


def _found_digit(page: synth.Page, monkeypatch: pytest.MonkeyPatch, printed) -> Box:
    """Where `photo_digit` finds the digit on a page photographed on a desk, with the script
    network's verdict on each word (`printed`: the word's ink -> its share of print) chosen
    by the test."""
    from lenet5.infer import photo

    monkeypatch.setattr(photo.script, "printed_share", lambda model, ink, threshold: printed(ink))
    shot = synth.photograph(page, (900, 1000), angle=2.0, desk="grey", seed=1, jpeg=None)
    return shot, photo.photo_digit(Image.fromarray(shot.frame)).box


def test_predict_takes_the_digit_shaped_word_over_a_label_of_more_ink(digits, monkeypatch) -> None:
    # A printed label the script network was unsure of (kept as handwriting) holds more dark
    # ink than the small digit written below it; one digit is not six times as wide as tall.
    images, labels = digits
    page = synth.blank_page(600, 800, seed=4)
    _label(page, "Amount")
    digit = _write(page, images[_first(labels, 3)], 380, 400, 70)
    shot, box = _found_digit(page, monkeypatch, lambda ink: 0.5)
    assert _overlap(box, shot.to_frame(digit)) > 0.7, (box, shot.to_frame(digit))
    # Wide and plainly handwritten by the network's verdict, it stays in play (a digit cut in
    # two by a ruled line leaves a wide top part): then the most ink wins.
    shot, box = _found_digit(page, monkeypatch, lambda ink: 0.0)
    assert _overlap(box, shot.to_frame(digit)) < 0.2 and box[2] - box[0] > 3 * (box[3] - box[1])
    # Without the digit, the label is still what `predict` reads: never "no digit found".
    bare = synth.blank_page(600, 800, seed=4)
    _label(bare, "Amount")
    shot, box = _found_digit(bare, monkeypatch, lambda ink: 0.5)
    assert box[2] - box[0] > 3 * (box[3] - box[1])


def test_a_lone_digit_taken_for_print_beats_faint_marks_kept_as_handwriting(digits, monkeypatch) -> None:
    # The script network calls a neat handwritten digit print; all that is left as
    # "handwriting" is a hair-thin faint arc. The pen's digit is the darkest writing there.
    images, labels = digits
    page = synth.blank_page(600, 800, seed=5)
    digit = _write(page, images[_first(labels, 3)], 250, 300, 80)
    cv2.ellipse(page.image, (420, 620), (40, 22), 0, 20, 160, 150, 2)  # the faint arc
    tall = 0.6 * 80 * 1000 / 800  # the digit's height in the photo is about this or more
    shot, box = _found_digit(page, monkeypatch, lambda ink: 1.0 if ink.shape[0] > tall / 2 else 0.0)
    assert _overlap(box, shot.to_frame(digit)) > 0.7, (box, shot.to_frame(digit))
    # A dark mark kept as handwriting keeps its place: the rule is about faint leftovers only.
    cv2.ellipse(page.image, (420, 620), (40, 22), 0, 20, 160, 40, 9)
    shot, box = _found_digit(page, monkeypatch, lambda ink: 1.0 if ink.shape[0] > tall / 2 else 0.0)
    assert _overlap(box, shot.to_frame(digit)) < 0.2, (box, shot.to_frame(digit))


def test_a_light_pens_digit_keeps_its_place_beside_a_black_printed_page_number(digits, monkeypatch) -> None:
    # The handwritten digit is fainter than the black toner of a printed page number, but it
    # is no hair or scratch: it holds more ink than the number, and it is what was written.
    images, labels = digits
    page = synth.blank_page(600, 800, seed=7)
    digit = _write(page, images[_first(labels, 4)], 220, 300, 70, ink=120.0)
    mask = np.zeros(page.image.shape, np.uint8)
    cv2.putText(mask, "5", (290, 760), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 255, 3)
    page.image[mask > 0] = 30
    # The network calls the digit (about 50 px high on the analysed page) handwriting and the
    # page number (under 30 px) print; the digit is half as dark as the toner.
    shot, box = _found_digit(page, monkeypatch, lambda ink: 0.0 if ink.shape[0] > 40 else 1.0)
    assert _overlap(box, shot.to_frame(digit)) > 0.7, (box, shot.to_frame(digit))


def test_a_ballpoints_thin_even_line_is_handwriting_even_when_the_network_says_print(monkeypatch) -> None:
    # A ballpoint draws a line of one width along the hand's path: smooth and even, which the
    # script network takes for print (a "10" in a table cell, P(print) 0.97 and 0.90, was
    # passed over and the printed "Folders" beside it read as 8010815). But its line is far
    # thinner for its height than any font's stems. Here the network calls every word print:
    # the thin "10" must still be the handwriting, the bold toner label beside it not.
    from lenet5.infer import photo

    page = synth.blank_page(800, 600, seed=4)
    mask = np.zeros(page.image.shape, np.uint8)
    cv2.putText(mask, "Qty", (40, 330), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 255, 6)  # bold toner
    page.image[mask > 0] = 30
    pen = np.zeros(page.image.shape, np.uint8)
    cv2.line(pen, (420, 240), (410, 350), 255, 3, cv2.LINE_AA)  # a "1", 110 px tall, 3 px line
    cv2.ellipse(pen, (500, 300), (35, 52), 0, 0, 360, 255, 3, cv2.LINE_AA)  # a "0"
    page.image[:] = page.image * (1 - pen / 255.0) + 40 * (pen / 255.0)
    monkeypatch.setattr(photo.script, "printed_share", lambda model, ink, threshold: 1.0)
    shot = synth.photograph(page, (1000, 800), angle=3.0, desk="grey", seed=2, jpeg=None)
    found = photo.page_writing(photo.find_page(Image.fromarray(shot.frame)))
    words = sorted((w for line in found.writing.lines for w in line.words), key=lambda w: w.box[0])
    label, written = words[0], words[1:]
    assert label.box[3] - label.box[1] < 0.6 * min(w.box[3] - w.box[1] for w in written)  # the small label
    assert written and all(found.kept(w) for w in written)
    assert not found.kept(label)


def test_a_pen_lying_across_a_printed_title_is_no_thin_pen_line() -> None:
    # A pen lying across "Visitor log", joined to its "g": 265 px tall and 22 px thick, as
    # thin for its height as a ballpoint's digit; kept as handwriting, it was read as a
    # stray "1" beside the form's number (form_line_0023, seed 2: the median stroke of the
    # page's words 7.1 px). A thin word counts as a pen's writing only when its strokes are
    # no thicker than 1.5 times the page's words' median.
    from lenet5.infer.photo import _pen_line
    from lenet5.photo import Word, WordFeatures

    def word(height: int, stroke: float) -> Word:
        features = WordFeatures(1, 1, stroke, 0.1, 0.1, 0.0, 0.8, 0.1, 0.2, 1.0)
        square = np.ones((height, height), np.uint8)
        return Word((0, 0, height, height), (1,), square, square.astype(np.float32), features)

    assert not _pen_line(word(265, 21.7), typical_stroke=7.1)
    assert _pen_line(word(56, 3.85), typical_stroke=4.2)  # a ballpoint's "1" beside small print
    assert _pen_line(word(56, 5.0), typical_stroke=4.2)  # a little thicker than the page's strokes
    assert not _pen_line(word(56, 6.0), typical_stroke=4.2)  # a font's stems, for that height
    assert _pen_line(word(265, 21.7), typical_stroke=0.0)  # nothing to compare with
