"""Finding the handwriting on a sheet (lenet5.photo.writing): the page's furniture (ruled
lines, boxes, underlines, dust, shadows, blots) left out, the writing in lines and words."""

from __future__ import annotations

import functools
import time

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lenet5.photo import synth, writing
from lenet5.photo.sheet import find_sheet
from lenet5.photo.writing import Word, WordFeatures, Writing, analyse_writing, continues_past_its_ends, find_writing

Box = tuple[int, int, int, int]


def _gray(page: synth.Page) -> np.ndarray:
    return np.clip(page.image, 0, 255).astype(np.uint8)


def _close(a: Box, b: Box, tolerance: int = 3) -> bool:
    return bool(np.abs(np.subtract(a, b)).max() <= tolerance)


def _overlaps(a: Box, b: Box) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _words(lines) -> list[Box]:
    return [word.box for line in lines for word in line.words]


@functools.cache
def _form() -> synth.Page:
    """Ruled paper with digits on and across the rules, an underline under a number, a
    printed box around another, and dust."""
    page = synth.blank_page(600, 800, seed=1)
    synth.ruled(page, 60, 100)
    synth.write(page, "4271", 80, 218, 50, 4)  # sits on the rule at y = 220
    synth.write(page, "35", 380, 236, 45, 4)  # crosses it
    synth.write(page, "908", 100, 350, 40, 3)
    synth.line(page, (90, 372), (300, 372), "underline", 3, 50)
    synth.rectangle(page, (200, 464, 420, 514), 2)
    synth.write(page, "16", 270, 503, 36, 4)
    synth.specks(page, 40, seed=3)
    return page


@functools.cache
def _form_writing():
    return analyse_writing(_gray(_form()))


def test_digits_on_a_ruled_form_are_found_and_nothing_else() -> None:
    page = _form()
    found = _words(_form_writing().lines)
    truth = page.marks["text"]
    assert len(found) == len(truth)
    for box in truth:
        # A digit sitting on a rule loses the rule's couple of pixels, nothing more.
        assert any(_close(got, box) for got in found), (box, found)


def test_rules_underline_and_box_are_furniture_but_crossing_strokes_stay() -> None:
    writing = _form_writing()
    furniture, ink = writing.furniture(), writing.ink()
    assert furniture[220, 20:60].all()  # a ruled line, away from the writing
    assert furniture[371:374, 250:290].any() and not ink[365:380, 200:300].any()  # the underline
    assert furniture[464:467, 205:415].any() and not ink[464:514, 200:230].any()  # the box's top, its left side
    # "35" crosses the rule at y = 220: its strokes there are ink again, and it is one word.
    assert ink[218:223, 380:440].any()
    word = next(w for line in writing.lines for w in line.words if w.box[0] > 350)
    assert word.box[1] < 205 and word.box[3] > 230


def test_word_ink_is_clean_and_its_features_are_sane() -> None:
    writing = _form_writing()
    for line in writing.lines:
        for word in line.words:
            x0, y0, x1, y1 = word.box
            assert word.ink.shape == word.mask.shape == (y1 - y0, x1 - x0)
            assert word.ink.dtype == np.float32 and word.ink.min() >= 0.0 and word.ink.max() <= 1.0
            assert word.ink.max() > 0.5
            # Off the word's strokes (by more than the soft rim) there is no ink at all.
            rim = cv2.dilate(word.mask, np.ones((3, 3), np.uint8))
            assert not word.ink[rim == 0].any()
            features = word.features
            assert features.blobs >= 1 and features.pieces >= features.blobs
            assert 2.0 < features.stroke_width < 10.0
            assert 0.05 < features.fill < 0.7 and features.aspect > 0.3
    # The 4 separate digits of "4271" are 4 glyph blobs.
    first = writing.lines[0].words[0]
    assert first.features.blobs == 4


def test_the_rule_crossing_a_word_is_not_in_its_ink() -> None:
    writing = _form_writing()
    word = next(w for line in writing.lines for w in line.words if w.box[0] > 350)
    row = 220 - word.box[1]  # the rule's row inside the word's box
    strokes = word.mask[row - 4 : row + 5].any(axis=0)
    # Columns the digits do not cross: the rule was there, the word's ink is not.
    assert not word.ink[row, ~strokes].any()


def test_only_dust_gives_no_lines() -> None:
    page = synth.blank_page(500, 400, seed=2)
    synth.specks(page, 80, seed=5)
    assert find_writing(_gray(page)) == []


def test_two_numbers_on_two_lines_come_out_in_order() -> None:
    page = synth.blank_page(600, 500, seed=3)
    synth.write(page, "580", 300, 330, 50, 4)  # drawn first, lower
    synth.write(page, "1234", 60, 150, 50, 4)
    lines = find_writing(_gray(page))
    assert len(lines) == 2
    assert lines[0].box[1] < lines[1].box[1]
    assert _close(lines[0].words[0].box, page.marks["text"][1])
    assert _close(lines[1].words[0].box, page.marks["text"][0])
    assert lines[0].baseline == pytest.approx(150, abs=4)


