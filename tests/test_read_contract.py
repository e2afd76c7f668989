"""`lenet5.reader.read` and `lenet5.reader.numbers` with a stand-in network: bars drawn on
white are the digits, and the stand-in scores each candidate by its ink, so what is read
is known in advance (no model: `make mutation` runs these against those modules)."""

from __future__ import annotations

import copy
import io
import json
import math

import numpy as np
import pytest
from PIL import Image

from lenet5.errors import UserError
from lenet5.photo import Word, WordFeatures, Writing
from lenet5.reader import numbers, read
from lenet5.reader.graph import ScoredGraph
from lenet5.reader.numbers import PageReading, number_words, read_file, read_page, words_ink
from lenet5.reader.read import (
    NumberReading,
    ReadDigit,
    number_confidence,
    read_gray,
    read_number,
    reading_of,
    score_graph,
    scored,
)
from lenet5.reader.segment import segment
from lenet5.store.model_folder import META_FILE, PRETRAINED, Calibration, validate_meta
from lenet5.vision.preprocess import NoInkError

SEED_META = json.loads((PRETRAINED / "seed" / META_FILE).read_text())


class InkBackend:
    """Scores a candidate as the digit 1 when its 28x28 rendering is a thin upright bar,
    junk otherwise (two bars side by side, a piece of one): so a row of bars reads "111"."""

    name = "ink"
    classes = 11

    def __init__(self, platt: tuple[float, float] | None = None) -> None:
        raw = copy.deepcopy(SEED_META)
        raw["output"]["shape"] = [None, 11]
        if platt is not None:
            raw["calibration"] = {"number_platt": list(platt)}
        self.meta = validate_meta(raw, "ink")
        self.calls: list[int] = []

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        self.calls.append(len(inputs))
        out = np.zeros((len(inputs), 11), np.float32)
        for k, x in enumerate(inputs[:, 0] > 0):
            columns = np.flatnonzero(x.any(axis=0))
            rows = np.flatnonzero(x.any(axis=1))
            one = len(columns) and columns[-1] - columns[0] < 8 and len(rows) and rows[-1] - rows[0] > 15
            out[k, 1 if one else 10] = 0.9
            out[k, 7 if one else 1] = 0.1
        return out


def _bars(count: int, width: int = 60, height: int = 40, gap: int = 24) -> np.ndarray:
    gray = np.full((height, width * 0 + 20 + count * gap), 255, np.uint8)
    for k in range(count):
        x = 12 + k * gap
        gray[8:32, x : x + 3] = 0
    return gray


def _png(gray: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, format="PNG")
    return buffer.getvalue()


# read.py


def test_number_confidence_is_the_weakest_digit_calibrated() -> None:
    assert number_confidence([], None) == 0.0
    assert number_confidence([0.9, 0.6, 0.8], None) == 0.6
    assert number_confidence([1.0], None) == 1 - 1e-9
    assert number_confidence([0.0], None) == 1e-9
    assert number_confidence([0.6], Calibration()) == 0.6
    a, b = 2.0, 0.5
    expected = 1 / (1 + math.exp(-(a * math.log(0.6 / 0.4) + b)))
    assert number_confidence([0.9, 0.6], Calibration(number_platt=(a, b))) == pytest.approx(expected, rel=1e-12)
    assert number_confidence([1.0], Calibration(number_platt=(1.0, 0.0))) == pytest.approx(1 - 1e-9)


def test_read_digit_and_number_json() -> None:
    digits = [ReadDigit(4, 0.5, (10, 2, 20, 30)), ReadDigit(2, 0.25, (22, 0, 30, 28))]
    reading = NumberReading("f.png", digits, 0.25)
    assert reading.number == "42" and reading.box == (10, 0, 30, 30)
    assert reading.to_json() == {
        "file": "f.png",
        "number": "42",
        "confidence": 0.25,
        "box": [10, 0, 30, 30],
        "digits": [
            {"digit": 4, "probability": 0.5, "box": [10, 2, 20, 30]},
            {"digit": 2, "probability": 0.25, "box": [22, 0, 30, 28]},
        ],
    }
    empty = NumberReading("f.png", [], 0.0)
    assert empty.box is None and empty.number == "" and empty.to_json()["box"] is None
    assert all(type(v) is int for v in NumberReading("f", digits[:1], 1.0).box)


