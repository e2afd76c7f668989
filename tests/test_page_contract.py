"""`lenet5.vision.page` piece by piece, on small pages and masks drawn here (no model, no
MNIST): the polarity and ink rules at their thresholds, the blobs, the page furniture, how
a digit's pieces are joined, the second look with a closing fitted to the strokes, and the
stroke width brought to MNIST's proportion. Every expected value is worked out from the
drawing, not read back from the code (`make mutation` runs these against that module)."""

from __future__ import annotations

import numpy as np
import pytest

from lenet5.vision import page
from lenet5.vision.page import Blob

PAPER, INK = 230, 30
BAR = 1.0 - INK / PAPER  # a dark stroke's strength on clean paper: 0.8696


def _blob(index: int, x0: int, y0: int, x1: int, y1: int, mass: float, area: int = 100) -> Blob:
    return Blob(index, x0, y0, x1, y1, area, mass)


def _bar_mask(height: int, width: int, margin: int = 10) -> np.ndarray:
    mask = np.zeros((height + 2 * margin, width + 2 * margin), np.uint8)
    mask[margin : margin + height, margin : margin + width] = 1
    return mask


# --- small helpers ---------------------------------------------------------------------


def test_blob_height_and_width_are_the_box_sides() -> None:
    blob = _blob(1, 3, 5, 10, 25, 1.0)
    assert (blob.width, blob.height) == (7, 20)


@pytest.mark.parametrize(("n", "odd"), [(0, 3), (2.9, 3), (3, 3), (4, 5), (5, 5), (6.7, 7), (10, 11)])
def test_odd_sizes_are_at_least_three(n: float, odd: int) -> None:
    assert page._odd(n) == odd


def test_the_sample_takes_every_kth_row_and_column_up_to_128() -> None:
    image = np.arange(300 * 129).reshape(300, 129)
    sample = page._sample(image)
    assert sample.shape == (100, 65)  # every 3rd row (300 / 128 rounded up), every 2nd column
    assert sample[1, 1] == 3 * 129 + 2
    small = np.arange(128 * 5).reshape(128, 5)
    assert page._sample(small).shape == (128, 5)


def test_tails_are_the_half_percent_median_and_99_5_percent() -> None:
    gray = np.arange(10000, dtype=np.float64).reshape(100, 100)  # 100 x 100: not subsampled
    low, median, high = page._tails(gray)
    assert low == pytest.approx(49.995) and median == pytest.approx(4999.5) and high == pytest.approx(9949.005)


def _tailed(high: int) -> np.ndarray:
    """100 x 100 grey levels: 1% at 90 (the dark tail), 1% at `high`, the rest 100."""
    gray = np.full(10000, 100, np.uint8)
    gray[:100], gray[-100:] = 90, high
    return gray.reshape(100, 100)


def test_light_ink_needs_a_bright_tail_more_than_four_times_the_dark_one() -> None:
    assert page.is_dark_ink(_tailed(140)) is True  # 40 = 4 x 10: still dark ink
    assert page.is_dark_ink(_tailed(141)) is False
    assert page.is_dark_ink(_tailed(100)) is True  # no tails at all: paper


# --- ink strength and threshold --------------------------------------------------------


def _dotted(shape: tuple[int, int], side: int, paper: float, ink: float, dtype=np.uint8) -> np.ndarray:
    gray = np.full(shape, paper, dtype)
    y, x = shape[0] // 2 - side // 2, shape[1] // 2 - side // 2
    gray[y : y + side, x : x + side] = ink
    return gray


def test_the_default_closing_is_a_fifth_of_the_shorter_side() -> None:
    """50 x 100 px: an 11 px square. A 9 px dark square is erased from the background (it is
    ink, 1 - 50/200), an 11 px one survives the closing (it is background, strength 0)."""
    small = page.ink_strength(_dotted((50, 100), 9, 200, 50), dark_ink=True)
    assert small[25, 50] == pytest.approx(0.75) and small[0, 0] == 0.0
    assert small.dtype == np.float32 and small.shape == (50, 100)
    big = page.ink_strength(_dotted((50, 100), 11, 200, 50), dark_ink=True)
    assert big[25, 50] == 0.0
    given = page.ink_strength(_dotted((50, 100), 11, 200, 50), kernel_size=13, dark_ink=True)
    assert given[25, 50] == pytest.approx(0.75)


