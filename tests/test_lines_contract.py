"""`lenet5.reader.lines` rule by rule: a digit's box, its size and slant, where compose_line
puts each digit and who owns each pixel, the photograph's paper, ink, blur and noise, and
the owner map at the photograph's scale. Draws come from a stand-in generator whose values
the test chooses, so every position is known in advance (no MNIST, no model: `make
mutation` runs these)."""

from __future__ import annotations

import numpy as np
import pytest

from lenet5.reader.lines import _row_extents, compose_line, crop, enlarge_owner, margin, photograph, vary


class Draws:
    """numpy Generator's uniform/integers/normal with chosen results: `uniform` and
    `integers` return the next scripted value, `normal` loc + `noise` x scale everywhere;
    every call's arguments are recorded."""

    def __init__(self, uniform: tuple[float, ...] = (), integers: tuple[int, ...] = (), noise: float = 1.0) -> None:
        self._uniform, self._integers, self._noise = list(uniform), list(integers), noise
        self.calls: list[tuple] = []

    def uniform(self, low: float, high: float) -> float:
        self.calls.append(("uniform", low, high))
        return self._uniform.pop(0)

    def integers(self, low: int, high: int) -> int:
        self.calls.append(("integers", low, high))
        return self._integers.pop(0)

    def normal(self, loc: float, scale: float, size: tuple[int, ...]) -> np.ndarray:
        self.calls.append(("normal", loc, scale, size))
        return np.full(size, loc + self._noise * scale)


def test_crop_keeps_any_nonzero_pixel() -> None:
    image = np.zeros((5, 6), np.uint8)
    image[1, 2] = 1
    image[3, 4] = 255
    cropped = crop(image)
    np.testing.assert_allclose(cropped, [[1 / 255, 0, 0], [0, 0, 0], [0, 0, 1.0]], rtol=1e-6)
    assert cropped.dtype == np.float32


def test_row_extents_are_the_ink_over_a_fifth() -> None:
    digit = np.array([[0, 0.5, 0.1, 0], [0, 0, 0, 0], [0.3, 0.25, 0.21, 0.21], [0.2, 0.9, 0.2, 0]], np.float32)
    left, right = _row_extents(digit)
    assert left.tolist() == [1, np.inf, 0, 1]
    assert right.tolist() == [1, -np.inf, 3, 1]


def test_vary_draws_size_then_slant_in_their_ranges() -> None:
    draws = Draws(uniform=(1.0, 0.0))
    out = vary(np.ones((6, 4), np.float32), draws)
    assert draws.calls == [("uniform", 0.8, 1.15), ("uniform", -0.2, 0.2)]
    assert out.shape == (6, 4) and out.dtype == np.float32 and np.all(out == 1.0)


def test_vary_scales_and_keeps_a_least_size() -> None:
    assert vary(np.ones((4, 2), np.float32), Draws(uniform=(1.5, 0.0))).shape == (6, 3)
    assert vary(np.ones((6, 4), np.float32), Draws(uniform=(0.5, 0.0))).shape == (3 + 1, 2)  # 3 rows -> at least 4
    tiny = vary(np.ones((2, 1), np.float32), Draws(uniform=(1.0, 0.0)))
    assert tiny.shape == (4, 2) and np.all(tiny == 1.0)  # at least 4 high and 2 wide


def test_vary_slants_lower_rows_by_the_shear() -> None:
    bar = np.ones((10, 1), np.float32)  # a one-pixel "1", two pixels wide once interpolated
    right = vary(bar, Draws(uniform=(1.0, 0.2)))
    assert right.shape == (10, 4) and right.sum() == pytest.approx(20.0, abs=0.1)  # no ink cut off
    np.testing.assert_allclose(right[[0, 5, 9]], [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0.2, 1, 0.8]], atol=0.01)
    # the other way, the bottom row goes left by as much: the mirror image
    left = vary(bar, Draws(uniform=(1.0, -0.2)))
    np.testing.assert_allclose(left, right[:, ::-1], atol=0.01)