def test_a_line_splits_into_words_at_wide_gaps_left_to_right() -> None:
    page = synth.blank_page(700, 300, seed=4)
    synth.write(page, "27", 300, 150, 50, 4)  # a gap of about two heights: another word
    synth.write(page, "1093", 60, 150, 50, 4)
    lines = find_writing(_gray(page))
    assert len(lines) == 1
    boxes = [word.box for word in lines[0].words]
    assert len(boxes) == 2 and boxes[0][0] < boxes[1][0]
    assert _close(boxes[0], page.marks["text"][1]) and _close(boxes[1], page.marks["text"][0])


def test_blots_shadows_and_a_hard_shadow_edge_are_not_writing() -> None:
    page = synth.blank_page(700, 600, seed=5)
    truth = synth.write(page, "64", 80, 150, 50, 4)
    cv2.circle(page.image, (500, 150), 40, 40.0, -1)  # an ink blot
    soft = np.zeros(page.image.shape, np.float32)
    cv2.ellipse(soft, (450, 420), (160, 90), 20, 0, 360, 1.0, -1)
    page.image *= 1 - 0.35 * cv2.GaussianBlur(soft, (0, 0), 25)  # a hand's soft shadow
    page.image[:, :40] *= 0.5  # a hard shadow along the left edge
    lines = find_writing(_gray(page))
    assert [w.box for line in lines for w in line.words] == [pytest.approx(truth, abs=3)]