def test_dark_ink_in_a_float_picture_is_a_reflectance_against_at_least_one() -> None:
    gray = _dotted((50, 50), 5, 200.0, 50.0, np.float32)
    assert page.ink_strength(gray, dark_ink=True)[25, 25] == pytest.approx(0.75)
    dim = _dotted((50, 50), 5, 0.8, 0.4, np.float32)  # background below 1: divided by 1
    strength = page.ink_strength(dim, dark_ink=True)
    assert strength[25, 25] == pytest.approx(0.6) and strength[0, 0] == pytest.approx(0.2)  # paper too


def test_light_ink_is_a_difference_over_the_bright_tail() -> None:
    board = _dotted((50, 50), 6, 40, 200)  # 36 px of chalk: 1.4% of the picture, so the tail is 200
    assert page.is_dark_ink(board) is False
    for strength in (page.ink_strength(board), page.ink_strength(board, dark_ink=False)):
        assert strength[25, 25] == pytest.approx(0.8) and strength[0, 0] == 0.0
    speck = _dotted((50, 50), 2, 40, 200)  # 4 px: the tail is the ground, 160 / 40 clipped to 1
    assert page.ink_strength(speck, dark_ink=False)[25, 25] == 1.0
    dim = _dotted((50, 50), 6, 0.2, 0.6, np.float32)  # the tail (0.6) below 1: divided by 1
    assert page.ink_strength(dim, dark_ink=False)[25, 25] == pytest.approx(0.4)


def test_dark_ink_read_as_light_gives_nothing() -> None:
    paper = _dotted((50, 50), 5, 200, 50)
    assert not page.ink_strength(paper, dark_ink=False).any()


def test_the_ink_threshold_is_a_floor_or_the_noise() -> None:
    assert page.ink_threshold(np.zeros((100, 100), np.float32)) == pytest.approx(0.12)
    assert page.ink_threshold(np.full((100, 100), 0.1, np.float32)) == pytest.approx(0.12)
    assert page.ink_threshold(np.full((100, 100), 0.2, np.float32)) == pytest.approx(0.2)
    noisy = np.zeros((100, 100), np.float32)
    noisy[50:] = 0.1  # median 0.05, every pixel 0.05 from it
    assert page.ink_threshold(noisy) == pytest.approx(0.05 + 6 * 1.4826 * 0.05, rel=1e-5)
    striped = np.zeros((256, 256), np.float32)
    striped[1::2] = 1.0  # the sample (every 2nd row) sees only the blank rows
    assert page.ink_threshold(striped) == pytest.approx(0.12)


# --- blobs and furniture ---------------------------------------------------------------


def test_blobs_are_eight_connected_and_a_single_column_is_one() -> None:
    mask = np.zeros((20, 20), np.uint8)
    mask[5, 5] = mask[6, 6] = mask[7, 7] = 1  # a diagonal: one blob
    labels, blobs = page.find_blobs(mask, mask.astype(np.float32))
    assert [(b.x0, b.y0, b.x1, b.y1, b.area, b.mass) for b in blobs] == [(5, 5, 8, 8, 3, 3.0)]
    assert labels[5, 5] == labels[6, 6] == labels[7, 7] == 1 and (labels > 0).sum() == 3
    column = np.zeros((20, 20), np.uint8)
    column[2:12, 9] = 1
    _, blobs = page.find_blobs(column, column.astype(np.float32))
    assert [(b.index, b.x0, b.y0, b.x1, b.y1, b.area) for b in blobs] == [(1, 9, 2, 10, 12, 10)]


@pytest.mark.parametrize(
    ("box", "furniture"),
    [
        ((10, 0, 20, 100), True),  # top to bottom
        ((10, 0, 20, 99), False),
        ((10, 1, 20, 100), False),
        ((0, 10, 200, 30), True),  # left to right
        ((0, 10, 199, 30), False),
        ((1, 10, 200, 30), False),
        ((10, 10, 41, 12), True),  # 31 x 2: a ruled line (longer than 15 x 2 and 0.4 x 75)
        ((10, 10, 40, 12), False),  # 30 x 2: exactly 15 times as long as thick
        ((10, 10, 41, 13), False),  # 31 x 3
    ],
)
def test_page_furniture_spans_the_page_or_is_a_long_flat_line(box: tuple, furniture: bool) -> None:
    assert page.is_page_furniture(_blob(1, *box, 1.0), 100, 75 if box[2] < 50 else 200) is furniture