def test_scored_batches_every_arc_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    found = segment(_bars(3))
    backend = InkBackend()
    whole = scored(backend, found)
    monkeypatch.setattr(read, "SCORE_BATCH", 2)
    batched = scored(backend, found)
    assert backend.calls[0] == len(found.arcs) and backend.calls[1:] == [2] * (len(found.arcs) // 2) + [1] * (
        len(found.arcs) % 2
    )
    np.testing.assert_array_equal(batched.scores, whole.scores)
    assert whole.nodes == len(found.pieces) + 1 and whole.arcs == found.arcs
    assert whole.boxes == found.rendered()[1]


def test_scored_without_arcs_is_an_empty_graph() -> None:
    found = segment(_bars(1))
    empty = type(found)(found.ink, found.scale, [], [])
    graph = scored(InkBackend(), empty)
    assert graph.scores.shape == (0, 11) and graph.nodes == 1


def test_read_gray_reads_each_bar() -> None:
    reading = read_gray(InkBackend(), _bars(3))
    assert [d for d, _, _ in reading] == [1, 1, 1]
    assert [box[0] for _, _, box in reading] == [12, 36, 60]
    assert score_graph(InkBackend(), _bars(2)).best_reading() == read_gray(InkBackend(), _bars(2))


def test_reading_of_maps_boxes_and_may_fix_the_length() -> None:
    graph = ScoredGraph(
        3,
        [(0, 1), (1, 2), (0, 2)],
        np.array(
            [[0.0, 0.9] + [0.0] * 8 + [0.1], [0.0, 0.8] + [0.0] * 8 + [0.2], [0.0] * 4 + [0.5] + [0.0] * 5 + [0.5]]
        ),
        [(0, 0, 2, 2), (4, 0, 6, 2), (0, 0, 6, 2)],
    )
    reading = reading_of(graph, "x", lambda box: tuple(2 * v for v in box), Calibration(number_platt=(1.0, 0.0)))
    assert reading.file == "x" and reading.number == "11"
    assert [d.box for d in reading.digits] == [(0, 0, 4, 4), (8, 0, 12, 4)]
    assert reading.confidence == pytest.approx(0.8)
    assert reading_of(graph, "x", lambda b: b, digits=1).number == "4"
    none = reading_of(graph, "x", lambda b: b, digits=3)
    assert none.digits == [] and none.confidence == 0.0 and none.file == "x"


def test_read_number_gives_boxes_in_the_pictures_pixels() -> None:
    small = _bars(2)
    big = np.kron(small, np.ones((40, 40), np.uint8))  # 1600 px high: analysed at 1024 px
    reading = read_number(InkBackend(), Image.fromarray(big), "big.png")
    assert reading.file == "big.png" and reading.number == "11"
    x0, y0, x1, y1 = reading.digits[0].box
    assert abs(x0 - 12 * 40) <= 40 and abs(y0 - 8 * 40) <= 40 and abs(x1 - 15 * 40) <= 40 and abs(y1 - 32 * 40) <= 40
    assert read_number(InkBackend(), Image.fromarray(small), digits=1).number in ("1", "7", "")


def test_read_number_of_a_blank_picture_names_it() -> None:
    with pytest.raises(NoInkError) as excinfo:
        read_number(InkBackend(), Image.new("L", (50, 30), 255), "blank.png")
    assert str(excinfo.value) == "blank.png: no number found (blank or near-uniform image)"


def test_read_number_uses_the_models_calibration() -> None:
    plain = read_number(InkBackend(), Image.fromarray(_bars(1)))
    assert plain.file == "image"
    calibrated = read_number(InkBackend(platt=(1.0, 2.0)), Image.fromarray(_bars(1)))
    assert plain.confidence == pytest.approx(0.9)
    assert calibrated.confidence == pytest.approx(1 / (1 + math.exp(-(math.log(9) + 2))))


# numbers.py


class _Word:
    def __init__(self, x0: int, x1: int, y0: int = 0, y1: int = 10, ink: float = 1.0) -> None:
        self.box = (x0, y0, x1, y1)
        self.ink = np.full((y1 - y0, x1 - x0), ink, np.float32)
        self.mask = np.ones((y1 - y0, x1 - x0), np.uint8)  # one glyph filling its box


class _Line:
    def __init__(self, words: list[_Word], height: float = 10.0) -> None:
        self.words = tuple(words)
        self.height = height


