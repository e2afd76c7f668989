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


def test_the_polarity_is_decided_from_the_picture_unless_given() -> None:
    paper = _dotted((50, 50), 5, 200, 50)
    assert page.ink_strength(paper)[25, 25] == pytest.approx(0.75)
    assert page.ink_strength(paper.astype(np.float32))[25, 25] == pytest.approx(0.75)


def test_dark_ink_in_a_float_picture_is_a_reflectance_against_at_least_one() -> None:
    gray = _dotted((50, 50), 5, 200.0, 50.0, np.float32)
    assert page.ink_strength(gray, dark_ink=True)[25, 25] == pytest.approx(0.75)
    assert page.ink_strength(gray, dark_ink=True).dtype == np.float32
    assert page.ink_strength(gray.astype(np.float64), dark_ink=True).dtype == np.float32
    dim = _dotted((50, 50), 5, 0.8, 0.4, np.float32)  # background below 1: divided by 1
    strength = page.ink_strength(dim, dark_ink=True)
    assert strength[25, 25] == pytest.approx(0.6) and strength[0, 0] == pytest.approx(0.2)  # paper too


def test_light_ink_is_a_difference_over_the_bright_tail() -> None:
    board = _dotted((50, 50), 6, 40, 200)  # 36 px of chalk: 1.4% of the picture, so the tail is 200
    assert page.is_dark_ink(board) is False
    for strength in (page.ink_strength(board), page.ink_strength(board, dark_ink=False)):
        assert strength[25, 25] == pytest.approx(0.8) and strength[0, 0] == 0.0
        assert strength.dtype == np.float32
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
        ((10, 10, 41, 12), True),  # 31 x 2: a ruled line (longer than 15 x 2 and 0.4 x 70)
        ((10, 10, 40, 12), False),  # 30 x 2: exactly 15 times as long as thick
        ((10, 10, 41, 13), False),  # 31 x 3
    ],
)
def test_page_furniture_spans_the_page_or_is_a_long_flat_line(box: tuple, furniture: bool) -> None:
    assert page.is_page_furniture(_blob(1, *box, 1.0), 100, 70 if box[2] < 50 else 200) is furniture


def test_a_ruled_line_must_also_be_long_against_the_page() -> None:
    line = _blob(1, 10, 10, 41, 12, 1.0)  # 31 x 2
    assert page.is_page_furniture(line, 100, 77) is True  # 0.4 x 77 = 30.8
    assert page.is_page_furniture(line, 100, 78) is False  # 0.4 x 78 = 31.2
    assert page.is_page_furniture(_blob(1, 10, 10, 40, 11, 1.0), 100, 75) is False  # 30 = 0.4 x 75


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


@pytest.mark.parametrize("box", [(22, 12, 25, 18), (5, 12, 8, 18), (12, 22, 18, 25), (12, 5, 18, 8)])
def test_a_blob_exactly_the_margin_away_is_not_near(box: tuple) -> None:
    assert page._near(_blob(1, *box, 1.0), (10, 10, 20, 20), 2.0) is False


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


def test_candidates_leave_out_a_band_across_the_page() -> None:
    mask = np.zeros((100, 200), np.uint8)
    mask[80:100, :] = 1  # the table's edge along the bottom: left to right, 20 px high
    mask[10:40, 50:54] = 1
    _, kept = page._candidates(mask, mask.astype(np.float32))
    assert [(b.x0, b.y0, b.x1, b.y1) for b in kept] == [(50, 10, 54, 40)]


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


WIDE = _blob(1, 10, 100, 110, 150, 1000.0)  # 100 x 50: margin 20, from the longer side


def _wide(*others: Blob) -> tuple[set[int], tuple[int, int, int, int]]:
    seed, group, box = page._group([*others, WIDE])
    assert seed is WIDE
    return group, box


def test_a_wide_digits_margin_comes_from_its_width() -> None:
    assert _wide(_blob(2, 10, 60, 110, 81, 300.0)) == ({1, 2}, (10, 60, 110, 150))  # 19 px above
    assert _wide(_blob(2, 10, 60, 110, 76, 300.0)) == ({1}, (10, 100, 110, 150))  # 24 px above
    assert _wide(_blob(2, 115, 100, 125, 150, 300.0)) == ({1, 2}, (10, 100, 125, 150))  # 5 px right