def test_a_ruled_line_must_also_be_long_against_the_page() -> None:
    line = _blob(1, 10, 10, 41, 12, 1.0)  # 31 x 2
    assert page.is_page_furniture(line, 100, 77) is True  # 0.4 x 77 = 30.8
    assert page.is_page_furniture(line, 100, 78) is False  # 0.4 x 78 = 31.2


@pytest.mark.parametrize(
    ("box", "near"),
    [
        ((22, 12, 25, 18), True),  # 2 px right of the box: within 2.5
        ((23, 12, 25, 18), False),
        ((5, 12, 8, 18), True),  # 2 px left
        ((4, 12, 7, 18), False),
        ((12, 22, 18, 25), True),  # below
        ((12, 23, 18, 25), False),
        ((12, 5, 18, 8), True),  # above
        ((12, 4, 18, 7), False),
    ],
)
def test_near_is_within_the_margin_on_every_side(box: tuple, near: bool) -> None:
    assert page._near(_blob(1, *box, 1.0), (10, 10, 20, 20), 2.5) is near


# --- solid regions, pieces, widths -----------------------------------------------------


def test_a_solid_region_is_thick_against_its_size() -> None:
    labels = np.zeros((60, 60), np.int32)
    labels[10:30, 10:30] = 1  # a 20 px square: width 20
    labels[5:25, 40:46] = 2  # a 6 x 20 bar: width 6, exactly 0.3 of its length
    labels[40:47, 40:47] = 3  # 7 x 7 = 49 px: too small to judge
    labels[40:48, 10:18] = 4  # 8 x 8 = 64 px: judged (width 8)
    widths: dict[int, float] = {}
    assert page._solid(Blob(1, 10, 10, 30, 30, 400, 1.0), labels, widths) is True
    assert page._solid(Blob(2, 40, 5, 46, 25, 120, 1.0), labels, widths) is False
    assert page._solid(Blob(3, 40, 40, 47, 47, 49, 1.0), labels, widths) is False
    assert page._solid(Blob(4, 10, 40, 18, 48, 64, 1.0), labels, widths) is True
    assert widths == {1: 20.0, 2: 6.0, 4: 8.0}


def test_pieces_are_the_groups_pixels_in_the_box() -> None:
    labels = np.array([[0, 1, 2], [3, 1, 2], [0, 0, 3]], np.int32)
    np.testing.assert_array_equal(page._pieces(labels, {1}, (0, 0, 3, 3)), [[0, 1, 0], [0, 1, 0], [0, 0, 0]])
    both = page._pieces(labels, {1, 3}, (0, 1, 3, 3))
    assert both.dtype == np.uint8
    np.testing.assert_array_equal(both, [[1, 1, 0], [0, 0, 1]])


def test_a_lone_blobs_width_is_reused_and_a_groups_measured() -> None:
    labels = np.zeros((40, 40), np.int32)
    labels[5:35, 5:9] = 1  # 4 px wide
    labels[5:35, 20:24] = 2
    box = (0, 0, 40, 40)
    assert page._group_width(labels, {1}, box, {1: 99.0}) == 99.0
    assert page._group_width(labels, {1}, box, {2: 99.0}) == 4.0
    assert page._group_width(labels, {1, 2}, box, {1: 99.0}) == 4.0