def test_number_words_part_at_wide_gaps_and_set_aside_words() -> None:
    a, b, c, d = _Word(0, 10), _Word(20, 30), _Word(56, 60), _Word(86, 90)
    printed = _Word(31, 40)
    # gaps: a-b 10, b-c 26 (over 2.5 line heights), c-d 26
    assert number_words([_Line([a, b, c, d])], lambda w: True) == [[a, b], [c], [d]]
    assert number_words([_Line([a, b, c, d], height=10.4)], lambda w: True) == [[a, b, c, d]]
    exact = _Word(55, 60)  # a gap of exactly 2.5 line heights keeps the words together
    assert number_words([_Line([b, exact])], lambda w: True) == [[b, exact]]
    assert number_words([_Line([a, printed, b])], lambda w: w is not printed) == [[a], [b]]
    assert number_words([_Line([printed, a, b])], lambda w: w is not printed) == [[a, b]]
    assert number_words([_Line([a]), _Line([b])], lambda w: True) == [[a], [b]]
    assert number_words([_Line([printed])], lambda w: w is not printed) == []


def test_a_number_keeps_no_word_much_shorter_than_its_tallest() -> None:
    # A small printed label that passed as handwriting ("ID") beside digits 20 px high.
    label, first, second = _Word(0, 10, 9, 19), _Word(14, 24, 0, 20), _Word(28, 38, 2, 20)
    assert number_words([_Line([label, first, second], height=20)], lambda w: True) == [[first, second]]
    at_the_bar = _Word(0, 10, 9, 20)  # 11 px: exactly 0.55 of 20, still a digit
    assert number_words([_Line([at_the_bar, first], height=20)], lambda w: True) == [[at_the_bar, first]]
    alone = _Word(0, 10, 8, 19)  # a short word that is a number of its own is kept
    assert number_words([_Line([alone])], lambda w: True) == [[alone]]


def test_words_ink_is_their_union_on_one_canvas() -> None:
    low, high = _Word(2, 6, 1, 4, ink=0.5), _Word(4, 9, 3, 8, ink=0.25)
    canvas, box = words_ink([low, high])
    assert box == (2, 1, 9, 8) and canvas.shape == (7, 7) and canvas.dtype == np.float32
    expected = np.zeros((7, 7), np.float32)
    expected[2:7, 2:7] = 0.25
    expected[0:3, 0:4] = 0.5
    expected[2, 2:4] = 0.5  # where they overlap, the stronger ink
    np.testing.assert_array_equal(canvas, expected)


def test_page_reading_json() -> None:
    one = NumberReading("p.png", [ReadDigit(3, 0.9, (0, 0, 5, 5))], 0.9)
    two = NumberReading("p.png", [ReadDigit(4, 0.6, (0, 9, 5, 14)), ReadDigit(5, 0.7, (6, 9, 9, 14))], 0.6)
    page = PageReading("p.png", [one, two], sheet=True)
    assert page.number == "3 45" and page.confidence == 0.6 and [d.digit for d in page.digits] == [3, 4, 5]
    expected = {
        "file": "p.png",
        "number": "3 45",
        "confidence": 0.6,
        "digits": [d.to_json() for d in (*one.digits, *two.digits)],
        "numbers": [
            {k: v for k, v in one.to_json().items() if k != "file"},
            {k: v for k, v in two.to_json().items() if k != "file"},
        ],
        "sheet": True,
    }
    assert page.to_json() == expected and page.to_dict() == expected
    assert "file" not in page.to_json()["numbers"][0]


def test_a_close_up_is_read_whole() -> None:
    reading = read_page(InkBackend(), Image.fromarray(_bars(3)), "c.png")
    assert reading.number == "111" and reading.sheet is False and len(reading.numbers) == 1
    assert reading.file == "c.png"
    assert reading.numbers[0].file == "c.png"
    calibrated = read_page(InkBackend(platt=(1.0, 2.0)), Image.fromarray(_bars(3)))
    assert calibrated.confidence == pytest.approx(1 / (1 + math.exp(-(math.log(9) + 2))))


def _two_lines() -> np.ndarray:
    """Two lines of bars, far apart, on a page: not a close-up of one line."""
    page = np.full((200, 240), 255, np.uint8)
    for row, count in ((30, 3), (130, 2)):
        for k in range(count):
            page[row : row + 24, 40 + 24 * k : 43 + 24 * k] = 0
    return page


