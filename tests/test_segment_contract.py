"""`lenet5.reader.segment` rule by rule on hand-made ink: the least-ink paths against a plain
reference, the graph's arcs, specks and page edges, stroke evening, the bounds on the work,
and boxes in the picture's pixels (no model: `make mutation` runs these)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lenet5.reader import segment
from lenet5.reader.segment import (
    MAX_PIECES,
    Piece,
    Segmentation,
    _arcs,
    _bounded,
    _cut_paths,
    _even_strokes,
    _ink_blobs,
    _least_ink,
    _piece,
    _trace,
    over_segment,
    segment_ink,
)
from lenet5.vision import page
from lenet5.vision.preprocess import NoInkError, render_mnist


def _reference_least_ink(ink: np.ndarray, step: float) -> np.ndarray:
    h, w = ink.shape
    total = np.array(ink[0], dtype=np.float64)
    rows = [total.copy()]
    for y in range(1, h):
        new = np.empty(w)
        for x in range(w):
            options = [total[x]]
            if x > 0:
                options.append(total[x - 1] + step)
            if x < w - 1:
                options.append(total[x + 1] + step)
            new[x] = min(options) + ink[y, x]
        total = new
        rows.append(total.copy())
    return np.array(rows)


@pytest.mark.parametrize("seed", range(4))
def test_least_ink_is_the_cheapest_path_and_traces_back_to_it(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ink = rng.uniform(0, 1, (7, 6)).astype(np.float32)
    ink[rng.uniform(size=ink.shape) < 0.3] = 0
    total, came_from = _least_ink(ink, 0.25)
    np.testing.assert_allclose(total, _reference_least_ink(ink, 0.25), rtol=1e-5)
    assert set(np.unique(came_from[1:])) <= {-1, 0, 1} and not came_from[0].any()
    columns = np.arange(6)
    paths = _trace(came_from, 6, columns)
    assert paths.shape == (7, 6) and np.array_equal(paths[6], columns)
    for k in range(6):  # each traced path costs what total says, moving one column at most
        path = paths[:, k]
        assert np.all(np.abs(np.diff(path)) <= 1) and np.all((path >= 0) & (path < 6))
        cost = ink[np.arange(7), path].sum() + 0.25 * np.abs(np.diff(path)).sum()
        assert cost == pytest.approx(total[6, k], rel=1e-5)


def test_least_ink_prefers_straight_down_then_left_on_ties() -> None:
    ink = np.zeros((2, 3), np.float32)
    _, came_from = _least_ink(ink, 0.0)
    assert came_from[1].tolist() == [0, 0, 0]
    ink = np.array([[1, 0, 1], [0, 0, 0]], np.float32)
    total, came_from = _least_ink(ink, 0.5)
    assert came_from[1].tolist() == [1, 0, -1] and total[1].tolist() == [0.5, 0.0, 0.5]
    ink = np.array([[0, 1, 0], [0, 0, 0]], np.float32)
    _, came_from = _least_ink(ink, 0.0)
    assert came_from[1, 1] == -1  # left and right alike: from the left


def test_trace_of_the_top_row_is_the_columns() -> None:
    came_from = np.zeros((3, 4), np.int8)
    assert _trace(came_from, 0, np.array([2, 1])).tolist() == [[2, 1]]
    came_from[2] = [0, -1, 1, 0]
    came_from[1] = [1, 0, 0, -1]
    assert _trace(came_from, 2, np.array([1, 2])).T.tolist() == [[1, 0, 1], [2, 3, 2]]


def test_piece_is_cropped_to_its_ink() -> None:
    mask = np.zeros((6, 8), bool)
    mask[2:4, 3:7] = True
    mask[4, 5] = True
    piece = _piece(mask, 10, 20)
    assert (piece.x0, piece.y0, piece.x1, piece.y1) == (13, 22, 17, 25)
    assert piece.mask.shape == (3, 4) and piece.mask.sum() == 9
    assert piece.centre == 15.0
    assert _piece(np.zeros((3, 3), bool), 0, 0) is None


def _pieces(*spans: tuple[int, int]) -> list[Piece]:
    return [Piece(np.ones((10, x1 - x0), bool), x0, 0, x1, 10) for x0, x1 in spans]


def test_arcs_join_neighbours_until_a_gap_or_too_wide() -> None:
    height = 10.0  # GAP: 2 px, widest digit: 16 px
    pieces = _pieces((0, 4), (5, 9), (11, 15), (18, 20))
    # 1->2: gap 2 (not more than GAP), 2->3: gap 3 (a clear gap)
    assert _arcs(pieces, height) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (3, 4)]
    wide = _pieces((0, 8), (8, 16), (16, 17))
    # (0, 2) is exactly 16 px wide: kept; (0, 3) 17 px: too wide
    assert _arcs(wide, height) == [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]
    assert _arcs(_pieces((0, 30)), height) == [(0, 1)]  # a single piece is always an arc


def test_arcs_hold_at_most_max_pieces_per_digit() -> None:
    pieces = _pieces(*[(k, k + 1) for k in range(12)])
    arcs = _arcs(pieces, 100.0)
    assert max(j - i for i, j in arcs) == segment.MAX_PIECES_PER_DIGIT
    assert (0, 10) in arcs and (2, 12) in arcs and (0, 11) not in arcs
    assert len(arcs) == sum(min(12 - i, 10) for i in range(12))


def test_arcs_take_the_union_of_the_pieces_boxes() -> None:
    def piece(x0: int, x1: int) -> Piece:
        return Piece(np.ones((2, x1 - x0), bool), x0, 0, x1, 2)

    # the second piece lies inside the first's span: the arc still ends at the first's end
    assert (0, 3) in _arcs([piece(0, 15), piece(3, 5), piece(12, 16)], 10.0)
    # a piece starting left of the arc (sorted by centre) widens it to the left
    assert (0, 3) not in _arcs([piece(5, 10), piece(0, 16), piece(14, 17)], 10.0)
    assert (0, 2) in _arcs([piece(5, 10), piece(0, 16), piece(14, 17)], 10.0)


def test_the_work_per_line_is_bounded() -> None:
    _bounded(MAX_PIECES)
    with pytest.raises(NoInkError) as excinfo:
        _bounded(MAX_PIECES + 1)
    assert str(excinfo.value) == f"no number found ({MAX_PIECES + 1} separate marks: not a line of digits)"


def test_a_page_of_dots_is_refused_before_any_cut() -> None:
    strength = np.zeros((40, 800), np.float32)
    for x in range(4, 800, 10):
        strength[18:22, x : x + 3] = 1.0
    with pytest.raises(NoInkError, match="separate marks"):
        segment_ink(strength, 0.3, furniture=False)


def test_specks_go_and_page_edges_go_unless_already_cleaned() -> None:
    strength = np.zeros((60, 100), np.float32)
    strength[10:50, 20:26] = 1.0  # a digit's stroke: mass 240
    strength[10:12, 40:44] = 1.0  # 8 px: 3.3% of it, kept
    strength[30:32, 60:63] = 1.0  # 6 px: 2.5%, a speck
    strength[0:60, 95:100] = 1.0  # a page edge down the right side
    labels, blobs = _ink_blobs(strength, 0.5)
    assert sorted((b.x0, b.width) for b in blobs) == [(20, 6), (40, 4)]
    _, blobs = _ink_blobs(strength, 0.5, furniture=False)
    assert sorted(b.x0 for b in blobs) == [20, 95]  # the edge kept is the heaviest: 8 px is a speck of it
    assert labels.shape == strength.shape


def test_a_line_of_only_page_edge_has_no_ink() -> None:
    strength = np.zeros((60, 100), np.float32)
    strength[0:60, 0:4] = 1.0
    with pytest.raises(NoInkError) as excinfo:
        _ink_blobs(strength, 0.5)
    assert str(excinfo.value) == "no ink found (blank or near-uniform image)"
    with pytest.raises(NoInkError):
        _ink_blobs(np.zeros((5, 5), np.float32), 0.5)


def _stroke(width: int, height: int = 40) -> np.ndarray:
    strength = np.zeros((height + 20, 60), np.float32)
    strength[10 : 10 + height, 30 - width // 2 : 30 - width // 2 + width] = 1.0
    return strength


def test_strokes_are_evened_to_mnists_proportion() -> None:
    thin = _stroke(2)
    thick = _even_strokes(thin, 0.5, 40.0)
    assert page.stroke_width((thick > 0.5).astype(np.uint8)) > 4  # a pen line, thickened
    fat = _stroke(16)
    thinned = _even_strokes(fat, 0.5, 40.0)
    assert 2 < page.stroke_width((thinned > 0.5).astype(np.uint8)) < 14  # a marker, thinned
    fine = _stroke(6)
    assert _even_strokes(fine, 0.5, 40.0) is fine  # in the band: as it is
    assert _even_strokes(thin, 0.5, 7.9) is thin  # too small to judge
    assert _even_strokes(np.zeros((20, 20), np.float32), 0.5, 20.0) is not None


def test_a_marker_is_never_thinned_away() -> None:
    fat = _stroke(4, height=12)  # 4 px of 12: a third of the height, over the band
    thinned = _even_strokes(fat, 0.5, 12.0)
    assert (thinned > 0.5).any()


def test_rendered_boxes_are_in_the_pictures_pixels() -> None:
    ink = np.zeros((20, 30), np.float32)
    ink[5:15, 3:6] = 1.0
    ink[5:15, 20:23] = 1.0
    mask = np.ones((10, 3), bool)
    pieces = [Piece(mask, 3, 5, 6, 15), Piece(mask, 20, 5, 23, 15)]
    found = Segmentation(ink, 0.5, pieces, [(0, 1), (1, 2), (0, 2)])
    digits, boxes = found.rendered()
    assert digits.shape == (3, 28, 28) and digits.dtype == np.uint8
    assert boxes == [(6, 10, 12, 30), (40, 10, 46, 30), (6, 10, 46, 30)]
    third = Segmentation(ink, 0.3, pieces, [(0, 1)])
    assert third.rendered()[1] == [(10, 16, 20, 50)]  # starts rounded down, ends up
    some, boxes = found.rendered([2])
    assert boxes == [(6, 10, 46, 30)] and some.shape == (1, 28, 28)
    np.testing.assert_array_equal(some[0], digits[2])
    none, boxes = Segmentation(ink, 1.0, pieces, []).rendered()
    assert none.shape == (0, 28, 28) and none.dtype == np.uint8 and boxes == []


def test_an_arc_renders_only_its_own_pieces_ink() -> None:
    ink = np.zeros((20, 20), np.float32)
    ink[2:18, 2:6] = 1.0
    ink[2:18, 8:10] = 1.0  # another piece's ink, inside the arc's box
    ink[2:18, 10:12] = 1.0
    left = Piece(np.ones((16, 4), bool), 2, 2, 6, 18)
    right = Piece(np.ones((16, 2), bool), 10, 2, 12, 18)
    both, _ = Segmentation(ink, 1.0, [left, right], [(0, 2)]).rendered()
    clean = ink.copy()
    clean[:, 8:10] = 0  # but for its rim, the column next to the right piece
    clean[:, 9] = ink[:, 9]
    expected, _ = Segmentation(clean, 1.0, [left, right], [(0, 2)]).rendered()
    np.testing.assert_array_equal(both, expected)


def test_a_tall_line_is_segmented_at_forty_pixels() -> None:
    strength = np.zeros((200, 300), np.float32)
    strength[20:180, 40:52] = 1.0  # a 160 px "1"
    strength[20:180, 160:172] = 1.0
    found = segment_ink(strength, 0.5, furniture=False)
    assert found.scale == pytest.approx(40 / 160)
    assert found.ink.shape == (50, 75)
    assert len(found.pieces) == 2 and found.arcs == [(0, 1), (1, 2)]
    _, boxes = found.rendered()
    for box, x in zip(boxes, (40, 160), strict=True):
        assert abs(box[0] - x) <= 8 and abs(box[1] - 20) <= 8 and abs(box[3] - 180) <= 8


def test_soft_ink_runs_from_half_the_threshold_to_the_strokes_peak() -> None:
    strength = np.zeros((40, 40), np.float32)
    strength[5:35, 10:16] = 0.8
    strength[5:35, 16:18] = 0.2  # a soft rim: above half the threshold, below it
    found = segment_ink(strength, 0.3, furniture=False)
    assert found.scale == 1.0
    assert found.ink.max() == pytest.approx(1.0) and found.ink.dtype == np.float32
    assert found.ink[20, 17] == pytest.approx((0.2 - 0.15) / (0.8 - 0.15), rel=1e-5)
    assert found.ink[0, 0] == 0.0


def test_cut_paths_of_a_narrow_or_flat_blob_are_none() -> None:
    assert _cut_paths(np.ones((40, 16), np.float32), 40.0) == []  # w <= 2 * margin (8)
    assert _cut_paths(np.ones((2, 60), np.float32), 40.0) == []  # under 3 rows
    assert len(_cut_paths(np.ones((3, 60), np.float32), 5.0)) >= 1


def test_cut_paths_are_spaced_counted_and_left_to_right() -> None:
    ink = np.ones((20, 120), np.float32)
    for x in (30, 60, 90):
        ink[:, x] = 0  # three free columns
    cuts = _cut_paths(ink, 20.0)  # 6 line heights wide: up to 7 * 6 = 42 cuts, 2 px apart
    means = [float(c.mean()) for c in cuts]
    assert means == sorted(means)
    assert {30, 60, 90} <= {round(m) for m in means}
    assert all(abs(a - b) >= 2 for a, b in itertools.pairwise(means))
    assert all(len(c) == 20 and c.min() >= 0 and c.max() < 120 for c in cuts)
    few = _cut_paths(np.ones((20, 22), np.float32), 20.0)  # one wide digit: 3 * 1.1 -> 4 cuts at most
    assert 1 <= len(few) <= math.ceil(3 * 22 / 20)


def test_over_segment_keeps_narrow_blobs_whole() -> None:
    mask = np.zeros((30, 80), np.uint8)
    mask[5:25, 5:12] = 1
    mask[5:25, 40:70] = 1  # 30 px wide at height 20: cut
    strength = mask.astype(np.float32)
    labels, blobs = page.find_blobs(mask, strength)
    pieces = over_segment(labels, strength, blobs, 20.0)
    assert pieces[0].x0 == 5 and pieces[0].x1 == 12
    assert len(pieces) > 2
    assert [p.centre for p in pieces] == sorted(p.centre for p in pieces)
    covered = sum(p.mask.sum() for p in pieces)
    assert covered == mask.sum()
    exactly = over_segment(labels, strength, blobs, 40.0)  # 30 px is exactly 0.75 of 40: whole
    assert len(exactly) == 2


# --- the rules the first tests left open (mutation testing, #28) ---


def _blob(labels: np.ndarray, index: int) -> page.Blob:
    ys, xs = np.nonzero(labels == index)
    area = len(ys)
    return page.Blob(index, int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1, area, float(area))


def test_a_blob_up_to_one_and_four_tenths_as_wide_as_high_is_one_digit_high() -> None:
    labels = np.zeros((10, 14), np.int32)
    for x in range(14):  # a slanted bar: every column only 3 high
        labels[min(x * 10 // 14, 7) : min(x * 10 // 14, 7) + 3, x] = 1
    labels[0, 0] = labels[9, 13] = 1
    assert segment._blob_height(labels, _blob(labels, 1)) == 10.0  # 14 = 1.4 x 10: its box's height


def test_a_wider_blob_is_as_high_as_most_of_its_columns() -> None:
    labels = np.zeros((24, 52), np.int32)
    labels[12:22, 1:46] = 3  # 45 columns 10 high (rows 10-19 of the box) ...
    labels[2:22, 46:51] = 3  # ... and 5 columns 20 high: the 90th percentile of 50 is 11
    labels[2:12, 10:20] = 5  # another blob's pixels inside the box do not count
    blob = page.Blob(3, 1, 2, 51, 22, 550, 550.0)
    assert segment._blob_height(labels, blob) == pytest.approx(11.0)
    # a line height is the median over the blobs more than 0.3 as heavy as the heaviest
    tall = page.Blob(4, 0, 0, 1, 24, 24, 165.0)  # exactly 0.3 of 550: left out
    light = page.Blob(5, 10, 12, 20, 24, 120, 120.0)  # 12 high
    assert segment._line_height(labels, [blob, tall]) == pytest.approx(11.0)
    assert segment._line_height(labels, [blob, light]) == pytest.approx(11.0)
    assert segment._line_height(labels, [blob, page.Blob(4, 0, 0, 1, 24, 24, 166.0)]) == pytest.approx(17.5)


def test_the_dynamic_programmes_tables_are_compact() -> None:
    total, came_from = _least_ink(np.ones((4, 5), np.float32), 0.1)
    assert total.dtype == np.float32 and came_from.dtype == np.int8  # 5 bytes a pixel of a line


def test_a_cut_needs_a_column_away_from_both_ends() -> None:
    assert len(_cut_paths(np.ones((3, 3), np.float32), 5.0)) == 1  # margin 1: the middle column only


def test_cut_paths_on_blank_ink_are_the_leftmost_spaced_columns() -> None:
    cuts = _cut_paths(np.zeros((20, 120), np.float32), 20.0)
    # all columns cost nothing: taken left to right (a stable order), 2 px apart, 42 of them
    assert [int(c[0]) for c in cuts] == list(range(4, 88, 2))
    assert all((c == c[0]).all() for c in cuts)


def test_a_cut_follows_a_slanted_seam() -> None:
    ink = np.ones((20, 30), np.float32)
    for y in range(20):
        ink[y, 25 - y] = 0.0  # a free seam down and to the left
    cuts = _cut_paths(ink, 40.0)  # narrow: margin 8, so row 10 (the middle) meets the seam at 15
    assert [25 - y for y in range(20)] in [c.tolist() for c in cuts]


def _seam_and_core(width: int, seam: int, free: int) -> np.ndarray:
    ink = np.ones((20, width), np.float32)
    ink[:, seam] = 0.8  # the soft edges of two strokes meeting
    ink[:, free] = 0.0
    return ink


def test_wide_blobs_weigh_ink_by_a_high_power_and_one_digit_does_not() -> None:
    straight = {tuple(set(c.tolist())) for c in _cut_paths(_seam_and_core(30, 13, 15), 20.0)}
    assert (13,) in straight and (15,) in straight  # wide: the 0.8 seam is nearly free
    straight = {tuple(set(c.tolist())) for c in _cut_paths(_seam_and_core(22, 6, 10), 20.0)}
    assert (10,) in straight and (6,) not in straight  # one digit: 0.8 costs 0.8 a pixel


def test_the_cheapest_cut_is_counted_once_at_the_middle_row() -> None:
    ink = np.ones((20, 40), np.float32)
    ink[:, 20] = 0.125  # 2.5 over its 20 rows
    ink[:, 23] = 0.0
    ink[10, 23] = 1.0  # crosses one core pixel, at the middle row: 1
    cuts = [c.tolist() for c in _cut_paths(ink, 40.0)]
    assert [23] * 20 in cuts and [20] * 20 not in cuts  # 3 apart (under 8): only the cheaper


def test_a_cut_is_found_down_from_the_top_and_up_from_the_bottom() -> None:
    ink = np.ones((21, 30), np.float32)
    for y in range(21):
        ink[y, 5 + y if y <= 10 else 25 - y] = 0.0  # a free seam bent at the middle row
    cuts = [c.tolist() for c in _cut_paths(ink, 40.0)]
    assert [5 + y if y <= 10 else 25 - y for y in range(21)] in cuts


def test_two_piece_arcs_wider_than_a_digit_are_refused() -> None:
    assert _arcs(_pieces((0, 10), (10, 20)), 10.0) == [(0, 1), (1, 2)]


def test_an_arc_renders_the_union_of_its_pieces_filling_holes_by_one_pixel() -> None:
    ink = np.ones((20, 20), np.float32)
    mask = np.ones((10, 9), bool)
    mask[2:8, 2:7] = False  # a hole 6 high and 5 wide: the rim fills its outer ring only
    lower = np.zeros((4, 9), bool)
    lower[:, 4] = True  # a second piece below, overlapping the first's box
    pieces = [Piece(mask, 5, 3, 14, 13), Piece(lower, 5, 10, 14, 14)]
    found = Segmentation(ink, 1.0, pieces, [(0, 2)])
    digit, boxes = found.rendered()
    assert boxes == [(5, 3, 14, 14)]
    expected = np.ones((11, 9), np.float32)  # the ink is everywhere: what shows is the rim's reach
    expected[3:6, 3:6] = 0.0  # the hole less its rim, and less the lower piece's rim (row 6)
    np.testing.assert_array_equal(digit[0], render_mnist(expected))


def test_ink_exactly_at_the_threshold_is_paper() -> None:
    strength = np.zeros((30, 40), np.float32)
    strength[5:25, 5:10] = 1.0
    strength[5:25, 10:12] = 0.5  # exactly the threshold: not ink, so two blobs
    strength[5:25, 12:17] = 1.0
    _, blobs = _ink_blobs(strength, 0.5, furniture=False)
    assert sorted(b.x0 for b in blobs) == [5, 12]


def test_a_rule_across_the_page_is_furniture() -> None:
    strength = np.zeros((30, 40), np.float32)
    strength[5:25, 5:10] = 1.0
    strength[27, 0:40] = 1.0  # from the left border to the right one
    _, blobs = _ink_blobs(strength, 0.5)
    assert [b.x0 for b in blobs] == [5]


def test_a_speck_of_exactly_three_hundredths_is_kept() -> None:
    strength = np.zeros((30, 40), np.float32)
    strength[0:20, 5:15] = 1.0  # 200
    strength[25:27, 30:33] = 1.0  # 6: exactly 0.03 of it
    _, blobs = _ink_blobs(strength, 0.5, furniture=False)
    assert sorted(b.x0 for b in blobs) == [5, 30]


def test_stroke_evening_at_its_edges() -> None:
    blank = np.zeros((60, 60), np.float32)
    assert _even_strokes(blank, 0.5, 40.0) is blank  # no stroke to measure
    at_top = _stroke(6, height=20)
    assert _even_strokes(at_top, 0.5, 20.0) is at_top  # 6 of 20: exactly the band's top
    at_bottom = _stroke(4)
    assert _even_strokes(at_bottom, 0.5, 4 / 0.12) is at_bottom  # exactly the band's bottom
    pen = _stroke(4)  # 4 of 40: a tenth, within one digit's band (0.09) but under a line's (0.12)
    thickened = _even_strokes(pen, 0.5, 40.0)  # 4 -> 5.6: a radius of 1
    assert (thickened[30] > 0.5).sum() == 6
    small = _stroke(4, height=8)
    thinned = _even_strokes(small, 0.5, 8.0)  # 8 px: just tall enough to judge
    assert (thinned[13] > 0.5).sum() == 2


def test_a_pen_line_is_thickened_by_a_disc_to_the_target_width() -> None:
    thick = _even_strokes(_stroke(2), 0.5, 40.0)  # 2 of 40 -> 5.6: a radius of 2
    assert (thick[30] > 0.5).sum() == 6
    assert (thick[8] > 0.5).sum() == 2  # two rows above the stroke: the disc's tip, not a square's side
    assert (thick[9] > 0.5).sum() == 6


def test_a_marker_is_thinned_at_most_to_a_pixel_each_side() -> None:
    fat = _even_strokes(_stroke(10, height=20), 0.5, 20.0)  # 10 of 20 -> 2.8: radius 4 (cap 4)
    assert (fat[20] > 0.5).sum() == 2
    marker = _even_strokes(_stroke(4, height=12), 0.5, 12.0)  # radius 1
    assert (marker[15] > 0.5).sum() == 2
    slanted = np.zeros((40, 40), np.float32)
    for y in range(5, 35):
        slanted[y, y + 1 : y + 4] = 1.0  # 2.83 wide by the distance transform
    assert _even_strokes(slanted, 0.5, 8.0) is slanted  # half of it less one pixel rounds to 0


def test_segment_finds_dark_digits_on_light_paper() -> None:
    gray = np.full((60, 120), 220, np.uint8)
    gray[10:50, 20:26] = 30
    gray[10:50, 80:86] = 30
    found = segment.segment(gray)
    assert [(p.x0, p.x1) for p in found.pieces] == [(20, 26), (80, 86)]
    assert found.arcs == [(0, 1), (1, 2)] and found.scale == 1.0


def _touching_pair(height: int = 40) -> np.ndarray:
    """Two "1"s 1.5 heights apart joined by a bar: one blob wider than 1.4 heights."""
    strength = np.zeros((height + 20, 3 * height), np.float32)
    far = height * 3 // 2
    strength[10 : 10 + height, 10 : 10 + height // 6] = 1.0
    strength[10 : 10 + height, 10 + far : 10 + far + height // 6] = 1.0
    strength[10 + height // 2 : 10 + height // 2 + height // 8, 10 : 10 + far + height // 6] = 1.0
    return strength


def test_segment_ink_cuts_a_wide_blob_and_drops_page_edges_by_default() -> None:
    strength = _touching_pair()
    strength[:, -3:] = 1.0  # a page edge
    found = segment_ink(strength, 0.5)
    assert len(found.pieces) >= 2 and all(p.x1 < strength.shape[1] - 3 for p in found.pieces)
    assert found.pieces[0].x0 == 10 and max(p.x1 for p in found.pieces) == 10 + 60 + 6


def test_segment_ink_keeps_a_word_that_fills_its_canvas() -> None:
    strength = np.zeros((40, 30), np.float32)
    strength[:, 10:16] = 1.0  # top to bottom: a page edge on a page, a "1" in a word's box
    found = segment_ink(strength, 0.5, furniture=False)
    assert [(p.x0, p.x1, p.y0, p.y1) for p in found.pieces] == [(10, 16, 0, 40)]
    with pytest.raises(NoInkError):
        segment_ink(strength, 0.5)


def test_a_tall_wide_line_is_shrunk_then_cut() -> None:
    strength = _touching_pair(160)
    strength[:, -3:] = 1.0  # a page edge, found again after shrinking
    found = segment_ink(strength, 0.5)
    assert found.scale == pytest.approx(0.25)
    assert len(found.pieces) >= 2 and max(p.x1 for p in found.pieces) <= (10 + 240 + 26) * 0.25 + 1
    assert 2 <= min(p.x0 for p in found.pieces) <= 3


def test_a_shrunk_picture_keeps_its_ink_by_area() -> None:
    strength = np.zeros((200, 120), np.float32)
    strength[20:180, 41:65] = 1.0  # a 160 px "1", 24 wide: in the band, not evened
    found = segment_ink(strength, 0.5, furniture=False)
    row = found.ink[25]
    # columns 40-43 shrink to one: 3 of 4 inked, 0.75 (soft ink from 0.25 to 1: 2/3)
    assert row[10] == pytest.approx(2 / 3, rel=1e-5)
    assert row[11:16].tolist() == [1.0] * 5 and row[16] == 0.0  # 64-67: a quarter, the floor


def test_a_narrow_tall_picture_is_at_least_a_pixel_wide() -> None:
    strength = np.zeros((400, 3), np.float32)
    strength[20:380, 1] = 1.0
    found = segment_ink(strength, 0.2, furniture=False)
    assert found.ink.shape == (44, 1)  # 400 x 3 at 40/360


def test_strokes_evened_at_full_scale_are_segmented_as_evened() -> None:
    found = segment_ink(_stroke(2), 0.5, furniture=False)  # a pen line, thickened to 6
    assert [(p.x0, p.x1) for p in found.pieces] == [(27, 33)]


def test_soft_ink_peaks_at_the_ninetieth_percentile_of_the_strokes() -> None:
    strength = np.zeros((50, 40), np.float32)
    strength[5:45, 10:20] = np.linspace(0.41, 1.0, 10)[None, :]  # ten columns from 0.41 to 1
    strength[5:45, 20] = 0.4  # exactly the threshold: not a stroke
    found = segment_ink(strength, 0.4, furniture=False)
    peak = 0.41 + 0.59 * 8.1 / 9  # the 90th percentile of the ten values, 40 times each
    assert found.ink[20, 12] == pytest.approx((strength[20, 12] - 0.2) / (peak - 0.2), rel=1e-5)
    assert found.ink[20, 19] == 1.0  # above the peak: clipped


def test_candidate_cuts_are_taken_at_the_middle_row() -> None:
    ink = np.ones((20, 30), np.float32)
    for y in range(20):
        ink[y, 1 + y] = 0.0  # a free seam: at row 10 it is at column 11, clear of the 8 px margin
    cuts = [c.tolist() for c in _cut_paths(ink, 40.0)]  # (at row 6 it is at 7, inside it)
    assert [1 + y for y in range(20)] in cuts


def test_ink_exactly_at_the_threshold_is_no_part_of_the_stroke_width() -> None:
    pen = _stroke(2)
    pen[10:50, 28] = pen[10:50, 31] = 0.5  # exactly the threshold either side: not stroke
    assert _even_strokes(pen, 0.5, 40.0) is not pen  # 2 of 40: thickened (4 would be in the band)


def test_pieces_follow_a_cut_that_slants_left() -> None:
    mask = np.ones((20, 40), np.uint8)  # one blob, two digits wide
    strength = np.ones((20, 40), np.float32)
    for y in range(20):
        strength[y, 30 - y] = 0.0  # a seam from column 30 at the top to 11 at the bottom
    labels, blobs = page.find_blobs(mask, strength)
    pieces = over_segment(labels, strength, blobs, 40.0)  # one wide digit: 3 cuts, 8 px apart
    ends = []
    for p in pieces:
        rows = [p.x0 + int(np.flatnonzero(r).max()) + 1 if r.any() else -1 for r in p.mask]
        ends.append([-1] * (p.y0) + rows + [-1] * (20 - p.y1))
    # a piece ends just left of the seam down to row 11 (below, another cut crosses it)
    assert any(e[:12] == [30 - y for y in range(12)] for e in ends)


def test_cuts_of_equal_cost_are_taken_from_the_left() -> None:
    """A blob 100 px wide and 40 high whose even columns hold half-strength ink: every cut
    straight down an even column costs the same (0.5 ** 12 a pixel in a blob wider than a
    digit), less than any other. Among equals the leftmost goes first, so the 18 cuts asked
    for (7 per line height of width) are columns 8 (the margin), 12, ..., 76, each 4 px (a
    tenth of the height) from the last; an unstable sort of the ties picks others."""
    ink = np.ones((40, 100), np.float32)
    ink[:, ::2] = 0.5
    paths = _cut_paths(ink, 40.0)
    assert [list(set(p.tolist())) for p in paths] == [[c] for c in range(8, 80, 4)]