def test_the_overlap_and_inside_tests_read_the_boxs_x_sides() -> None:
    assert _wide(_blob(2, 101, 80, 131, 95, 900.0)) == ({1}, (10, 100, 110, 150))  # 9 of 30 px over it
    assert _wide(_blob(2, 40, 80, 70, 95, 900.0)) == ({1, 2}, (10, 80, 110, 150))  # all 30 px over it
    assert _wide(_blob(2, 20, 110, 22, 112, 1.0)) == ({1, 2}, (10, 100, 110, 150))  # a speck inside
    assert _wide(_blob(2, 120, 110, 122, 112, 1.0)) == ({1}, (10, 100, 110, 150))  # beside, 10 px right


def test_a_blob_passed_over_does_not_stop_the_others_joining() -> None:
    beside, speck = _blob(2, 120, 100, 200, 150, 900.0), _blob(3, 115, 100, 117, 102, 1.0)
    piece = _blob(4, 10, 60, 110, 81, 300.0)
    assert _wide(beside, piece) == ({1, 4}, (10, 60, 110, 150))
    assert _wide(speck, piece) == ({1, 4}, (10, 60, 110, 150))


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
    """Black ink on this paper has strength exactly 1: the masses are pixel counts."""
    gray = np.full((300, 300), PAPER, np.uint8)
    gray[50:250, 40:48] = 0  # the digit: 8 x 200 = 1600 px
    gray[50:151, 120:124] = 0  # 4 x 101 = 404 px (over a quarter), 101 px high (over half): counted
    gray[50:250, 160:162] = 0  # 2 x 200 = 400 px: exactly a quarter of the ink, not over it
    gray[50:148, 200:208] = 0  # 8 x 98: too short
    gray[50:150, 240:248] = 0  # 8 x 100: exactly half the height, not over it
    found = page.find_digit(gray)
    assert found.box == (40, 50, 48, 250) and found.other_digits == 1


def test_the_second_look_stays_around_the_digit() -> None:
    """The pocket page with a heavier stroke on each side, each just outside the second look's
    crop (the first look's box, pocket included, and 2 x 27 px): the digit stays the stroke.
    The page is 250 px wide (first closing 51 px, second look for closings under 30 px) and
    the crop starts below the page's top, so its offset is added back."""
    gray = np.full((320, 250), PAPER, np.uint8)
    gray[60:260, 100:108] = INK
    gray[120:160, 108:128] = 150  # a pocket: with the stroke 28 px of dark, filled by 51 or 29 px, not 27
    gray[40:280, 192:199] = INK  # 7 x 240: more ink than the stroke, less than stroke and pocket
    gray[40:280, 30:37] = INK
    strength = page.ink_strength(gray, dark_ink=True)
    assert page._find(strength, page.ink_threshold(strength))[4] == (100, 60, 128, 260)
    found = page.find_digit(gray)
    assert found.box == (100, 60, 108, 260) and found.other_digits == 2


def test_the_second_look_of_thin_strokes_reaches_a_quarter_of_the_digit_out() -> None:
    """A 2 px stroke (closing 9 px) beside a pocket: the second look reaches a quarter of the
    digit's height out (50 px, more than 2 x 9). There the stroke alone is the seed, and two
    specks of 12 (over 3% of the stroke's 348, under 3% of 515 with the pocket) join it, one
    36 px right of its box and one 35 px below; the strokes 51 px out on either side do not."""
    gray = np.full((300, 300), PAPER, np.uint8)
    gray[50:250, 100:102] = INK
    gray[100:140, 102:114] = 150  # the pocket: 12 px, filled by the 61 px closing, not by 9 px
    gray[150:157, 135:137] = INK  # the speck on the right
    gray[285:292, 100:102] = INK  # the speck below
    gray[30:270, 165:167] = INK  # 417: more than the stroke, less than the stroke and pocket
    gray[30:270, 46:48] = INK
    strength = page.ink_strength(gray, dark_ink=True)
    assert page._find(strength, page.ink_threshold(strength))[4] == (100, 50, 114, 250)  # specks left out
    found = page.find_digit(gray)
    assert found.box == (100, 50, 137, 292) and found.other_digits == 2


