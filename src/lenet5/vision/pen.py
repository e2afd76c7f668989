"""A digit redrawn as a pen writes it: the middle lines of its strokes, drawn at one width.

MNIST's digits were written with thick pens and scanned, so their strokes vary in width and
small loops are often filled in. A ballpoint or gel pen on paper draws a line of even width
along the path of the hand; after `lenet5 read` has brought such strokes to MNIST's
thickness (vision/page.py), a digit looks like its middle line drawn with a round pen, not
like an MNIST digit. `redraw_as_pen` makes training digits of that look (`train --pen`).

The middle lines come from Zhang and Suen's thinning ("A fast parallel algorithm for
thinning digital patterns", CACM 1984), which keeps a stroke connected and one pixel wide;
a morphological skeleton breaks it into pieces, and the redrawn strokes come out lumpy.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

# Weights that turn a pixel's 8 neighbours into one byte, P2 (north) = 1 clockwise to P9
# (north-west) = 128, so a lookup table can say which neighbourhoods delete the centre.
_NEIGHBOURS = np.array([[128, 1, 2], [64, 0, 4], [32, 16, 8]], np.float32)
UP = 4  # MNIST px -> working px: thinning and redrawing at 4x keep a 2-3 px pen round


@functools.lru_cache(maxsize=1)
def _deletion_tables() -> tuple[np.ndarray, np.ndarray]:
    """Zhang-Suen: per sub-iteration, which of the 256 neighbourhoods delete the centre."""
    first, second = np.zeros(256, bool), np.zeros(256, bool)
    for code in range(256):
        p = [(code >> k) & 1 for k in range(8)]  # P2 ... P9
        count = sum(p)
        turns = sum(p[k] == 0 and p[(k + 1) % 8] == 1 for k in range(8))
        p2, _p3, p4, _p5, p6, _p7, p8, _p9 = p
        ok = 2 <= count <= 6 and turns == 1
        first[code] = ok and p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
        second[code] = ok and p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
    return first, second


def thin(binary: np.ndarray) -> np.ndarray:
    """The one-pixel-wide middle lines (uint8 0/1) of a 0/1 picture, connectivity kept."""
    img = binary.astype(np.uint8)
    tables = _deletion_tables()
    for _ in range(max(img.shape)):  # each round peels at least one pixel off every side
        changed = False
        for table in tables:
            codes = cv2.filter2D(img, cv2.CV_32F, _NEIGHBOURS, borderType=cv2.BORDER_CONSTANT).astype(np.int32)
            delete = table[codes] & (img == 1)
            if delete.any():
                img[delete] = 0
                changed = True
        if not changed:
            break
    return img


def redraw_as_pen(digits: np.ndarray, widths: np.ndarray, threshold: float = 0.4) -> np.ndarray:
    """uint8 [n, H, W] digits (0 = paper) -> the same digits as a round pen of `widths[i]`
    MNIST pixels draws their middle lines, uint8, at full ink. The ink edge is taken at
    `threshold` of full ink (MNIST's grey rim is the scanner's blur, not the pen)."""
    out = np.empty_like(digits)
    n, height, width = digits.shape
    for i in range(n):
        big = cv2.resize(digits[i].astype(np.float32) / 255.0, (width * UP, height * UP), interpolation=cv2.INTER_CUBIC)
        middle = thin(big > threshold)
        if not middle.any():
            out[i] = 0
            continue
        distance = cv2.distanceTransform(1 - middle, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        # A round pen of the given width, its edge anti-aliased over one working pixel.
        alpha = np.clip(widths[i] * UP / 2 + 0.5 - distance, 0, 1)
        out[i] = np.round(255 * cv2.resize(alpha, (width, height), interpolation=cv2.INTER_AREA))
    return out