def test_vary_keeps_ink_slanted_almost_a_whole_pixel_further() -> None:
    # shear 0.19 on 10 rows: the bottom row moves 1.71 px, so the 2 px bar (cols 0-1) covers
    # [1.71, 3.71): 0.29, 1 and 0.71 of a pixel; the room made for it is int(1.9) + 1 = 2 px
    out = vary(np.ones((10, 1), np.float32), Draws(uniform=(1.0, 0.19)))
    assert out.shape == (10, 4) and out.sum() == pytest.approx(20.0, abs=0.1)
    assert np.round(out[9] * 255).tolist() == [0, 73, 255, 181]


def test_vary_returns_ink_in_steps_of_one_255th() -> None:
    # as an MNIST digit is stored: 0.5 x 255 = 127.5 is kept as 127
    out = vary(np.full((6, 4), 0.5, np.float32), Draws(uniform=(1.0, 0.0)))
    np.testing.assert_array_equal(out, np.full((6, 4), np.float32(127) / np.float32(255)))


def test_vary_with_the_real_generator_stays_in_its_ranges() -> None:
    rng = np.random.default_rng(0)
    block = np.ones((20, 10), np.float32)
    heights = [vary(block, rng).shape[0] for _ in range(200)]
    assert min(heights) >= 16 and max(heights) <= 23  # 0.8 and 1.15 of 20


def _block(h: int, w: int, value: float = 1.0) -> np.ndarray:
    return np.full((h, w), value, np.float32)


def test_separated_digits_sit_on_the_baseline_a_drawn_gap_apart() -> None:
    draws = Draws(integers=(0, 2, 5))  # jitter 0, jitter 2, gap 5
    line, owner = compose_line([_block(10, 4), _block(6, 3)], "separated", draws)
    assert draws.calls == [("integers", -2, 3), ("integers", -2, 3), ("integers", 4, 10)]
    # canvas: 10 + 8 high (the baseline) and 8 below it; the first digit at x = 6
    assert line.shape == (26, 24) and owner.shape == (26, 24)
    assert line.dtype == np.float32 and owner.dtype == np.int16
    expected = np.full((26, 24), -1)
    expected[8:18, 6:10] = 0
    expected[10:16, 15:18] = 1  # 2 px above the baseline, 5 px after the first's box
    np.testing.assert_array_equal(owner, expected)
    np.testing.assert_array_equal(line, (expected >= 0).astype(np.float32))


def test_a_lone_digit_has_six_pixels_of_paper_each_side() -> None:
    line, owner = compose_line([_block(10, 4)], "close", Draws(integers=(1,)))
    assert line.shape == (26, 16)
    assert line[:, 6:10].sum() == 40 and line.sum() == 40 and (owner == 0).sum() == 40


@pytest.mark.parametrize(("spacing", "between"), [("separated", (4, 10)), ("close", (1, 3)), ("touching", (1, 3))])
def test_default_distances_per_spacing(spacing: str, between: tuple[int, int]) -> None:
    draws = Draws(integers=(0, 0, between[0]))
    compose_line([_block(10, 4), _block(10, 4)], spacing, draws)
    assert draws.calls[-1] == ("integers", *between)
    draws = Draws(integers=(0, 0, 7))
    compose_line([_block(10, 4), _block(10, 4)], spacing, draws, (7, 8))
    assert draws.calls[-1] == ("integers", 7, 8)


def test_close_digits_leave_the_drawn_gap_between_their_ink() -> None:
    line, owner = compose_line([_block(10, 4), _block(10, 3)], "close", Draws(integers=(0, 0, 1)))
    assert line.shape == (26, 20)
    assert (owner[8:18, 6:10] == 0).all() and (owner[8:18, 11:14] == 1).all()
    assert (owner[:, 10] == -1).all()  # one empty column: the distance 1
    line, owner = compose_line([_block(10, 4), _block(10, 3)], "close", Draws(integers=(0, 0, 2)))
    assert (owner[8:18, 12:15] == 1).all() and (owner[:, 10:12] == -1).all()


def test_the_gap_is_measured_in_the_rows_both_digits_ink() -> None:
    first = _block(10, 6)
    first[:5, 4:] = 0  # its top half is narrower
    second = _block(4, 3)  # sits low: it meets only the first's wide bottom half
    line, owner = compose_line([first, second], "close", Draws(integers=(0, 0, 1)))
    assert np.flatnonzero((owner == 1).any(axis=0)).tolist() == [13, 14, 15]
    assert line.shape == (26, 22)