def test_the_second_look_reaches_exactly_twice_the_fitted_closing_out() -> None:
    """The page above, one heavier stroke on the right only. The second look's crop is the
    first look's box (100, 60, 128, 260) and 2 x 27 = 54 px: up to x = 182. A heavier stroke
    wholly inside it (175-182) is the second look's seed and becomes the digit; 2 px farther
    right (177-184) only 5 of its 7 columns are in the crop, lighter than the stroke, and
    the stroke stays the digit. (A pad of a quarter of the box, 50 px, would leave the first
    one out too.)"""
    for x0, box in ((175, (175, 40, 182, 280)), (177, (100, 60, 108, 260))):
        gray = np.full((320, 250), PAPER, np.uint8)
        gray[60:260, 100:108] = INK
        gray[120:160, 108:128] = 150
        gray[40:280, x0 : x0 + 7] = INK  # 7 x 240: more ink than the stroke, less than stroke and pocket
        assert page.find_digit(gray).box == box


@pytest.mark.parametrize(("x", "y"), [(200, 50), (20, 100)])
def test_the_second_look_of_thin_strokes_reaches_a_quarter_of_the_digits_height_out(x: int, y: int) -> None:
    """The thin stroke's page with the digit moved (its box's corner no longer where its
    sides' lengths were): the speck 35 px below still joins, a quarter of the 200 px height
    being 50 px, whatever x0 and y0 are."""
    gray = np.full((y + 260, x + 100), PAPER, np.uint8)
    gray[y : y + 200, x : x + 2] = INK
    gray[y + 50 : y + 90, x + 2 : x + 14] = 150  # the pocket
    gray[y + 235 : y + 242, x : x + 2] = INK  # the speck below
    found = page.find_digit(gray)
    assert found.box == (x, y, x + 2, y + 242)


@pytest.mark.parametrize("turn", [False, True])
def test_a_thin_bar_beside_a_wide_one_sets_the_width_when_it_has_more_ridge(turn: bool) -> None:
    """A 5 px bar 30 px long and a 2 px bar 15 px long leaving its side: the thin bar's
    ridge (both its rows, at distance 1) outnumbers the wide bar's middle column (at 3), so
    the median width is the thin bar's, 2 px, across or along the page. The ridge is where the
    distance is the largest within one pixel: a window reaching two pixels to one side
    drops thin-bar ridge pixels beside the wide bar."""
    pieces = np.zeros((40, 40), np.uint8)
    pieces[5:35, 10:15] = 1
    pieces[18:20, 15:30] = 1
    assert page.stroke_width(pieces.T.copy() if turn else pieces) == 2.0


def test_a_pocket_narrower_than_the_fitted_closing_stays_with_the_digit() -> None:
    """Beside a stroke at the picture's left (the crop is cut there, 99 px wide), shadow and
    stroke 25 px across are filled by the 27 px closing; 30 px across are not."""
    gray = np.full((300, 300), PAPER, np.uint8)
    gray[50:250, 20:28] = INK
    gray[100:140, 28:45] = 150
    assert page.find_digit(gray).box == (20, 50, 45, 250)
    gray[100:140, 45:50] = 150
    assert page.find_digit(gray).box == (20, 50, 28, 250)


def test_no_second_look_when_its_closing_would_be_no_smaller() -> None:
    """225 px: the limit is 0.6 x 225 / 5 = 27 px, exactly the fitted closing: one look, and
    the pocket stays in the box."""
    gray = np.full((225, 300), PAPER, np.uint8)
    gray[10:210, 100:108] = INK
    gray[60:100, 108:136] = 150
    assert page.find_digit(gray).box == (100, 10, 136, 210)


def test_a_second_look_that_keeps_too_little_of_the_ink_is_not_taken() -> None:
    """A 2 px stroke along a pocket that holds most of the first look's ink: the second look
    (a 9 px closing) keeps the stroke alone, 348 of 1322, under 30%: the first look stands."""
    gray = np.full((300, 300), PAPER, np.uint8)
    gray[50:250, 100:102] = INK
    gray[100:170, 102:142] = 150
    assert page.find_digit(gray).box == (100, 50, 142, 250)


def test_a_second_look_must_keep_over_30_percent_of_the_ink() -> None:
    """Paper 128, black ink (strength exactly 1), a pocket at 64 (strength exactly 0.5): the
    first look holds 300 + 1400 x 0.5 = 1000, the second the stroke alone, 300: exactly 30%,
    not taken; with one more pixel of stroke it is."""
    gray = np.full((300, 300), 128, np.uint8)
    gray[50:200, 100:102] = 0  # 2 x 150
    gray[80:150, 102:122] = 64  # 20 x 70
    assert page.find_digit(gray).box == (100, 50, 122, 200)
    gray[200, 100] = 0
    assert page.find_digit(gray).box == (100, 50, 102, 201)


