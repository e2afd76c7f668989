"""Lines of handwritten digits made from MNIST digits, with each pixel's digit known.

Used twice: by bench/number_sets.py to build the pictures `lenet5 read` is measured on
(from MNIST test digits), and by lenet5.reader.pieces to train the reader's
recogniser on the very pieces its segmentation cuts from such lines (from training
digits). Knowing which digit each pixel of ink came from is what lets a candidate piece
be labelled: one whole digit, or junk.

Kinds of spacing between neighbours:
- separated: clear gaps;
- close: about a pixel between the nearest ink of neighbours (boxes overlap);
- touching: neighbours' strokes overlap by 1-2 px, so two or more digits are one blob.
"""

from __future__ import annotations

import cv2
import numpy as np


def crop(image: np.ndarray) -> np.ndarray:
    """An MNIST digit (uint8, ink bright) as ink 0..1 cropped to its bounding box."""
    rows = np.flatnonzero(image.max(axis=1) > 0)
    cols = np.flatnonzero(image.max(axis=0) > 0)
    return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32) / 255.0


def vary(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One digit (ink 0..1) with its own size (0.8-1.15) and slant (shear up to 0.2)."""
    size = rng.uniform(0.8, 1.15)
    shear = rng.uniform(-0.2, 0.2)
    h, w = digit.shape
    new_h, new_w = max(4, round(h * size)), max(2, round(w * size))
    scaled = cv2.resize(digit, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    extra = int(abs(shear) * new_h) + 1
    matrix = np.float32([[1, shear, extra if shear < 0 else 0], [0, 1, 0]])
    slanted = cv2.warpAffine(scaled, matrix, (new_w + extra, new_h), flags=cv2.INTER_LINEAR)
    return crop((np.clip(slanted, 0, 1) * 255).astype(np.uint8))


def _row_extents(digit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the leftmost and rightmost ink column (inf/-inf for empty rows)."""
    ink = digit > 0.2
    cols = np.arange(digit.shape[1])
    left = np.where(ink, cols, np.inf).min(axis=1)
    right = np.where(ink, cols, -np.inf).max(axis=1)
    return left, right


def compose_line(
    digits: list[np.ndarray], spacing: str, rng: np.random.Generator, between: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Digits placed left to right on one canvas at MNIST's scale, with baseline jitter.

    `between` is the range (low inclusive, high exclusive) of the distance in px between
    neighbours: the gap between boxes when separated, between the nearest ink when close,
    the overlap of the strokes when touching; by default 4-10, 1-2 and 1-2. Returns the ink
    (0..1) and, per pixel, the index of the digit whose ink is there (-1: none; where two
    overlap, the one with more ink)."""
    low, high = between or {"separated": (4, 10), "close": (1, 3), "touching": (1, 3)}[spacing]
    height = max(d.shape[0] for d in digits) + 8
    width = sum(d.shape[1] for d in digits) + max(12, high + 2) * len(digits) + 16
    canvas = np.zeros((height + 8, width), dtype=np.float32)
    owner = np.full(canvas.shape, -1, dtype=np.int16)
    baseline = height
    x = 6
    for k, digit in enumerate(digits):
        top = baseline - digit.shape[0] - int(rng.integers(-2, 3))  # baseline jitter
        top = int(np.clip(top, 0, canvas.shape[0] - digit.shape[0]))
        if k == 0 or spacing == "separated":
            left = x + (int(rng.integers(low, high)) if k else 0)
        else:
            # Put the digit as close as asked: per row, the gap between the ink already
            # down and this digit's ink; its smallest value is the distance.
            _, placed_right = _row_extents(canvas[top : top + digit.shape[0]])
            own_left, _ = _row_extents(digit)
            both = np.isfinite(placed_right) & np.isfinite(own_left)
            want = int(rng.integers(low, high)) * (1 if spacing == "close" else -1)
            # With no row in common (a tall digit beside a low one), the boxes are butted.
            left = int(np.max(placed_right[both] - own_left[both])) + want + 1 if both.any() else x + want
            left = max(left, x - digit.shape[1] // 2)
        rows, cols = slice(top, top + digit.shape[0]), slice(left, left + digit.shape[1])
        region = canvas[rows, cols]
        own = digit[: region.shape[0], : region.shape[1]]
        owner[rows, cols][own > region] = k
        np.maximum(region, own, out=region)
        x = max(x, left + digit.shape[1])
    return canvas[:, : x + 6], owner[:, : x + 6]


def photograph(line: np.ndarray, rng: np.random.Generator, scale: int) -> np.ndarray:
    """Ink 0..1 at MNIST's scale -> a grey photo (uint8) `scale` times the size, dark ink on
    light, slightly uneven paper, with a margin of 10 MNIST pixels, blur and noise."""
    big = cv2.resize(line, (line.shape[1] * scale, line.shape[0] * scale), interpolation=cv2.INTER_CUBIC)
    big = np.pad(np.clip(big, 0, 1), margin(scale))
    _h, w = big.shape
    paper = rng.uniform(200, 245) + rng.uniform(-15, 15) * np.linspace(-1, 1, w)[None, :]
    ink_level = rng.uniform(20, 80)
    photo = paper - big * (paper - ink_level)
    photo = cv2.GaussianBlur(photo.astype(np.float32), (0, 0), rng.uniform(0.5, 1.5))
    photo += rng.normal(0, 3, photo.shape)
    return np.clip(photo, 0, 255).astype(np.uint8)


def margin(scale: int) -> int:
    """The paper around the line in a photograph at `scale`, in its pixels."""
    return 20 * scale // 2


def enlarge_owner(owner: np.ndarray, scale: int) -> np.ndarray:
    """`compose_line`'s owner map at the photograph's size and place."""
    big = np.repeat(np.repeat(owner, scale, axis=0), scale, axis=1)
    return np.pad(big, margin(scale), constant_values=-1)