def test_each_line_of_a_page_is_a_number() -> None:
    reading = read_page(InkBackend(), Image.fromarray(_two_lines()), "p.png")
    assert reading.number == "111 11" and reading.sheet is False
    assert [n.file for n in reading.numbers] == ["p.png", "p.png"]
    for number, top in zip(reading.numbers, (30, 130), strict=True):
        for k, digit in enumerate(number.digits):  # each bar: x 40 + 24 k .. +3, y top .. top + 24
            x0, y0, x1, y1 = digit.box
            assert abs(x0 - (40 + 24 * k)) <= 2 and abs(x1 - (43 + 24 * k)) <= 2, digit.box
            assert abs(y0 - top) <= 2 and abs(y1 - (top + 24)) <= 2, digit.box
    assert read_page(InkBackend(), Image.fromarray(_two_lines())).file == "image"
    calibrated = read_page(InkBackend(platt=(1.0, 2.0)), Image.fromarray(_two_lines()))
    assert calibrated.confidence == pytest.approx(1 / (1 + math.exp(-(math.log(9) + 2))))
    assert read_page(InkBackend(), Image.fromarray(_two_lines()), digits=3).number == "111"
    assert read_page(InkBackend(), Image.fromarray(_two_lines()), digits=2).number == "11"


def test_a_word_that_fills_its_canvas_is_no_page_edge() -> None:
    import cv2

    from lenet5.photo import Word

    ink = np.zeros((112, 60), np.float32)  # a pen's thin "1", as tall as its word
    cv2.line(ink, (30, 0), (30, 111), 1.0, 2)
    cv2.line(ink, (30, 0), (18, 16), 1.0, 2)
    word = Word((100, 50, 160, 162), (1,), (ink > 0).astype(np.uint8), ink, None)
    page = type("Page", (), {"to_original": staticmethod(lambda box: box)})()
    reading = numbers._read_words(InkBackend(), [word], 0.3, page, "w", [100])
    assert reading is not None and reading.number == "1"
    x0, y0, x1, y1 = reading.digits[0].box
    # in the word's place (60 x 112 at 100, 50), grown by the stroke's thickening
    assert 92 <= x0 < x1 <= 168 and abs(y0 - 50) <= 8 and abs(y1 - 162) <= 8


def test_the_work_per_page_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numbers, "MAX_NUMBERS", 1)
    assert read_page(InkBackend(), Image.fromarray(_two_lines())).number == "111"
    monkeypatch.setattr(numbers, "MAX_NUMBERS", 32)
    # the lines' candidates: 3 and 2; a line that does not fit what is left is not read
    expected = {5: "111 11", 4: "111", 3: "111", 2: "11"}
    for arcs, number in expected.items():
        monkeypatch.setattr(numbers, "MAX_ARCS", arcs)
        assert read_page(InkBackend(), Image.fromarray(_two_lines())).number == number
    monkeypatch.setattr(numbers, "MAX_ARCS", 1)
    with pytest.raises(NoInkError) as excinfo:
        read_page(InkBackend(), Image.fromarray(_two_lines()), "p.png", digits=3)
    assert str(excinfo.value) == "p.png: no number found"  # nothing read at all: no "of 3 digits"


def test_min_confidence_and_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    image = Image.fromarray(_bars(3))
    confidence = read_page(InkBackend(), image).confidence  # 0.9 in float32
    assert read_page(InkBackend(), image, min_confidence=confidence).number == "111"
    with pytest.raises(NoInkError) as excinfo:
        read_page(InkBackend(), image, "c.png", min_confidence=0.95)
    assert str(excinfo.value) == "c.png: no number read with confidence 0.95 or more (best: 0.90)"
    with pytest.raises(NoInkError) as excinfo:
        read_page(InkBackend(), image, "c.png", digits=5)
    assert str(excinfo.value) == "c.png: no number found of 5 digits"
    assert read_page(InkBackend(), image, digits=3).number == "111"


def test_a_blank_page_has_no_number() -> None:
    with pytest.raises(NoInkError) as excinfo:
        read_page(InkBackend(), Image.new("L", (80, 60), 255), "b.png")
    assert str(excinfo.value) == "b.png: no number found"


