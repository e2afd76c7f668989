"""Two ways of making training digits look like other hands: the elastic distortion
(`train --elastic`, data/distort.py) and the pen redraw (`train --pen`, vision/pen.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import tiny_config
from lenet5.data.distort import DistortionRanges, distort_batch, elastic_fields, random_affines, warp_elastic
from lenet5.errors import UserError
from lenet5.vision.pen import redraw_as_pen, thin


def _bar_digits(n: int) -> np.ndarray:
    digits = np.zeros((n, 28, 28), dtype=np.uint8)
    digits[:, 6:22, 11:17] = 255
    return digits


def _holes(binary: np.ndarray) -> int:
    count, labels = cv2.connectedComponents((binary == 0).astype(np.uint8), connectivity=4)
    border = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])))
    return sum(1 for k in range(1, count) if k not in border)


def test_elastic_fields_have_the_asked_size_and_are_smooth() -> None:
    fields = elastic_fields(2000, 28, 1.5, np.random.default_rng(0))
    assert fields.shape == (2000, 2, 28, 28) and fields.dtype == np.float32
    rms = np.sqrt((fields**2).mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(rms, [1.5, 1.5], rtol=0.05)  # each axis, over many fields
    # Smooth: neighbouring pixels move almost together (white noise of this size would
    # differ by sqrt(2) * 1.5 px between neighbours).
    step = np.abs(np.diff(fields, axis=3)).mean()
    assert step < 0.15
    assert not np.allclose(fields[0], fields[1])  # every digit gets its own field


def test_elastic_with_no_field_is_the_affine_warp_and_is_seeded() -> None:
    digits = _bar_digits(20)
    affines = random_affines(20, np.random.default_rng(3))
    still = warp_elastic(digits, affines, np.zeros((20, 2, 28, 28), np.float32))
    affine_only = distort_batch(digits, np.random.default_rng(3), engine="opencv")
    np.testing.assert_allclose(still, affine_only, atol=2e-3)  # OpenCV remap vs warpAffine, float maps
    a = distort_batch(digits, np.random.default_rng(5), elastic=1.0)
    b = distort_batch(digits, np.random.default_rng(5), elastic=1.0)
    assert np.array_equal(a, b)
    bent = distort_batch(digits, np.random.default_rng(5), DistortionRanges(0, 0, 0, 0), elastic=1.0)
    assert np.abs(bent - digits).max() > 50  # the straight bar is bent...
    ink = bent.sum(axis=(1, 2)) / digits.sum(axis=(1, 2), dtype=np.float64)
    # ...and its ink moved, not lost: a field stretches and squeezes the bar locally, so its
    # area changes by up to about a fifth (0.82-1.09 in 20 fields), but nothing leaves it.
    assert np.all(np.abs(ink - 1) < 0.3)


def test_elastic_needs_distort() -> None:
    with pytest.raises(UserError, match="need --distort"):
        tiny_config(elastic=1.0)


def test_thinning_keeps_strokes_whole_and_one_pixel_wide() -> None:
    bar = np.zeros((40, 60), np.uint8)
    bar[15:24, 5:55] = 1
    middle = thin(bar)
    assert middle.sum() >= 30 and np.all(middle.sum(axis=0)[12:48] == 1)  # one pixel per column
    assert cv2.connectedComponents(middle)[0] == 2  # background + one piece
    ring = cv2.circle(np.zeros((60, 60), np.uint8), (30, 30), 18, 1, thickness=7)
    thin_ring = thin(ring)
    assert _holes(ring) == 1 and _holes(thin_ring) == 1  # a loop stays a loop
    assert thin_ring.sum() < 0.25 * ring.sum()


def test_a_pen_redraws_a_thick_stroke_at_the_width_asked() -> None:
    ring = cv2.circle(np.zeros((28, 28), np.uint8), (14, 14), 8, 255, thickness=5)
    thin_pen, wide_pen = redraw_as_pen(np.stack([ring, ring]), np.array([2.0, 3.5]))
    assert _holes(thin_pen > 127) == 1  # still a 0
    # The ring's ink is its length (about 2 pi 8 px) times the pen's width.
    length = 2 * np.pi * 8
    assert thin_pen.sum() / 255 == pytest.approx(2.0 * length, rel=0.15)
    assert wide_pen.sum() / 255 == pytest.approx(3.5 * length, rel=0.15)
    assert ring.sum() / 255 > 1.2 * wide_pen.sum() / 255  # thinner than the original stroke
    empty = redraw_as_pen(np.zeros((1, 28, 28), np.uint8), np.array([2.0]))
    assert not empty.any()


def test_pen_redraws_only_a_share_of_the_training_digits() -> None:
    from lenet5.data.splits import Split, Splits
    from lenet5.train.data import _with_pen

    digits = _bar_digits(300)
    labels = np.ones(300, np.int64)
    splits = Splits(Split(digits, labels), Split(digits[:50], labels[:50]), Split(digits[:60], labels[:60]))
    out = _with_pen(splits, 0.3, seed=4, echo=lambda _: None)
    changed = np.any(out.train.images != digits, axis=(1, 2))
    assert 0.2 < changed.mean() < 0.4
    assert out.val is splits.val and out.test is splits.test
    again = _with_pen(splits, 0.3, seed=4, echo=lambda _: None)
    assert np.array_equal(out.train.images, again.train.images)
    # A redrawn bar is narrower than the 6 px one it came from, and as long.
    redrawn = out.train.images[changed]
    widths = (redrawn > 127).sum(axis=2).max(axis=1)
    assert np.all(widths <= 4)
    heights = (redrawn > 127).any(axis=2).sum(axis=1)
    assert np.all(heights >= 12)