def test_a_digit_against_the_pictures_corner_keeps_its_first_row_and_column() -> None:
    gray = np.full((300, 300), PAPER, np.uint8)
    gray[0:200, 0:8] = INK
    gray[0:8, 0:100] = INK  # an L whose strokes run along the top and left edges
    assert page.find_digit(gray).box == (0, 0, 100, 200)


def test_the_second_look_reaches_the_bottom_of_a_tall_picture() -> None:
    gray = np.full((300, 250), PAPER, np.uint8)  # taller than wide, the digit near the bottom
    gray[90:290, 100:108] = INK
    assert page.find_digit(gray).box == (100, 90, 108, 290)


def test_the_whole_page_decides_the_polarity_of_the_second_look() -> None:
    """Faint ink in a large shadow on a lit page: dark ink for the page, though the crop round
    the digit, mostly shadow with a lit window in it, would pass for light ink on its own."""
    gray = np.full((300, 300), PAPER, np.uint8)
    gray[20:280, 60:200] = 80  # the shadow
    gray[50:250, 100:108] = 60  # the digit, strength 1 - 60/80 = 0.25
    gray[100:120, 130:150] = PAPER  # a lit window: light "ink" for a crop read on its own
    assert page.is_dark_ink(gray) and not page.is_dark_ink(gray[:, 46:162])
    assert page.find_digit(gray).box == (100, 50, 108, 250)


def test_the_soft_rim_reaches_half_a_stroke_out() -> None:
    """A 60 px digit with 8 px strokes (0.13 of its side: no change of width), and just-too-faint
    ink beside a stroke inside its box: the rim keeps it 1 and 2 px out, not 3; the paper far
    from the strokes stays 0."""
    gray = np.full((300, 300), PAPER, np.uint8)
    gray[100:160, 100:108] = INK
    gray[100:160, 152:160] = INK
    gray[100:108, 100:160] = INK  # a 60 x 60 "n"
    for offset, level in enumerate((210, 212, 214)):  # strength 0.087, 0.078, 0.070: under 0.12
        gray[120:160, 108 + offset] = level
    gray[108:120, 128:132] = INK  # a stub hanging from the top bar
    gray[115, 133] = gray[121, 133] = 212  # 2 px beside its side, and 2 px past its corner both ways
    found = page.find_digit(gray)
    assert found.box == (100, 100, 160, 160) and found.ink.shape == (60, 60)
    row = found.ink[30]
    assert row[8] > 0.0 and row[9] > 0.0 and row[10] == 0.0 and row[30] == 0.0
    assert found.ink[15, 33] > 0.0 and found.ink[21, 33] == 0.0  # the rim is round (an ellipse)


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
    assert page.stroke_width(np.ones((8, 40), np.uint8)) == 8.0  # the top and bottom edges too


def test_the_stroke_width_uses_exact_euclidean_distances_in_float32() -> None:
    """A disc of radius 10: the nearest paper to its centre is (10, 1) away, sqrt(101)."""
    yy, xx = np.mgrid[-15:16, -15:16]
    disc = ((yy**2 + xx**2) <= 100).astype(np.uint8)
    assert page.stroke_width(disc) == 2.0 * float(np.float32(np.sqrt(101)))


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


def test_strokes_grow_and_shrink_by_a_disc_not_a_square() -> None:
    dot = np.zeros((100, 100), np.float32)
    dot[50, 50] = 1.0
    grown = page.normalise_stroke(dot, 8.0)  # radius 3, padded by 4: the dot is at (54, 54)
    assert grown[54, 51] == 1.0 and grown[54, 57] == 1.0 and grown[51, 54] == 1.0  # 3 px across and down
    assert grown[51, 51] == 0.0 and grown[57, 57] == 0.0 and grown[52, 51] == 0.0  # not the square's corners
    holed = np.ones((20, 20), np.float32)
    holed[10, 10] = 0.0  # 10 px on 20: radius round(min((10 - 2.8) / 2, 4)) = 4
    shrunk = page.normalise_stroke(holed, 10.0)
    assert shrunk[10, 14] == 0.0 and shrunk[14, 10] == 0.0  # the hole grows 4 px across and down
    assert shrunk[14, 14] == 1.0 and shrunk[6, 6] == 1.0  # but not into the square's corners
