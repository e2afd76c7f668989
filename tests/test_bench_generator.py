"""The desk-photo generator (bench/desk_photos.py) writes the digit it claims to write.

The photo sets in docs/results.md are only a measure if each picture shows its answer. A thin
pen drawn along the middle lines of an MNIST digit whose loop was written solid draws another
digit (a 9 with a solid head became a "1"): a thin pen's number takes another test digit of
the same label instead, and a marker draws such a digit as its own outline."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "desk_photos.py"


@pytest.fixture(scope="module")
def desk_photos():
    spec = importlib.util.spec_from_file_location("desk_photos_under_test", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def _thin_pen(desk_photos):
    return desk_photos.Pen("blue", np.array([0.3, 0.3, 0.6]), "ballpoint", 2.5, 0.9, 0.2, 0.3)


def _draw(desk_photos, binary: np.ndarray) -> np.ndarray:
    """The digit as `_write` draws it with a thin pen, at 8 target px per MNIST px (1:1)."""
    skeleton = desk_photos.thin(binary)
    filled = desk_photos.filled_in(binary, skeleton)
    return desk_photos._pen_alpha(binary, skeleton, 8.0, _thin_pen(desk_photos), marker=filled)


def test_a_nine_with_a_solid_head_keeps_its_head(desk_photos) -> None:
    # A 9 as MNIST has many: a solid head 60 px across on a stem 16 px wide, 200 px tall
    # (working px, UP = 8 per MNIST px).
    nine = np.zeros((240, 160), np.uint8)
    cv2.circle(nine, (80, 60), 30, 1, -1)
    cv2.line(nine, (100, 80), (100, 220), 1, 16)
    nine = nine.astype(bool)
    alpha = _draw(desk_photos, nine)
    # Off the middle line, inside the head: a thin pen along the middle lines leaves this
    # paper; the writer's solid head is ink.
    assert alpha[60, 62] > 0.9 and alpha[45, 80] > 0.9
    assert (alpha[30:90, 50:110] > 0.5).mean() > 0.6  # most of the head's square is ink
    # Drawn as its outline: the stem is the MNIST stroke's 16 px, the shape is the digit's.
    assert 14 <= (alpha[180] > 0.5).sum() <= 18
    assert ((alpha > 0.5) == nine).mean() > 0.99


def test_a_digit_of_strokes_is_drawn_as_a_thin_pen(desk_photos) -> None:
    # A 0 of even 16 px strokes: nothing to fill; the pen draws only its middle line.
    zero = np.zeros((240, 160), np.uint8)
    cv2.ellipse(zero, (80, 120), (50, 90), 0, 0, 360, 1, 16)
    zero = zero.astype(bool)
    skeleton = desk_photos.thin(zero)
    assert not desk_photos.filled_in(zero, skeleton)
    alpha = _draw(desk_photos, zero)
    assert alpha[120, 80] == 0  # the hole stays paper
    assert (alpha > 0.5).sum() < 0.5 * zero.sum()  # thinner than the MNIST stroke


def test_a_loop_written_solid_is_told_from_a_loop_of_strokes(desk_photos) -> None:
    # At MNIST's own scale (4x working px, no blur): a 9 with a solid head on a stem is
    # filled, a 0 of even 5 px strokes is not.
    nine = np.zeros((28, 28), np.uint8)
    cv2.circle(nine, (13, 9), 6, 255, -1)
    cv2.line(nine, (17, 12), (17, 25), 255, 3)
    ring = cv2.circle(np.zeros((28, 28), np.uint8), (14, 14), 8, 255, thickness=5)
    for digit, solid in ((nine, True), (ring, False)):
        big = cv2.resize(digit.astype(np.float32) / 255, (112, 112), interpolation=cv2.INTER_CUBIC) > 0.4
        assert desk_photos.filled_in(big, desk_photos.thin(big)) is solid


def test_a_thin_pen_writes_no_digit_with_a_loop_written_solid(desk_photos) -> None:
    # The first test digits that are filled at a middle pen threshold: a thin pen's number
    # that drew one takes the next test digit of its label written with strokes, and draws
    # it as a thin line; a marker keeps the digit the picture drew.
    labels = desk_photos._test_digits()[1]
    filled = [i for i in range(400) if desk_photos._filled_test_digit(i, 0.3)][:3]
    assert filled  # (MNIST has about 2-5% of them)
    rng = np.random.default_rng(0)
    thin = desk_photos._write(rng, len(filled), 40.0, _thin_pen(desk_photos), picks=list(filled))
    assert [labels[i] for i in thin.mnist] == [labels[i] for i in filled]
    assert all(i != j and not desk_photos._filled_test_digit(j, 0.3) for i, j in zip(filled, thin.mnist, strict=True))
    marker = desk_photos.Pen("black", np.array([0.1, 0.1, 0.1]), "marker", 0.0, 1.0, 0.0, 0.3)
    assert desk_photos._write(rng, len(filled), 40.0, marker, picks=list(filled)).mnist == filled
