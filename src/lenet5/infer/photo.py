"""A whole photo, made ready for reading: upright, in grey levels, its sheet of paper found
and straightened (lenet5.photo), and the way back from the page to the picture's pixels.

A phone photo of a sheet lying on a desk shows the desk, the sheet's edges and its shadow:
none of that is writing, and reading the frame as a page takes a page edge for a "1". So
the page is the straightened sheet, cut a little inside its edges, when a sheet is in
view, and the whole picture otherwise (a close-up, a scan, a drawing).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from lenet5.photo import Rectified, box_to_source, find_sheet, rectify
from lenet5.vision.preprocess import MAX_PIXELS, PictureDigit, digit_on, to_grayscale, upright, with_picture

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Page:
    """The page writing is looked for on, and the way back to the picture's pixels."""

    gray: np.ndarray  # uint8: the straightened sheet, or the whole picture (longer side <= 1024 px)
    rectified: Rectified | None  # how the sheet was straightened (None: no sheet in view)
    scale: tuple[float, float]  # the picture's own pixels per analysed pixel (x, y)

    def to_original(self, box: Box) -> Box:
        """A box on the page in the original picture's pixels."""
        if self.rectified is not None:
            box = box_to_source(box, self.rectified.homography)
        x0, y0, x1, y1 = box
        sx, sy = self.scale
        return round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)


def find_page(image: Image.Image) -> Page:
    """The picture upright and grey (longer side at most 1024 px), its sheet straightened."""
    original = upright(image)
    gray = to_grayscale(image)
    if gray.dtype != np.uint8:  # a 16-bit picture: 0..255 floats
        gray = np.clip(gray, 0, 255).astype(np.uint8)
    sheet = find_sheet(gray)
    rectified = rectify(gray, sheet) if sheet is not None else None
    page = rectified.image if rectified is not None else gray
    return Page(page, rectified, (original[0] / gray.shape[1], original[1] / gray.shape[0]))


def photo_digit(image: Image.Image, label: str = "image") -> PictureDigit:
    """The most prominent digit on the photo's page, its box in the picture's pixels."""
    page = find_page(image)
    digit = digit_on(page.gray, label)
    return replace(digit, box=page.to_original(digit.box))


def read_photo_digit(source: str | Path | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS) -> PictureDigit:
    """A file path or bytes -> the digit on it (photo_digit); every failure a UserError."""
    return with_picture(source, photo_digit, name, max_pixels)