def _doubting(lines: set[int] | dict[int, float]) -> InkBackend:
    """InkBackend, but the lines numbered in `lines` (1, 2: calls) read as 1 with less
    confidence: 0.27, or 0.9 times the factor given."""
    backend = InkBackend()
    real = backend.scores
    factors = lines if isinstance(lines, dict) else dict.fromkeys(lines, 0.3)

    def scores(inputs: np.ndarray) -> np.ndarray:
        out = real(inputs)
        factor = factors.get(len(backend.calls))
        if factor is not None:
            out[:, 10] += (1 - factor) * out[:, 1]
            out[:, 1] *= factor
        return out

    backend.scores = scores  # type: ignore[method-assign]
    return backend


def test_stray_marks_go_when_a_sure_number_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    picture = Image.fromarray(_two_lines())
    assert read_page(_doubting({2}), picture).number == "111"
    assert read_page(_doubting({1, 2}), picture).number == "111 11"  # nothing sure: all kept
    assert read_page(_doubting({1, 2}), picture).confidence == pytest.approx(0.27, abs=1e-6)
    weak = read_page(_doubting({1, 2}), picture).confidence
    monkeypatch.setattr(numbers, "STRAY", weak)  # a number at exactly STRAY is kept
    assert read_page(_doubting({2}), picture).number == "111 11"
    monkeypatch.setattr(numbers, "STRAY", math.nextafter(weak, 1))
    assert read_page(_doubting({2}), picture).number == "111"
    # the surest number exactly at STRAY: the weaker one is still a stray mark
    first = read_page(_doubting({1: 0.3, 2: 0.2}), picture).numbers[0].confidence
    monkeypatch.setattr(numbers, "STRAY", first)
    assert read_page(_doubting({1: 0.3, 2: 0.2}), picture).number == "111"


def test_read_file_returns_the_picture_it_read() -> None:
    reading, picture = read_file(InkBackend(), _png(_bars(2)), "upload")
    assert reading.number == "11" and reading.file == "upload" and picture.size == (68, 40)
    with pytest.raises(UserError, match=r"^upload: "):
        read_file(InkBackend(), b"not a picture", "upload")
    with pytest.raises(UserError, match="pixels"):
        read_file(InkBackend(), _png(_bars(2)), "upload", max_pixels=100)
    assert read_file(InkBackend(), _png(_bars(3)), "u", digits=3, min_confidence=0.5)[0].number == "111"
    with pytest.raises(NoInkError, match=r"confidence 0\.95 or more"):
        read_file(InkBackend(), _png(_bars(3)), "u", min_confidence=0.95)
    with pytest.raises(NoInkError, match="of 2 digits"):
        read_file(InkBackend(), _png(_bars(3)), "u", digits=2)


def _glyphs(box: tuple[int, int, int, int], blobs: int, ink: float) -> Word:
    x0, y0, x1, y1 = box
    features = WordFeatures(blobs, blobs, 2.0, 0.0, 0.0, 0.0, ink, 0.0, 0.5, (x1 - x0) / (y1 - y0))
    mask = np.ones((y1 - y0, x1 - x0), np.uint8)
    return Word(box, (1,), mask, np.full((y1 - y0, x1 - x0), ink, np.float32), features)


def test_a_lone_glyph_of_far_less_dark_ink_than_the_digits_is_no_number() -> None:
    from types import SimpleNamespace

    from lenet5.reader.numbers import _not_fragments

    page = np.zeros((200, 300), np.uint8)
    found = SimpleNamespace(
        writing=Writing([], page.astype(np.float32), page, page.astype(np.int32), 30.0), threshold=0.1
    )
    # A number of 4 glyphs, 30 x 120 px of ink at 0.5: 1,800 of dark mass, 450 per glyph.
    number = [_glyphs((10, 10, 130, 40), 4, 0.5)]
    mark = [_glyphs((200, 100, 230, 130), 1, 0.3)]  # 900 px at 0.3 = 270 (0.6 of a glyph): a digit
    faint = [_glyphs((200, 150, 210, 180), 1, 0.25)]  # 300 px at 0.25 = 75 (0.17 of a glyph): a mark
    assert _not_fragments([number, mark, faint], found) == [number, mark]
    assert _not_fragments([faint], found) == [faint]  # nothing to compare with: kept
    # Under twice the ink threshold a pixel is not clearly dark: 0.18 counts for nothing.
    assert _not_fragments([number, [_glyphs((200, 100, 230, 130), 1, 0.18)]], found) == [number]