def test_the_gap_ignores_ink_in_rows_the_new_digit_does_not_reach() -> None:
    first = _block(10, 6)
    first[5:, 4:] = 0  # its bottom half is narrower: ink to column 9 there, 11 above
    second = _block(4, 5)
    second[:, 0] = 0  # its ink starts one column into its box
    line, owner = compose_line([first, second], "close", Draws(integers=(0, 0, 1)))
    # rows 14-17: the first's ink ends at 9, one empty column (10), the second's ink from 11:
    # its box starts at 10, left of the first's box end (12)
    assert np.flatnonzero((owner == 1).any(axis=0)).tolist() == [11, 12, 13, 14]
    assert (owner[14:18, 10] == -1).all() and line.shape == (26, 21)


def test_a_digit_owns_only_its_ink_and_ties_stay_with_the_first() -> None:
    hollow = _block(10, 4)
    hollow[3:7, 1:3] = 0  # a hole in the middle of its box
    _, owner = compose_line([hollow], "close", Draws(integers=(0,)))
    assert (owner[11:15, 7:9] == -1).all() and (owner == 0).sum() == 32
    # touching by 2 px with equal ink: the overlap stays the first digit's
    _, owner = compose_line([_block(10, 4), _block(10, 4)], "touching", Draws(integers=(0, 0, 2)))
    assert (owner[8:18, 6:10] == 0).all() and (owner[8:18, 10:12] == 1).all()


def test_digits_with_no_row_in_common_are_butted() -> None:
    low = _block(4, 4)  # its ink near the baseline
    high = np.zeros((10, 3), np.float32)
    high[:2] = 1.0  # ink only in its top rows
    _, owner = compose_line([low, high], "close", Draws(integers=(0, 0, 1)))
    assert np.flatnonzero((owner == 1).any(axis=0)).tolist() == [11, 12, 13]  # x (10) + 1
    _, owner = compose_line([low, high], "touching", Draws(integers=(0, 0, 1)))
    assert np.flatnonzero((owner == 1).any(axis=0)).tolist() == [9, 10, 11]  # x - 1


def test_touching_digits_overlap_and_the_stronger_ink_owns_it() -> None:
    faint, strong = _block(10, 4, 0.6), _block(10, 6)
    line, owner = compose_line([faint, strong], "touching", Draws(integers=(0, 0, 2)))
    # the first's ink ends at column 9; overlapping it by 2 puts the second at 8..13
    assert np.flatnonzero((owner == 1).any(axis=0)).tolist() == list(range(8, 14))
    assert (owner[8:18, 6:8] == 0).all()
    assert np.allclose(line[12, 6:14], [0.6, 0.6, 1, 1, 1, 1, 1, 1])
    assert line.shape == (26, 20)
    line, owner = compose_line([strong, faint], "touching", Draws(integers=(0, 0, 1)))
    assert (owner[8:18, 6:12] == 0).all()  # the faint second keeps none of the overlap
    assert np.flatnonzero((owner == 1).any(axis=0)).tolist() == [12, 13, 14]


def test_a_touching_digit_never_starts_before_half_its_width_back() -> None:
    _, owner = compose_line([_block(10, 4, 0.6), _block(10, 4)], "touching", Draws(integers=(0, 0, 3)))
    # 3 px of overlap would start it at 7; half its width (2) back from x = 10 is 8
    assert np.flatnonzero((owner == 1).any(axis=0)).tolist() == [8, 9, 10, 11]


def test_the_margin_is_ten_pixels_at_mnist_scale() -> None:
    assert [margin(s) for s in (1, 2, 3)] == [10, 20, 30]


def test_the_owner_map_is_enlarged_and_framed_with_nobody() -> None:
    owner = np.array([[0, -1], [1, 1]], np.int16)
    big = enlarge_owner(owner, 2)
    assert big.shape == (44, 44)
    assert big[20:24, 20:24].tolist() == [[0, 0, -1, -1], [0, 0, -1, -1], [1, 1, 1, 1], [1, 1, 1, 1]]
    assert (big[:20] == -1).all() and (big[24:] == -1).all() and (big[:, :20] == -1).all()
    assert (big[:, 24:] == -1).all()