def test_mnist_digits_written_on_a_sheet() -> None:
    from lenet5.data import mnist

    digits = mnist.load().test_images[:5]
    page = np.full((300, 700), 228.0, np.float32)
    for k, digit in enumerate(digits):
        alpha = cv2.resize(digit, (80, 80), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
        x = 80 + 90 * k
        page[100:180, x : x + 80] = page[100:180, x : x + 80] * (1 - alpha) + 35 * alpha
    lines = find_writing(page.astype(np.uint8))
    assert len(lines) == 1
    assert sum(word.features.blobs for word in lines[0].words) >= 5


def test_white_on_black_digits_are_read_as_ink() -> None:
    from lenet5.data import mnist

    digit = cv2.resize(mnist.load().test_images[0], (280, 280), interpolation=cv2.INTER_CUBIC)
    lines = find_writing(digit)
    assert len(lines) == 1 and len(lines[0].words) == 1


def test_a_photographed_form_end_to_end() -> None:
    from lenet5.photo.sheet import box_to_source, rectify

    page = _form()
    photo = synth.photograph(page, (900, 700), angle=-4, tilt=15, desk="wood", hand=True, seed=2)
    sheet = find_sheet(photo.frame)
    assert sheet is not None
    rectified = rectify(photo.frame, sheet)
    found = [box_to_source(box, rectified.homography) for box in _words(find_writing(rectified.image))]
    truth = [photo.to_frame(box) for box in page.marks["text"]]
    assert len(found) == len(truth)
    for box in truth:
        assert any(_close(got, box, 4) for got in found), (box, found)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    height=st.integers(1, 360),
    width=st.integers(1, 360),
    kind=st.sampled_from(["uniform", "gaussian", "blocks", "constant"]),
    seed=st.integers(0, 2**16),
)
def test_noise_never_raises_and_returns_quickly(height: int, width: int, kind: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        picture = rng.integers(0, 256, (height, width), dtype=np.uint8)
    elif kind == "gaussian":
        picture = np.clip(rng.normal(180, 40, (height, width)), 0, 255).astype(np.uint8)
    elif kind == "blocks":
        cells = rng.integers(0, 256, (max(1, height // 16), max(1, width // 16)), dtype=np.uint8)
        picture = cv2.resize(cells, (width, height), interpolation=cv2.INTER_NEAREST)
    else:
        picture = np.full((height, width), int(rng.integers(0, 256)), np.uint8)
    start = time.perf_counter()
    find_sheet(picture)
    writing = analyse_writing(picture)
    assert time.perf_counter() - start < 2.0
    for line in writing.lines:
        for word in line.words:
            x0, y0, x1, y1 = word.box
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height


def _shadowed(page: synth.Page, centre: tuple[int, int], axes: tuple[int, int], depth: float, blur: float) -> None:
    soft = np.zeros(page.image.shape, np.float32)
    cv2.ellipse(soft, centre, axes, 10, 0, 360, 1.0, -1)
    page.image *= 1 - depth * cv2.GaussianBlur(soft, (0, 0), blur)


def test_digits_under_a_hand_shadow_are_still_writing() -> None:
    # The shadow darkens the paper by 45% around the digits, by more than most ink. A
    # page-wide paper level takes it, digits and all, for one blot; the paper's level
    # under the shadow is the shadowed paper's.
    page = synth.blank_page(700, 600, seed=6)
    truth = synth.write(page, "59472", 120, 260, 45, 3)
    _shadowed(page, (300, 240), (260, 70), 0.45, 18)
    lines = find_writing(_gray(page))
    assert [w.box for line in lines for w in line.words] == [pytest.approx(truth, abs=3)]


def test_a_pen_lying_on_the_sheet_is_not_writing() -> None:
    page = synth.blank_page(700, 600, seed=7)
    truth = synth.write(page, "260", 100, 420, 50, 3)
    cv2.line(page.image, (420, 60), (560, 330), 30.0, 20, cv2.LINE_AA)  # the pen's body
    cv2.line(page.image, (420, 60), (440, 98), 120.0, 20, cv2.LINE_AA)  # its grey clip end
    lines = find_writing(_gray(page))
    assert [w.box for line in lines for w in line.words] == [pytest.approx(truth, abs=3)]


def test_a_pen_lying_beside_a_markers_number_is_not_writing() -> None:
    # A marker's strokes are a pen's half thickness: the pen is no PEN_STROKES times as thick
    # as the page's strokes; but it is four times as long as the tallest of the digits drawn
    # nearly as thick (tune s3 desk_number_0091: the pen set the number's height, the digits
    # were dropped as too short beside it, "no number found").
    page = synth.blank_page(900, 600, seed=19)
    truth = synth.write(page, "2604", 350, 330, 55, 15)  # strokes 8 px by stroke_width, 11-13 px thick
    cv2.line(page.image, (110, 140), (170, 350), 35.0, 14, cv2.LINE_AA)  # 15 px thick, 225 px long
    lines = find_writing(_gray(page))
    assert [w.box for line in lines for w in line.words] == [pytest.approx(truth, abs=3)]


def test_a_lone_small_digit_beside_a_pen_is_the_writing() -> None:
    # With one small digit on the page, the pen is half the ink: its height must not be
    # taken for the text height (the digit would then be too small to be a glyph).
    page = synth.blank_page(800, 1000, seed=9)
    truth = synth.write(page, "3", 300, 420, 36, 3)
    cv2.line(page.image, (420, 500), (700, 700), 40.0, 30, cv2.LINE_AA)
    lines = find_writing(_gray(page))
    assert [w.box for line in lines for w in line.words] == [pytest.approx(truth, abs=3)]


def test_a_pen_lying_nearly_upright_is_not_cut_into_pieces_as_a_rule() -> None:
    # A solid bar slanted a little from the vertical holds runs a quarter of the page long
    # along its middle; taken out as a rule, they cut a pen into two slivers that were read
    # as writing. A ruled line on the same page is still taken whole.
    mask = np.zeros((1024, 750), np.uint8)
    cv2.line(mask, (300, 30), (250, 420), 1, 40)  # the pen
    cv2.line(mask, (20, 700), (730, 702), 1, 2)  # a ruled line
    cleaned, _, _ = writing._long_rules(mask)
    assert np.array_equal(cleaned[:450], mask[:450])
    assert cleaned[690:710].sum() <= 0.01 * mask[690:710].sum()  # (a rounded end pixel may stay)


def test_a_short_thick_pen_beside_one_large_digit_is_not_writing() -> None:
    # Under two digit heights long, but many times thicker than the digit's strokes.
    page = synth.blank_page(700, 800, seed=11)
    blank = page.image.copy()
    cv2.polylines(page.image, [np.array([(150, 380), (255, 385), (195, 505)])], False, 40.0, 6, cv2.LINE_AA)  # a 7
    rows, cols = np.nonzero(blank - page.image > 20)
    truth = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    cv2.line(page.image, (420, 200), (520, 410), 35.0, 28, cv2.LINE_AA)
    lines = find_writing(_gray(page))
    assert [w.box for line in lines for w in line.words] == [pytest.approx(truth, abs=3)]


def test_a_one_written_along_a_line_of_squared_paper_is_still_writing() -> None:
    # The 1 lies on a vertical grid line and joins the lines above and below it, as a
    # cell's side does; it is much darker than the printed grid, so it is a stroke.
    page = synth.blank_page(600, 800, seed=12)
    for x in range(20, 600, 40):
        synth.line(page, (x, 0), (x, 799), "rule", 2, 175.0)
    for y in range(20, 800, 40):
        synth.line(page, (0, y), (599, y), "rule", 2, 175.0)
    five = synth.write(page, "5", 196, 345, 40, 3)
    cv2.line(page.image, (183, 303), (177, 347), 40.0, 5, cv2.LINE_AA)
    words = _words(find_writing(_gray(page)))
    assert len(words) == 1
    x0, y0, x1, y1 = words[0]
    assert x0 <= 177 and x1 >= five[2] - 3  # the 1 and the 5, one number
    assert y0 >= 290 and y1 <= 360  # and no grid line with them


def test_digits_written_one_per_box_of_a_comb_are_one_word_beside_the_label() -> None:
    # The boxes hold the digits further apart than a word's gap; the walls between them say
    # that they are one number. The printed label before the first wall stays its own word.
    page = synth.blank_page(700, 400, seed=13)
    label = synth.print_text(page, "No.", 40, 210, 24)
    for k in range(4):
        synth.rectangle(page, (150 + 80 * k, 150, 231 + 80 * k, 230), 2)
    digits = [synth.write(page, d, 175 + 80 * k, 212, 45, 3) for k, d in enumerate("3852")]
    number = (digits[0][0], min(d[1] for d in digits), digits[-1][2], max(d[3] for d in digits))
    words = _words(find_writing(_gray(page)))
    assert len(words) == 2
    assert words[0][:3] == pytest.approx(label[:3], abs=7)  # (its full stop may be left as dust)
    assert words[1] == pytest.approx(number, abs=3)


def test_a_marker_stroke_wider_than_the_closing_is_ink_not_two_rims() -> None:
    # A close-up of a 0 written with a marker: strokes 60 px wide, far wider than the
    # paper-level closing starts; their middles were taken for (dark) paper.
    page = synth.blank_page(600, 800, seed=14)
    ring = np.zeros(page.image.shape, np.uint8)
    cv2.ellipse(ring, (300, 400), (120, 170), 0, 0, 360, 255, 60, cv2.LINE_AA)
    page.image[:] = page.image * (1 - ring / 255.0) + 30.0 * ring / 255.0
    found = analyse_writing(_gray(page))
    assert (found.mask[ring > 128] > 0).mean() > 0.95
    assert _words(found.lines) == [pytest.approx((149, 199, 452, 602), abs=4)]


def test_a_handwritten_one_beside_small_print_is_not_a_pen() -> None:
    # Three times as tall as a table's print and a straight solid bar, like a pen lying on
    # the sheet; but drawn with a pen's line, no thicker than the page's strokes.
    page = synth.blank_page(700, 500, seed=16)
    for k, word in enumerate(["Apples", "Labels", "Coffee", "Postage", "Total", "Price", "Item"]):
        synth.print_text(page, word, 40, 40 + 50 * k, 16)
    synth.rectangle(page, (250, 230, 500, 320), 2)
    zero = synth.write(page, "0", 300, 300, 50, 3)
    cv2.line(page.image, (372, 252), (352, 300), 40.0, 4, cv2.LINE_AA)  # the 1
    two = synth.write(page, "2", 395, 300, 50, 3)
    number = [w for w in _words(find_writing(_gray(page))) if w[0] > 200]
    assert number == [pytest.approx((zero[0], 250, two[2], 303), abs=4)]


def test_a_markers_one_beside_the_markers_digits_and_thin_print_is_not_a_pen() -> None:
    # A form's print sets the text height and the page's strokes, so a marker's 1 is three
    # text heights long and three strokes thick: a pen by those measures. Its own digits are
    # drawn as thick, and it is no longer than they are tall (tune s1 form_line_0001, 0013).
    page = synth.blank_page(700, 500, seed=17)
    for k, word in enumerate(["Street", "Tel.:", "Name", "Postcode", "Total", "Price"]):
        synth.print_text(page, word, 40, 40 + 50 * k, 16)
    one = (230, 250, 240, 302)
    cv2.line(page.image, (one[2], one[1]), (one[0], one[3]), 40.0, 9, cv2.LINE_AA)  # slanted forward
    digits = synth.write(page, "08", 262, 300, 50, 9)
    number = [w for w in _words(find_writing(_gray(page))) if w[0] > 200]
    assert number == [pytest.approx((one[0] - 4, 245, digits[2], 306), abs=5)]


def test_a_bar_is_writing_beside_a_glyph_as_thick_and_tall_and_each_thickness_is_measured_once(monkeypatch) -> None:
    labels = np.zeros((400, 2400), np.int32)
    cv2.line(labels, (20, 20), (40, 120), 1, 10)  # the bar: 100 px long, 10 px thick
    cv2.line(labels, (100, 60), (100, 120), 2, 8)  # a stroke 60 px tall, 8 px thick: writing
    cv2.line(labels, (200, 100), (200, 120), 3, 9)  # as thick, but 31 px tall: the bar is no stroke of it
    cv2.line(labels, (300, 20), (300, 120), 4, 2)  # tall, but a thin pen's
    for k in range(5, 305):  # many short glyphs: dust beside the writing
        cv2.circle(labels, (400 + 6 * (k % 300), 300), 2, k, -1)

    def blob(k: int) -> writing._Blob:
        ys, xs = np.nonzero(labels == k)
        return writing._Blob(k, int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1, len(xs), 0.6)

    blobs = {k: blob(k) for k in range(1, 305)}
    bar = blobs[1]
    assert writing._Peers(list(blobs.values()), labels).written_like(bar)
    assert writing._Peers([bar, blobs[2]], labels).written_like(bar)
    assert not writing._Peers([bar, blobs[3], blobs[4]], labels).written_like(bar)  # not with itself either
    assert not writing._Peers([], labels).written_like(bar)
    # The converse: a bar three times as long as the tallest glyph drawn nearly as thick is a
    # pen. The bar's box is 111 px tall: 3.6 times the 31 px stroke, 1.6 times the 69 px one.
    assert writing._Peers([blobs[3], blobs[4]], labels).far_longer(bar)
    assert not writing._Peers([blobs[2], blobs[3]], labels).far_longer(bar)
    assert not writing._Peers([blobs[4]], labels).far_longer(bar)  # nothing drawn as thick: not this way
    calls = []
    measure = writing._thickness
    monkeypatch.setattr(writing, "_thickness", lambda b, lab: calls.append(b.index) or measure(b, lab))
    peers = writing._Peers(list(blobs.values()), labels)
    for b in blobs.values():  # every blob asked about, as on a page of hatching
        peers.written_like(b)
    assert len(calls) <= 2 * len(blobs)  # each glyph once as a peer, once as the bar asked about


def test_a_number_after_a_printed_label_stays_one_line_when_its_second_digit_stands_higher() -> None:
    # The 1 continues the label's line; the 9 beside it stands above the middle of the
    # label's letters, and was measured against them only: a line of its own, so the 19 came
    # apart (or, fainter than the print, the 9 was dropped: tune s3 form_line_0021).
    page = synth.blank_page(600, 400, seed=18)
    label = synth.print_text(page, "Phone", 30, 250, 26)
    one = synth.write(page, "1", 150, 250, 48, 2, ink=120.0)
    nine = synth.write(page, "9", 192, 236, 48, 2, ink=120.0)
    lines = [[w.box for w in line.words] for line in find_writing(_gray(page))]
    assert lines == [[pytest.approx(label, abs=3), pytest.approx((one[0], nine[1], nine[2], one[3]), abs=3)]]


def test_a_bold_digit_filling_its_box_is_writing_not_a_blot() -> None:
    # A marker's 8 whose loops have closed up fills its box like a blot, but it is no
    # thicker than a couple of the page's other strokes.
    page = synth.blank_page(700, 400, seed=8)
    synth.write(page, "30", 100, 220, 60, 12)
    synth.write(page, "0", 228, 220, 60, 12)
    cv2.circle(page.image, (203, 178), 17, 40.0, -1)  # the 8: two solid loops, pinholes in them
    cv2.circle(page.image, (203, 204), 19, 40.0, -1)
    cv2.circle(page.image, (203, 176), 2, 230.0, -1)
    cv2.circle(page.image, (203, 206), 2, 230.0, -1)
    lines = find_writing(_gray(page))
    assert len(lines) == 1 and len(lines[0].words) == 1
    assert lines[0].words[0].features.blobs == 4


def _words_beside_a_blot(pen: np.ndarray, blot: tuple[int, int], radius: int, seed: int) -> list[Box]:
    """The word boxes found on a 700 x 400 page with `pen` (0..255) written in ink 40 and a
    round ink blot of that ink on the same line."""
    page = synth.blank_page(700, 400, seed=seed)
    page.image[:] = page.image * (1 - pen / 255.0) + 40 * (pen / 255.0)
    cv2.circle(page.image, blot, radius, 40.0, -1)
    return [w.box for line in find_writing(_gray(page)) for w in line.words]


def test_a_digit_with_one_loop_written_solid_is_writing_not_a_blot() -> None:
    # A bold pen's 8 whose lower loop closed up (seed 3 form_line_0104: the first 8 of
    # "881" was set aside as a blot): it fills its box like a blot and is several times
    # thicker than the page's thin strokes, but its widest inner circle spans only about
    # two thirds of its width. A blot, round or oval, spans nearly all of it.
    pen = np.zeros((400, 700), np.uint8)
    cv2.line(pen, (120, 160), (112, 232), 255, 3, cv2.LINE_AA)  # a "1", thin
    cv2.ellipse(pen, (300, 196), (22, 36), 0, 0, 360, 255, 3, cv2.LINE_AA)  # a "0", thin
    # The 8: an upper loop written with a bold pen, its lower loop solid; about 31 x 38 px,
    # 0.69 of its box ink, its widest inner circle 0.67 of its width (the photo's 8: 29 x
    # 30, 0.69 and 0.66).
    cv2.ellipse(pen, (200, 187), (9, 9), 0, 0, 360, 255, 5, cv2.LINE_AA)
    cv2.ellipse(pen, (200, 203), (15, 9), 0, 0, 360, 255, -1, cv2.LINE_AA)
    boxes = _words_beside_a_blot(pen, (520, 196), 22, seed=8)
    assert any(x0 <= 190 and x1 >= 210 and y0 <= 180 and y1 >= 208 for x0, y0, x1, y1 in boxes), boxes  # the 8
    assert not any(x0 <= 510 <= x1 and y0 <= 196 <= y1 for x0, y0, x1, y1 in boxes), boxes  # not the blot


def test_a_small_bold_nine_with_a_solid_head_is_writing_not_a_blot() -> None:
    # A marker's small 9 whose loop closed up (seed 1 small_digit_page_0025: 20 x 27 px,
    # its widest inner circle 17 px): as wide as a blot, but its tail makes it longer; a
    # blot's inner circle spans its length as well as its width.
    pen = np.zeros((400, 700), np.uint8)
    cv2.line(pen, (120, 180), (116, 210), 255, 3, cv2.LINE_AA)  # a thin "1", 30 px
    cv2.ellipse(pen, (200, 195), (10, 15), 0, 0, 360, 255, 3, cv2.LINE_AA)  # a thin "0"
    cv2.circle(pen, (400, 190), 10, 255, -1, cv2.LINE_AA)  # the 9's solid head...
    cv2.line(pen, (405, 198), (403, 208), 255, 6, cv2.LINE_AA)  # ...and its tail: 23 x 34 px, 0.62 ink
    boxes = _words_beside_a_blot(pen, (560, 195), 13, seed=9)
    assert any(x0 <= 392 and x1 >= 408 and y0 <= 182 and y1 >= 208 for x0, y0, x1, y1 in boxes), boxes  # the 9
    assert not any(x0 <= 560 <= x1 and y0 <= 195 <= y1 for x0, y0, x1, y1 in boxes), boxes  # not the blot


def test_a_close_up_sevens_bar_is_its_own_stroke_not_a_rule() -> None:
    # The bar is 45% of the page wide, longer than the first pass's rules: but it is one
    # glyph's own stroke, the glyph spanning most of it.
    page = np.full((500, 600), 225, np.uint8)
    cv2.line(page, (150, 100), (420, 105), 40, 12, cv2.LINE_AA)
    cv2.line(page, (420, 105), (260, 420), 40, 12, cv2.LINE_AA)
    writing = analyse_writing(page)
    assert [w.box for line in writing.lines for w in line.words] == [pytest.approx((143, 93, 428, 428), abs=3)]
    assert not writing.furniture().any()


def test_an_underline_joining_digits_is_still_a_rule() -> None:
    # The underline touches each digit, making one blob of them: it is no glyph's own
    # stroke (it touches several) and comes out; so does one touching a single digit of a
    # number, which it runs far past.
    page = synth.blank_page(700, 400, seed=9)
    first = synth.write(page, "908", 100, 200, 50, 4)
    second = synth.write(page, "46", 420, 200, 50, 4)
    synth.line(page, (90, 201), (330, 201), "underline", 4, 45)
    synth.line(page, (400, 201), (650, 201), "underline", 4, 45)
    writing = analyse_writing(_gray(page))
    words = [w for line in writing.lines for w in line.words]
    assert [w.box for w in words] == [pytest.approx(first, abs=4), pytest.approx(second, abs=4)]
    assert [w.features.blobs for w in words] == [3, 2]


def test_a_digit_written_in_two_strokes_that_do_not_meet_is_one_glyph() -> None:
    # A marker's 3 whose two strokes stop a few pixels short of each other: two lines of
    # one digit each, until pieces stacked this close are seen as one glyph.
    page = np.full((400, 500), 225, np.uint8)
    cv2.ellipse(page, (230, 170), (32, 26), 0, -170, 95, 40, 11, cv2.LINE_AA)
    cv2.ellipse(page, (226, 242), (44, 30), 0, -80, 175, 40, 11, cv2.LINE_AA)
    lines = find_writing(page)
    assert len(lines) == 1 and len(lines[0].words) == 1
    assert lines[0].words[0].features.blobs == 1


def test_specks_a_hair_and_a_fold_make_no_lines_of_their_own() -> None:
    page = synth.blank_page(700, 600, seed=10)
    truth = synth.write(page, "303", 250, 300, 40, 3)
    synth.fold(page, 430, 0.12)  # across the whole page, below the writing
    hair = np.zeros(page.image.shape, np.uint8)
    cv2.ellipse(hair, (500, 120), (6, 4), 30, 0, 220, 255, 1, cv2.LINE_AA)  # a short curled hair
    page.image[hair > 0] *= 0.5
    cv2.circle(page.image, (150, 520), 3, 60.0, -1)  # dust
    lines = find_writing(_gray(page))
    assert [w.box for line in lines for w in line.words] == [pytest.approx(truth, abs=3)]


def test_a_loop_inked_solid_is_not_left_hollow() -> None:
    # A marker's 6 whose loop is filled in (36 x 24 px of solid ink) on ruled paper: the
    # thin rules are most of the ink, so the strokes' commonest width asks for a closing
    # narrower than the loop, and the loop's middle would pass for paper.
    page = synth.blank_page(600, 500, seed=11)
    synth.ruled(page, 40, 30)
    image = _gray(page)
    cv2.ellipse(image, (250, 170), (26, 70), 10, 120, 250, 30, 8, cv2.LINE_AA)
    cv2.ellipse(image, (254, 222), (18, 12), 0, 0, 360, 30, -1, cv2.LINE_AA)
    words = [w for line in find_writing(image) for w in line.words]
    assert len(words) == 1
    x0, y0 = words[0].box[:2]
    middle = words[0].ink[222 - y0 - 3 : 222 - y0 + 4, 254 - x0 - 3 : 254 - x0 + 4]
    assert middle.size and middle.min() > 0.7 * words[0].ink.max()


def test_a_page_of_speckle_keeps_only_the_blobs_of_most_ink() -> None:
    """16,384 dots: the neighbour comparisons after the blobs are quadratic in a column of
    them (a 1024 px page of dots took 2.7 s); at most MAX_BLOBS go on, the heaviest first."""
    from lenet5.photo import writing

    page = np.full((1024, 1024), 235, np.uint8)
    for y in range(2, 1021, 8):
        for x in range(2, 1021, 8):
            page[y : y + 3, x : x + 3] = 40
    page[500:520, 500:560] = 0  # one heavy mark among them
    mask = (page < 128).astype(np.uint8)
    labels, blobs = writing._blobs(mask, (1 - page / 235).astype(np.float32))
    assert len(blobs) == writing.MAX_BLOBS
    heavy = int(labels[510, 530])
    assert blobs[0].index == heavy


def test_a_ballpoint_number_beside_bold_print_is_still_writing() -> None:
    # A form's bold black heading and labels, and a light ballpoint's number on an
    # underline: its strokes are under a third as dark as the heading's, but a line of
    # several glyphs that clear is writing (a fold's or a rule's remains are one piece).
    page = synth.blank_page(600, 500, seed=12)
    synth.print_text(page, "REGISTRATION", 60, 80, 34, ink=5.0)
    synth.print_text(page, "Total:", 60, 300, 22, ink=40.0)
    truth = synth.write(page, "566", 220, 300, 40, 3, ink=170.0)
    synth.line(page, (200, 302), (520, 302), "underline", 2, 60.0)
    words = _words(find_writing(_gray(page)))
    assert any(_close(box, truth, 4) for box in words)


def test_a_tilted_border_s_stepped_end_is_no_glyph() -> None:
    # A table's vertical border whose last 30 px stepped two pixels aside (a tilted line's
    # pixels): the rest is a rule, and that end, a thin "1" standing on the bottom rule,
    # joins the border at its top and the crossing rule at its bottom: a cell's side too.
    page = synth.blank_page(600, 500, seed=13)
    synth.line(page, (40, 100), (560, 100), "rule", 2, 60.0)
    synth.line(page, (40, 300), (560, 300), "rule", 2, 60.0)
    synth.line(page, (40, 100), (40, 300), "rule", 2, 60.0)
    synth.line(page, (560, 100), (560, 300), "rule", 2, 60.0)
    synth.line(page, (200, 100), (200, 268), "rule", 2, 60.0)
    synth.line(page, (203, 268), (203, 300), "rule", 2, 60.0)  # the stepped end
    truth = synth.write(page, "6970", 260, 230, 40, 3)
    words = _words(find_writing(_gray(page)))
    assert len(words) == 1 and _close(words[0], truth, 4)


def _stroke_word(box: tuple[int, int, int, int], aspect: float = 0.1) -> Word:
    x0, y0, x1, y1 = box
    features = WordFeatures(1, 1, 2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.5, aspect)
    mask = np.ones((y1 - y0, x1 - x0), np.uint8)
    return Word(box, (1,), mask, mask.astype(np.float32), features)


def _writing(mask: np.ndarray) -> Writing:
    return Writing([], mask.astype(np.float32), mask, mask.astype(np.int32), 30.0)


def test_a_lone_stroke_that_goes_on_in_other_ink_is_a_fragment() -> None:
    page = np.zeros((120, 80), np.uint8)
    page[20:50, 10:13] = 1  # the stroke (30 px: looked at 15 px past each end)
    word = _stroke_word((10, 20, 13, 50))
    # A 1 written on an underline: only the line's 3 rows below it.
    page[50:53, 0:80] = 1
    assert not continues_past_its_ends(_writing(page), word)
    # A table's side that goes on below it after a gap of 2 px: 13 of 15 rows.
    side = page.copy()
    side[52:100, 10:13] = 1
    assert continues_past_its_ends(_writing(side), word)
    # A digit's tail cut off by a ruled line: the rule's 4 rows, the slanted digit's end above
    # them a little to the side (within half the reach).
    tail = np.zeros((120, 80), np.uint8)
    tail[60:90, 30:33] = 1
    tail[55:59, 0:80] = 1
    tail[46:55, 34:37] = 1
    assert continues_past_its_ends(_writing(tail), _stroke_word((30, 60, 33, 90)))
    # Neither applies to a word that is no lone stroke.
    assert not continues_past_its_ends(_writing(side), _stroke_word((10, 20, 13, 50), aspect=0.8))


def test_a_label_close_before_a_comb_is_not_part_of_its_number() -> None:
    # The label ends closer to the first digit than a word's gap; the comb's first wall
    # stands between them, and the label's first glyph is in no box: it stays its own word.
    page = synth.blank_page(700, 400, seed=14)
    label = synth.print_text(page, "Qty", 60, 212, 24)
    left = label[2] + 8
    for k in range(4):
        synth.rectangle(page, (left + 62 * k, 150, left + 62 * k + 63, 230), 2)
    digits = [synth.write(page, d, left + 12 + 62 * k, 212, 45, 3) for k, d in enumerate("3852")]
    assert digits[0][0] - label[2] < writing.WORD_GAP * 45  # as close as a word's own glyphs
    number = (digits[0][0], min(d[1] for d in digits), digits[-1][2], max(d[3] for d in digits))
    words = _words(find_writing(_gray(page)))
    assert len(words) == 2
    assert words[0][2] <= label[2] + 3  # the label alone...
    assert words[1] == pytest.approx(number, abs=3)  # ...and the digits, one word


def test_a_label_blurred_into_one_glyph_in_the_cell_before_a_number_is_not_a_combs_digit() -> None:
    # A table: the label's cell and the number's, a wall between them in a gap wider than a
    # word's. The label ("Apples", blurred into one glyph) has the table's side on its left,
    # as a comb's digit has its box's: but it is three times wider than tall, no digit
    # (tune s1 form_line_0009, read 82784707 for 784707). The boxes are that picture's.
    def blob(k: int, box: tuple[int, int, int, int]) -> writing._Blob:
        return writing._Blob(k, *box, (box[2] - box[0]) * (box[3] - box[1]) // 3, 0.5)

    taken = np.zeros((600, 600), np.uint8)
    taken[450:560, 30:33] = taken[450:560, 150:153] = 1  # the table's side, the wall between the cells
    label = [blob(1, (45, 493, 120, 519))]
    boxes = [(189, 492, 219, 535), (247, 482, 286, 530), (309, 475, 360, 527), (378, 490, 410, 534)]
    digits = [blob(2 + k, box) for k, box in enumerate(boxes)]
    assert writing._split_words(label + digits, 45.0, taken) == [label, digits]
    # A digit as wide as tall in the same cell is in a box: it goes on across the wall.
    digit = [blob(9, (80, 480, 120, 526))]
    assert writing._split_words(digit + digits, 45.0, taken) == [digit + digits]


def test_a_box_side_printed_as_its_thin_rules_is_no_darker_than_they_are() -> None:
    # A comb's rules one pixel dark with two soft rows each side (more rim than core), its
    # wall two pixels dark with a soft column each side, all printed in one ink: the wall
    # is a side, not a stroke drawn along the ruling in a darker ink.
    strength = np.zeros((80, 80), np.float32)
    ruling = np.zeros((80, 80), bool)
    for row in (10, 66):
        strength[row - 2 : row + 3] = 0.12
        strength[row - 1 : row + 2] = 0.15
        strength[row] = 0.6
        ruling[row - 2 : row + 3] = True
    strength[13:64, 30:34] = 0.3
    strength[13:64, 31:33] = 0.6
    runs = np.zeros((80, 80), np.uint8)
    runs[13:64, 30:34] = 1
    side = writing._as_dark_as(runs, strength, ruling, lambda *box: True)
    assert side(30, 13, 4, 51)
    # A pen's stroke along the same place, three times as dark as the rules' cores, is not.
    strength[13:64, 31:33] = 1.0
    strength[13:64, 30:34] = np.maximum(strength[13:64, 30:34], 0.5)
    lighter = np.where(ruling, strength / 3, strength)
    assert not writing._as_dark_as(runs, lighter, ruling, lambda *box: True)(30, 13, 4, 51)


def test_a_folds_crease_broken_into_dashes_is_not_part_of_the_digits_beside_it() -> None:
    # A fold's crease is as thin as a pen's line and breaks into dashes of every length;
    # stacked into one tall "glyph" it joined the 7 beside it, and the number's height
    # became the crease's (desk_numbers_multi_0027, seed 3: "7436" was not read).
    page = synth.blank_page(600, 700, seed=4)
    truth = synth.write(page, "74", 150, 330, 50, 4)
    rng = np.random.default_rng(0)
    y = 40
    while y < 660:
        length = int(rng.integers(5, 46))
        cv2.line(page.image, (138, y), (138, y + length), 150.0, 3)
        y += length + int(rng.integers(3, 10))
    lines = find_writing(_gray(page))
    assert [w.box for line in lines for w in line.words] == [pytest.approx(truth, abs=3)]


def test_a_run_of_small_print_joined_to_a_tall_glyph_is_a_word_of_its_own() -> None:
    # "Postcode:" in small print, its dotted leader run into the handwritten 2: the gap
    # between them is narrow, but a glyph twice as tall as the several before it starts a
    # word (form_line_0105, seed 3). One short digit before tall ones stays in their word.
    def blob(k: int, x0: int, x1: int, top: int) -> writing._Blob:
        return writing._Blob(k, x0, top, x1, 458, (x1 - x0) * (458 - top) // 3, 0.7)

    label = [blob(1, 58, 70, 442), blob(2, 72, 84, 446), blob(3, 86, 100, 442)]
    digits = [blob(4, 110, 150, 408), blob(5, 160, 195, 410)]
    assert writing._split_words(label + digits, 41.5) == [label, digits]
    zero = [blob(6, 58, 80, 434)]
    assert writing._split_words(zero + digits, 41.5) == [zero + digits]


def test_a_thick_blob_reaching_in_from_the_pages_edge_is_furniture_whatever_the_text_height() -> None:
    # A pen lying across the sheet's edge, on a page whose only digit is too small and bold
    # to set the text height (0): judged by its size against that height, the pen was a
    # glyph, and `predict` read it instead of the 3 (small_digit_page_0033, seed 1).
    labels = np.zeros((737, 863), np.int32)
    cv2.line(labels, (780, 150), (900, 190), 1, 32)  # the pen, cut by the right edge
    cv2.line(labels, (850, 400), (863, 440), 2, 6)  # a digit's stroke cut by the edge
    ys, xs = np.nonzero(labels == 1)
    pen = writing._Blob(1, int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1, len(xs), 0.6)
    ys, xs = np.nonzero(labels == 2)
    stroke = writing._Blob(2, int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1, len(xs), 0.6)
    floors = (0.1, 0.0, 6.0)  # the ink threshold, no faint floor, the page's strokes 6 px wide
    assert writing._kind(pen, labels, 0.0, floors) == "furniture"
    assert writing._kind(stroke, labels, 0.0, floors) == "glyph"


def test_a_pens_cap_beside_its_body_is_furniture_a_digit_on_a_rule_is_not() -> None:
    """The body of a pen lying on the sheet is furniture (30 px thick); its cap, a separate
    blob just past its end, went on as the darkest "glyph" on the page. A digit touching a
    ruled line or a box's side (a stroke or two thick) stays writing."""
    labels = np.zeros((200, 300), np.int32)
    rules = np.zeros((200, 300), np.uint8)
    labels[50:80, 20:200] = 1  # the pen's body
    labels[50:80, 201:228] = 2  # its cap, 1 px past it
    labels[130:160, 100:120] = 3  # a digit...
    rules[158:160, :] = 1  # ...on a ruled line
    labels[100:140, 250:254] = 5  # a box's side, 4 px thick...
    labels[110:130, 256:270] = 4  # ...and a digit right beside it
    blob = {i: writing._Blob(i, *_box_of(labels == i), int((labels == i).sum()), 0.5) for i in range(1, 6)}
    kinds = {"glyph": [blob[2], blob[3], blob[4]], "minor": [], "furniture": [blob[1], blob[5]]}
    writing._pen_parts(kinds, labels, rules, 12.0)
    assert [b.index for b in kinds["glyph"]] == [3, 4]
    assert sorted(b.index for b in kinds["furniture"]) == [1, 2, 5]


def _box_of(region: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(region)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