def test_a_digit_as_tall_as_the_digits_of_a_sloping_word_beside_it_stays_in_the_number() -> None:
    from lenet5.reader.numbers import _digit_high

    # Seven digits 50 px tall written along a slope: their word is 112 px high. The first
    # digit, a word of its own 60 px high, was dropped as under 0.55 of that (a label's
    # height beside digits): tune s2 form_line_0008, read 2643944 for 72643944.
    sloping = np.zeros((112, 500), np.uint8)
    for k in range(7):
        sloping[62 - 9 * k : 112 - 9 * k, 10 + 70 * k : 50 + 70 * k] = 1
    features = WordFeatures(7, 7, 2.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.2, 500 / 112)
    number = Word((157, 242, 657, 354), (1,), sloping, sloping.astype(np.float32), features)
    first = _glyphs((93, 284, 133, 344), 1, 0.5)
    assert _digit_high([first, number]) == [first, number]
    label = _glyphs((20, 320, 80, 344), 2, 0.5)  # a printed label 24 px high before them
    assert _digit_high([label, first, number]) == [first, number]


def test_a_tail_below_a_number_is_joined_to_it() -> None:
    from lenet5.reader.numbers import _tails_joined

    number = [_Word(100, 430, 400, 465)]  # a number 65 px high, x 100..430
    tail = _Word(380, 420, 443, 476)  # a 9's tail: within its width, overlapping its box
    assert _tails_joined([number, [tail]]) == [[*number, tail]]
    below = _Word(380, 420, 481, 500)  # 16 px under the box: a quarter of 65 is 16.25, joined
    assert _tails_joined([number, [below]]) == [[*number, below]]
    apart = _Word(380, 420, 483, 500)  # 18 px under it: a number of its own
    assert _tails_joined([number, [apart]]) == [number, [apart]]
    aside = _Word(395, 455, 443, 476)  # mostly beside the number: a number of its own
    assert _tails_joined([number, [aside]]) == [number, [aside]]
    # Two lone words of one size are two numbers, whatever their places.
    upper, lower = _Word(0, 40, 0, 40), _Word(5, 45, 40, 80)
    assert _tails_joined([[upper], [lower]]) == [[upper], [lower]]


def _fragments_page(mask: np.ndarray | None = None) -> object:
    from types import SimpleNamespace

    page = np.zeros((200, 300), np.uint8)
    mask = page if mask is None else mask
    return SimpleNamespace(
        writing=Writing([], page.astype(np.float32), mask, page.astype(np.int32), 30.0), threshold=0.1
    )


def test_lone_glyphs_are_weighed_against_the_page_s_best_number_in_any_order() -> None:
    from lenet5.reader.numbers import _not_fragments

    found = _fragments_page()
    number = [_glyphs((10, 10, 130, 40), 4, 0.5)]  # 450 of dark ink per glyph
    mark = [_glyphs((200, 100, 230, 130), 1, 0.3)]  # 270: a digit
    faint = [_glyphs((200, 150, 210, 180), 1, 0.25)]  # 75, under a fifth of 450 (90): a mark
    # a mark first, the best number between: the mark is weighed against the best, not the last
    assert _not_fragments([faint, number, mark], found) == [number, mark]
    # a dropped mark does not end the look at the numbers after it
    assert _not_fragments([number, faint, mark], found) == [number, mark]
    assert _not_fragments([], found) == []
    # 12 x 15 px at 0.5: 90, exactly a fifth of 450: kept
    at_the_bar = [_glyphs((200, 100, 212, 115), 1, 0.5)]
    assert _not_fragments([number, at_the_bar], found) == [number, at_the_bar]
    # 20 x 30 px at 0.25: 150, a third of a glyph of the number: kept
    third = [_glyphs((200, 100, 220, 130), 1, 0.25)]
    assert _not_fragments([number, third], found) == [number, third]
    # the same faint ink in two glyphs (75 each), as one word or as two words of one glyph
    # each: not a lone glyph, so kept whatever its ink per glyph
    two = [_glyphs((200, 100, 220, 130), 2, 0.25)]
    assert _not_fragments([number, two], found) == [number, two]
    pair = [_glyphs((200, 100, 210, 130), 1, 0.25), _glyphs((214, 100, 224, 130), 1, 0.25)]
    assert _not_fragments([number, pair], found) == [number, pair]


