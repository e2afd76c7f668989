"""Overlays for looking at what the sheet and writing finders did (PNG-ready BGR pictures)."""

from __future__ import annotations

import cv2
import numpy as np

from lenet5.photo.sheet import Sheet, as_gray
from lenet5.photo.writing import Writing


def draw_sheet(frame: np.ndarray, sheet: Sheet | None) -> np.ndarray:
    """The frame with the sheet's outline in red (its first corner, TL, marked)."""
    out = cv2.cvtColor(as_gray(frame), cv2.COLOR_GRAY2BGR)
    if sheet is not None:
        # Sub-pixel corners: OpenCV draws with 2 fractional bits.
        cv2.polylines(out, [np.round(sheet.corners * 4).astype(np.int32)], True, (0, 0, 255), 2, cv2.LINE_AA, 2)
        cv2.circle(out, tuple(np.round(sheet.corners[0]).astype(int)), 6, (0, 0, 255), 2)
    return out


def draw_writing(gray: np.ndarray, writing: Writing) -> np.ndarray:
    """The picture with the furniture tinted red, lines in blue boxes, words in green."""
    out = cv2.cvtColor(as_gray(gray), cv2.COLOR_GRAY2BGR)
    furniture = writing.furniture().astype(bool)
    out[furniture] = (0.4 * out[furniture] + np.array([0, 0, 150])).astype(np.uint8)
    for line in writing.lines:
        x0, y0, x1, y1 = line.box
        cv2.rectangle(out, (x0 - 3, y0 - 3), (x1 + 2, y1 + 2), (255, 0, 0), 1)
        for word in line.words:
            cv2.rectangle(out, word.box[:2], (word.box[2] - 1, word.box[3] - 1), (0, 170, 0), 1)
    return out