def test_the_photograph_is_tilted_paper_with_the_noise_added() -> None:
    draws = Draws(uniform=(230.0, 10.0, 40.0, 1.0))
    photo = photograph(np.zeros((4, 8), np.float32), draws, 1)
    assert draws.calls == [
        ("uniform", 200, 245),
        ("uniform", -15, 15),
        ("uniform", 20, 80),
        ("uniform", 0.5, 1.5),
        ("normal", 0, 3, (24, 28)),
    ]
    assert photo.shape == (24, 28) and photo.dtype == np.uint8
    # paper 230, 10 darker at the left edge and 10 lighter at the right, plus 3 of "noise";
    # the blur (sigma 1, 4 px each way) keeps a linear ramp away from the edges
    expected = 233 + 10 * np.linspace(-1, 1, 28)
    inner = photo[:, 4:24].astype(np.float64)
    assert np.all(inner <= expected[4:24] + 1e-3) and np.all(inner > expected[4:24] - 1 + 1e-3)


def test_the_photograph_has_the_ink_level_where_the_ink_is_solid() -> None:
    line = np.zeros((20, 20), np.float32)
    line[2:18, 2:18] = 1.0
    photo = photograph(line, Draws(uniform=(230.0, 0.0, 40.0, 0.5)), 2)
    assert photo.shape == (80, 80)
    assert (photo[30:50, 30:50] == 43).all()  # ink 40, plus 3
    assert (photo[:10] == 233).all()  # the margin's paper


def test_the_photograph_is_clipped_not_wrapped() -> None:
    photo = photograph(np.zeros((4, 8), np.float32), Draws(uniform=(245.0, 15.0, 40.0, 0.5)), 1)
    assert (photo[:, -3:] == 255).all()  # 260 + 3 would wrap round to 7 in uint8


def test_a_lone_tall_narrow_or_flat_wide_digit_is_drawn_whole() -> None:
    line, owner = compose_line([_block(30, 1)], "close", Draws(integers=(0,)))
    assert line.sum() == 30 and (owner[8:38, 6] == 0).all()  # a "1": 38 high canvas, 29 wide
    line, owner = compose_line([_block(2, 20)], "close", Draws(integers=(0,)))
    assert line.sum() == 40 and (owner[8:10, 6:26] == 0).all()  # a dash: 18 high canvas, 48 wide


def test_twenty_digits_far_apart_all_fit_on_the_canvas() -> None:
    draws = Draws(integers=(0,) + (0, 14) * 19)
    line, owner = compose_line([_block(10, 4)] * 20, "separated", draws, (14, 15))
    assert line.shape == (26, 6 + 20 * 4 + 19 * 14 + 6)  # 6 px of paper after the last
    assert line.sum() == 800 and [int((owner == k).sum()) for k in range(20)] == [40] * 20


def test_the_line_is_enlarged_by_cubic_interpolation_then_clipped_to_0_1() -> None:
    line = np.zeros((1, 10), np.float32)
    line[0, 4:] = 1.0  # a step, enlarged twice: cubic undershoots before it and overshoots after
    # a blur too small to matter (sigma 0.01: a 1 px kernel), so the enlarged line shows as it is
    photo = photograph(line, Draws(uniform=(230.0, 0.0, 40.0, 0.01)), 2)
    # paper 230 + 3, ink 40 + 3; cubic (OpenCV's a = -0.75) gives -0.035, -0.105, 0.227, 0.773,
    # 1.105, 1.035 across the step (linear: 0, 0, 0.25, 0.75, 1, 1); 233 - 0.227 x 190 = 189.95
    assert photo[20, 25:31].tolist() == [233, 233, 189, 86, 43, 43]


def test_the_photograph_clips_dark_noise_at_black() -> None:
    line = np.ones((6, 6), np.float32)
    photo = photograph(line, Draws(uniform=(230.0, 0.0, 20.0, 0.01), noise=-10.0), 1)
    assert (photo[10:16, 10:16] == 0).all()  # ink 20, noise -30: -10 would wrap round to 246
    assert (photo[:10] == 200).all()


def test_the_photograph_blurs_across_and_down_alike() -> None:
    line = np.zeros((5, 5), np.float32)
    line[2, 2] = 1.0  # one dot
    photo = photograph(line, Draws(uniform=(230.0, 0.0, 40.0, 1.0)), 1)
    centre = int(photo[12, 12])
    beside = [int(photo[12, 11]), int(photo[12, 13]), int(photo[11, 12]), int(photo[13, 12])]
    assert centre < beside[0] < 233 and len(set(beside)) == 1