def test_a_lone_stroke_that_goes_on_in_other_ink_is_no_number() -> None:
    from lenet5.reader.numbers import _not_fragments

    mask = np.zeros((200, 300), np.uint8)
    mask[:, 50:53] = 1  # a table's side, from top to bottom of the page
    found = _fragments_page(mask)
    number = [_glyphs((100, 10, 220, 40), 4, 0.5)]
    # one stroke 3 x 40 px: a piece of the side, with ink enough for a glyph (120 of 450)
    side = _glyphs((50, 80, 53, 120), 1, 1.0)
    assert _not_fragments([number, [side]], found) == [number]
    # beside another word it is part of a number: kept
    two = [side, _glyphs((60, 80, 80, 120), 1, 0.5)]
    assert _not_fragments([number, two], found) == [number, two]


def test_a_tail_is_joined_to_a_number_of_several_words_in_its_place() -> None:
    from lenet5.reader.numbers import _tails_joined

    first, second = _Word(100, 200, 400, 465), _Word(220, 430, 402, 465)
    tail = _Word(150, 190, 443, 476)  # under the first word: read left to right, it comes second
    assert _tails_joined([[first, second], [tail]]) == [[first, tail, second]]


def test_a_tail_at_the_exact_limits_is_joined() -> None:
    from lenet5.reader.numbers import _tails_joined

    number = [_Word(100, 430, 400, 464)]  # 64 px high: a quarter is 16 px
    below = _Word(380, 420, 480, 500)  # exactly 16 px under it
    assert _tails_joined([number, [below]]) == [[*number, below]]
    edge = _Word(398, 438, 443, 476)  # 32 of its 40 px within the number's width: exactly 0.8
    assert _tails_joined([number, [edge]]) == [[*number, edge]]
    narrow = [_Word(100, 180, 400, 464)]  # exactly twice as wide as the 40 px tail
    short_tail = _Word(120, 160, 460, 480)
    assert _tails_joined([narrow, [short_tail]]) == [[*narrow, short_tail]]


def _glyph_word(x0: int, x1: int, y0: int, y1: int, ink: float, blobs: int) -> Word:
    """A real Word of even ink `ink` over its whole box, of `blobs` glyphs."""
    shape = (y1 - y0, x1 - x0)
    features = WordFeatures(blobs, blobs, 2.0, 0.1, 0.1, 0.0, ink, 0.1, 0.2, shape[1] / shape[0])
    return Word((x0, y0, x1, y1), (1,), np.ones(shape, np.uint8), np.full(shape, ink, np.float32), features)


def test_a_lone_stroke_set_aside_as_print_beside_a_number_is_one_of_its_digits() -> None:
    # The script network took a handwritten "1" standing a little apart from its number for
    # print: as tall as the line's digits and as dark as their ink, it is read with them.
    number = _glyph_word(0, 100, 0, 40, 0.6, 4)
    one = _glyph_word(130, 140, 2, 38, 0.65, 1)
    kept = numbers._lone_strokes([_Line([number, one], height=40)], lambda w: w is number)
    assert number_words([_Line([number, one], height=40)], kept) == [[number, one]]
    # A printed label stays set aside: several glyphs, or one piece wider than tall (a short
    # word blurred together: "Qty"), or much darker (toner), or small, or far.
    for label in (
        _glyph_word(130, 170, 2, 38, 0.65, 3),
        _glyph_word(130, 187, 4, 38, 0.65, 1),
        _glyph_word(130, 140, 2, 38, 0.95, 1),
        _glyph_word(130, 140, 20, 38, 0.65, 1),
        _glyph_word(220, 230, 2, 38, 0.65, 1),
    ):
        kept = numbers._lone_strokes([_Line([number, label], height=40)], lambda w: w is number)
        assert number_words([_Line([number, label], height=40)], kept) == [[number]]