def test_candidates_leave_out_furniture_and_keep_the_24_heaviest() -> None:
    mask = np.zeros((100, 200), np.uint8)
    strength = np.zeros((100, 200), np.float32)
    for i in range(30):  # 30 dots of growing ink, 2 x 2 px each
        y, x = 10 + 6 * (i // 10), 10 + 6 * (i % 10)
        mask[y : y + 2, x : x + 2] = 1
        strength[y : y + 2, x : x + 2] = 0.2 + 0.01 * i
    mask[:, 150:160] = 1  # the table's edge: top to bottom, the most ink of all
    strength[:, 150:160] = 1.0
    _, kept = page._candidates(mask, strength)
    assert len(kept) == 24
    assert [round(b.mass, 4) for b in kept] == [round(4 * (0.2 + 0.01 * i), 4) for i in range(29, 5, -1)]


# --- joining a digit's pieces ----------------------------------------------------------

SEED_BLOB = _blob(1, 100, 100, 200, 200, 1000.0)  # 100 px: margin 20 px; heavy = over 500


def _group(*others: Blob) -> tuple[set[int], tuple[int, int, int, int]]:
    seed, group, box = page._group([*others, SEED_BLOB])
    assert seed is SEED_BLOB
    return group, box


def test_a_light_piece_within_the_margin_joins_and_one_beyond_does_not() -> None:
    assert _group(_blob(2, 100, 60, 200, 81, 300.0)) == ({1, 2}, (100, 60, 200, 200))
    assert _group(_blob(2, 100, 60, 200, 80, 300.0)) == ({1}, (100, 100, 200, 200))


def test_a_heavy_blob_beside_the_digit_is_another_digit() -> None:
    assert _group(_blob(2, 210, 100, 300, 200, 501.0)) == ({1}, (100, 100, 200, 200))
    assert _group(_blob(2, 210, 100, 300, 200, 500.0)) == ({1, 2}, (100, 100, 300, 200))


def test_a_heavy_blob_above_the_digit_is_part_of_it() -> None:
    """Above or below, overlapping more than 0.3 of its own width: the bar of a 5 or a 7."""
    assert _group(_blob(2, 191, 85, 221, 99, 900.0)) == ({1}, (100, 100, 200, 200))  # 9 of 30 px
    assert _group(_blob(2, 190, 85, 220, 99, 900.0)) == ({1, 2}, (100, 85, 220, 200))  # 10 of 30 px
    assert _group(_blob(2, 120, 60, 180, 90, 999.0)) == ({1, 2}, (100, 60, 200, 200))


def test_a_speck_joins_only_inside_the_digit() -> None:
    assert _group(_blob(2, 210, 150, 212, 152, 29.0)) == ({1}, (100, 100, 200, 200))  # beside
    assert _group(_blob(2, 210, 150, 212, 152, 30.0)) == ({1, 2}, (100, 100, 212, 200))
    assert _group(_blob(2, 150, 150, 152, 152, 1.0)) == ({1, 2}, (100, 100, 200, 200))  # inside
    assert _group(_blob(2, 100, 100, 200, 200, 1.0)) == ({1, 2}, (100, 100, 200, 200))  # on the box's edges
    for box in ((99, 150, 101, 152), (150, 99, 152, 101), (199, 150, 201, 152), (150, 199, 152, 201)):
        assert _group(_blob(2, *box, 1.0)) == ({1}, (100, 100, 200, 200))  # one pixel out


def test_pieces_join_in_turn_as_the_digit_grows() -> None:
    """The second piece is near only once the first has stretched the box (and its margin)."""
    first, second = _blob(2, 100, 60, 200, 90, 300.0), _blob(3, 100, 10, 200, 40, 300.0)
    assert _group(second, first) == ({1, 2, 3}, (100, 10, 200, 200))


def test_the_seed_is_the_heaviest_blob() -> None:
    light = _blob(2, 0, 0, 10, 10, 999.0)
    seed, group, box = page._group([light, SEED_BLOB, _blob(3, 400, 400, 410, 410, 5.0)])
    assert (seed, group, box) == (SEED_BLOB, {1}, (100, 100, 200, 200))


# --- finding the digit -----------------------------------------------------------------


def test_find_keeps_only_strength_above_the_threshold() -> None:
    strength = np.zeros((60, 60), np.float32)
    strength[10:50, 20:24] = 0.5
    assert page._find(strength, 0.5) is None
    labels, candidates, seed, group, box, width = page._find(strength, 0.49)
    assert (box, width, group, [b.index for b in candidates]) == ((20, 10, 24, 50), 4.0, {1}, [1])
    assert seed.mass == pytest.approx(0.5 * 160) and labels.shape == (60, 60)


def test_find_sets_solid_regions_aside_unless_nothing_else_is_left() -> None:
    strength = np.zeros((100, 100), np.float32)
    strength[10:40, 10:40] = 1.0  # a 30 px block: solid, the most ink
    strength[50:90, 70:74] = 0.5  # a 4 x 40 stroke
    _, candidates, seed, group, box, width = page._find(strength, 0.2)
    assert [b.index for b in candidates] == [seed.index] == list(group)
    assert (box, width) == ((70, 50, 74, 90), 4.0)
    block = np.zeros((100, 100), np.float32)
    block[10:40, 10:40] = 1.0
    _, candidates, seed, group, box, width = page._find(block, 0.2)
    assert (box, width, len(candidates)) == ((10, 10, 40, 40), 30.0, 1)


def _bar_page() -> np.ndarray:
    gray = np.full((300, 300), PAPER, np.uint8)
    gray[50:250, 100:108] = INK  # an 8 x 200 stroke
    return gray


def test_a_blank_page_has_no_digit() -> None:
    assert page.find_digit(np.full((80, 80), PAPER, np.uint8)) is None


def test_a_stroke_is_found_with_its_box_and_thickened_to_mnists_width() -> None:
    """8 px on 200: 0.04 of the side, thickened by a disc of radius round((28 - 8) / 2) = 10
    (11 px of padding on each side); the stroke itself is full ink."""
    found = page.find_digit(_bar_page())
    assert found.box == (100, 50, 108, 250) and found.other_digits == 0
    ink = found.ink
    assert ink.shape == (222, 30) and ink.dtype == np.float32
    assert (ink[11:211, 11:19] == 1.0).all()
    assert ink[111, 1] == 1.0 and ink[111, 0] == 0.0 and ink[111, 29] == 0.0 and ink[111, 28] == 1.0
    assert ink[0, 15] == 0.0 and ink[1, 15] == 1.0 and ink[221, 15] == 0.0


def test_light_strokes_on_a_dark_ground_are_found_the_same() -> None:
    gray = np.full((300, 300), 40, np.uint8)
    gray[50:250, 100:108] = 220
    found = page.find_digit(gray)
    assert found.box == (100, 50, 108, 250) and found.ink.shape == (222, 30)
    assert (found.ink[11:211, 11:19] == 1.0).all()


def test_a_pocket_of_shadow_against_the_stroke_is_left_out_on_the_second_look() -> None:
    """A 40 px pocket of shadowed paper touching the stroke: the first closing (61 px) fills
    it and takes it for ink joined to the stroke; the second, three stroke widths wide (27
    px), does not, and the digit is the stroke alone, boxed in the page's pixels."""
    gray = _bar_page()
    gray[100:140, 108:148] = 150
    strength = page.ink_strength(gray, dark_ink=True)
    assert page._find(strength, page.ink_threshold(strength))[4] == (100, 50, 148, 250)  # the first look
    found = page.find_digit(gray)
    assert found.box == (100, 50, 108, 250)
    assert found.ink.shape == (222, 30) and (found.ink[11:61, 11:19] == 1.0).all()  # above the pocket


def test_digit_sized_blobs_beside_the_digit_are_counted() -> None:
    gray = np.full((300, 300), PAPER, np.uint8)
    gray[50:250, 40:48] = INK  # the digit: 8 x 200 = 1600 px
    gray[50:154, 120:124] = INK  # 4 x 104 = 416 px (0.26 of its ink), over half its height: counted
    gray[50:240, 160:162] = INK  # 2 x 190 = 380 px: too little ink
    gray[50:148, 200:208] = INK  # 8 x 98: too short
    gray[50:150, 240:248] = INK  # 8 x 100: exactly half the height, not over it
    found = page.find_digit(gray)
    assert found.box == (40, 50, 48, 250) and found.other_digits == 1


# --- soft ink, stroke width, stroke normalisation ---------------------------------------


def test_soft_ink_runs_from_half_the_threshold_to_the_strokes_90th_percentile() -> None:
    strength = np.zeros((20, 20), np.float32)
    pieces = np.zeros((20, 20), np.uint8)
    strength[0, :10] = np.arange(1, 11) / 10  # the strokes: 0.1 .. 1.0, 90th percentile 0.91
    pieces[0, :10] = 1
    strength[5, 5] = 0.505  # rim: (0.505 - 0.1) / (0.91 - 0.1) = 0.5
    strength[5, 6] = 0.05  # below the floor
    ink = page.soft_ink(strength, pieces, 0.2, width=4.0)  # 4 / 20: no change of width
    assert ink.dtype == np.float32 and ink.shape == (20, 20)
    assert ink[5, 5] == pytest.approx(0.5, abs=1e-5) and ink[5, 6] == 0.0 and ink[0, 9] == 1.0
    assert ink[0, 4] == pytest.approx((0.5 - 0.1) / 0.81, abs=1e-5)


def test_soft_ink_without_strokes_peaks_at_one_and_never_divides_by_zero() -> None:
    strength = np.zeros((20, 20), np.float32)
    strength[3, 3] = 0.55
    ink = page.soft_ink(strength, np.zeros((20, 20), np.uint8), 0.2, width=4.0)
    assert ink[3, 3] == pytest.approx((0.55 - 0.1) / 0.9, abs=1e-5)
    flat = np.full((20, 20), 0.3, np.float64)  # strokes at the floor: the peak is the floor
    flat[0, 0] = 0.3 + 5e-7
    ink = page.soft_ink(flat, np.ones((20, 20), np.uint8), 0.6, width=4.0)
    assert ink[0, 0] == pytest.approx(0.5, abs=1e-3) and ink[5, 5] == 0.0


def test_soft_ink_measures_the_width_when_not_given() -> None:
    """A 1 px line 40 long measures 2 px: 0.05 of the side, thickened by round(1.8) = 2."""
    strength = np.zeros((40, 40), np.float32)
    strength[:, 20] = 1.0
    pieces = (strength > 0).astype(np.uint8)
    assert page.soft_ink(strength, pieces, 0.2).shape == (46, 46)
    assert page.soft_ink(strength, pieces, 0.2, width=8.0).shape == (40, 40)


def test_the_stroke_width_is_twice_the_ridge_distance() -> None:
    assert page.stroke_width(np.ones((40, 8), np.uint8)) == 8.0  # the picture's edge is paper
    assert page.stroke_width(_bar_mask(40, 8)) == 8.0  # the paper round it is no ridge
    assert page.stroke_width(_bar_mask(40, 1)) == 2.0
    assert page.stroke_width(np.zeros((10, 10), np.uint8)) == 0.0


def test_a_stroke_within_the_band_is_left_alone() -> None:
    ink = np.random.default_rng(0).random((100, 60)).astype(np.float32)
    for width in (9.0, 20.0, 30.0):  # 0.09 .. 0.3 of the longer side, both ends included
        assert page.normalise_stroke(ink, width) is ink
    assert page.normalise_stroke(ink, 0.0) is ink  # no width measured
    tiny = np.ones((7, 7), np.float32)
    assert page.normalise_stroke(tiny, 0.5) is tiny  # under 8 px: too small to judge


def test_a_thin_stroke_is_dilated_to_the_target_width() -> None:
    ink = np.zeros((100, 100), np.float32)
    ink[10:90, 50] = 1.0
    thick = page.normalise_stroke(ink, 8.0)  # radius round((14 - 8) / 2) = 3, padded by 4
    assert thick.shape == (108, 108)
    row = thick[54]
    assert np.flatnonzero(row).tolist() == [51, 52, 53, 54, 55, 56, 57]
    assert page.normalise_stroke(np.zeros((8, 8), np.float32), 0.5).shape == (10, 10)  # radius 0, pad 1


def test_a_thick_stroke_is_eroded_by_at_most_half_its_width_less_one() -> None:
    band = np.zeros((10, 10), np.float32)
    band[:, 1:8] = 1.0  # 7 px on a 10 px side: radius min(2.8, 2.5) -> 2
    thinned = page.normalise_stroke(band, 7.0)
    assert np.flatnonzero(thinned[5]).tolist() == [3, 4, 5]
    wide = np.zeros((100, 100), np.float32)
    wide[:, 20:60] = 1.0  # 40 px on 100: radius round((40 - 14) / 2) = 13
    assert np.flatnonzero(page.normalise_stroke(wide, 40.0)[50]).tolist() == list(range(33, 47))
    square = np.zeros((8, 8), np.float32)
    square[:, 1:6] = 1.0
    assert np.flatnonzero(page.normalise_stroke(square, 4.0)[4]).tolist() == [2, 3, 4]  # radius 1
    assert page.normalise_stroke(square, 2.6) is square  # radius round(0.3) = 0: left alone