def test_a_number_split_over_two_lines_of_writing_is_one() -> None:
    from lenet5.reader.numbers import _across_lines

    # "Invoice # 5 123743": the 5, written level with the label, was grouped into the
    # label's line; the rest, a little higher, is a line of its own (form_line_0118, seed 3).
    label, five = _Word(40, 100, 110, 125), _Word(179, 208, 157, 189)
    rest = _Word(236, 502, 142, 187)
    lines = [_Line([label, five], height=15), _Line([rest], height=37)]
    numbers = [[five], [rest]]  # number_words's answer: one per line
    assert _across_lines(numbers, lines) == [[five, rest]]
    # Too far apart (more than NUMBER_GAP = 2.5 heights of the first: 80 px), two numbers.
    far = _Word(300, 560, 142, 187)
    assert _across_lines([[five], [far]], [_Line([label, five]), _Line([far])]) == [[five], [far]]
    # One above the other, overlapping in height by less than half the shorter: two numbers.
    above = _Word(236, 502, 100, 170)
    assert _across_lines([[five], [above]], [_Line([five]), _Line([above])]) == [[five], [above]]
    # A much shorter word beside the number (a 9's tail) is left to _tails_joined.
    number, tail = _Word(155, 421, 397, 465), _Word(400, 418, 443, 476)
    assert _across_lines([[number], [tail]], [_Line([number]), _Line([tail])]) == [[number], [tail]]
    # Words already on one line are number_words's business: not joined again.
    same = _Line([five, rest])
    assert _across_lines([[five], [rest]], [same]) == [[five], [rest]]
    # The order stays line by line (several numbers on a sheet are given top to bottom).
    top, bottom = _Word(300, 400, 0, 40), _Word(0, 100, 300, 340)
    assert _across_lines([[top], [bottom]], [_Line([top]), _Line([bottom])]) == [[top], [bottom]]


def _found(printed: dict[_Word, float]) -> numbers.PageWriting:
    """What page_writing would say of these words: each with the script network's share of
    print, kept as handwriting below PRINTED (0.7)."""
    kept = frozenset(id(w) for w, share in printed.items() if share < 0.7)
    return numbers.PageWriting(None, kept, 0.1, {id(w): share for w, share in printed.items()})  # type: ignore[arg-type]


def test_a_small_doubtful_word_at_a_numbers_end_is_its_label() -> None:
    # "Ref." (24 px, 0.44 print) on the line beside the handwritten 216 (40 px): joined to it
    # across lines, it was read "889216" (form_line_0019, seed 1).
    ref, digits = _Word(236, 279, 471, 495), _Word(328, 433, 451, 491)
    assert numbers._label_ends([[ref, digits]], _found({ref: 0.44, digits: 0.28})) == [[digits]]
    # At either end, and only there; a word the network is sure of, or one as tall, stays.
    after = _Word(440, 480, 471, 495)
    found = _found({ref: 0.44, digits: 0.28, after: 0.5})
    assert numbers._label_ends([[digits, after]], found) == [[digits]]
    assert numbers._label_ends([[digits, ref, digits]], found) == [[digits, ref, digits]]
    assert numbers._label_ends([[ref, digits]], _found({ref: 0.1, digits: 0.28})) == [[ref, digits]]
    tall = _Word(236, 279, 455, 491)
    assert numbers._label_ends([[tall, digits]], _found({tall: 0.44, digits: 0.28})) == [[tall, digits]]
    # A word the network set aside and a rule took back (a lone 1) is not judged again.
    one = _Word(106, 131, 471, 495)
    assert numbers._label_ends([[one, digits]], _found({one: 0.9, digits: 0.28})) == [[one, digits]]


def test_a_small_number_leaning_to_print_beside_handwriting_is_a_label() -> None:
    # A form's labels in a small font ("Labels", "Apples": 16 px, 0.56-0.69 print) were
    # read as numbers beside the handwritten 54 (38 px, no print): form_line_0030, seed 1.
    written, labels = _Word(349, 447, 259, 297), _Word(101, 162, 266, 282)
    apples = _Word(99, 165, 469, 490)
    found = _found({written: 0.0, labels: 0.6, apples: 0.56})
    assert numbers._printed_labels([[labels], [written], [apples]], found) == [[written]]
    # Kept: as tall as the handwriting, or surer of being handwritten, or set aside and
    # taken back by another rule, or nothing on the page surely handwritten to compare with.
    big = _Word(101, 200, 266, 300)
    assert numbers._printed_labels([[big], [written]], _found({written: 0.0, big: 0.6})) == [[big], [written]]
    assert numbers._printed_labels([[labels], [written]], _found({written: 0.0, labels: 0.4})) == [[labels], [written]]
    assert numbers._printed_labels([[labels], [written]], _found({written: 0.0, labels: 0.8})) == [[labels], [written]]
    assert numbers._printed_labels([[labels], [written]], _found({written: 0.3, labels: 0.6})) == [[labels], [written]]
