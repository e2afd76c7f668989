"""Turning anyone's digit picture into an MNIST digit, the way MNIST itself was made.

MNIST digits are white ink on black, the ink's bounding box scaled so its longer side is
20 px (aspect kept, anti-aliased), then placed in a 28x28 field so that the ink's centre
of mass sits at the centre. A photo of dark ink on white paper, off-centre and at any
size, gets every one of those steps here; skipping them is why tutorial models that
score 99% on MNIST misread people's own handwriting.

    any image -> grayscale (alpha composited on white, at most 1024 px) -> ink strength
    against the local background (light gradients and shadows removed) -> the digit's
    blob(s) among specks, ruled lines and page edges -> stroke width brought to MNIST's
    proportion -> longer side 20 px -> 28x28 by centre of mass -> uint8, 0 = background

Finding the digit on the page is `lenet5.vision.page`; this module decodes and renders.

The model's own normalisation (and 32x32 padding for `lenet5`) is applied afterwards by
`lenet5.data.normalize`, exactly as in training.
"""

from __future__ import annotations

import io
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lenet5.errors import UserError, file_errors
from lenet5.vision import page

MAX_PIXELS = 50_000_000  # ~7000x7000: far above any photo of a digit, far below a decompression bomb
BOX = 20  # MNIST's size-normalisation box
FIELD = 28
WORKING_SIZE = 1024  # larger pictures are shrunk to this first: enough for a 60 px digit on a 12 MP page
FINE_SIZE = 2048  # ... and kept at up to this for a closer look at small writing (lenet5.infer.photo)
FULL_SIZE = "lenet5_full_size"  # image.info key: the size in the file, before a reduced JPEG decode
ORIENTATION = 0x0112  # the EXIF orientation tag


T = TypeVar("T")


class NoInkError(UserError):
    """The picture has nothing that looks like a stroke."""


def _label(source: str | Path | bytes, name: str | None) -> str:
    """What error messages call a picture: its given name, else its path, else "<bytes>"."""
    return name or str(source if not isinstance(source, bytes) else "<bytes>")


def open_image(
    source: str | Path | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS, colour: bool = False
) -> Image.Image:
    """Open and fully decode an image file or bytes, with clean errors for every bad case.

    `max_pixels` is checked on the header, before anything is decoded (the server passes
    its own, lower budget). A colour JPEG comes out in grey levels unless `colour` is asked
    for (a picture to draw on): every reading works on grey levels, and a JPEG's own
    luminance plane is them, decoded without its two colour planes (a 1 MP photo in about
    half the time)."""
    label = _label(source, name)
    if isinstance(source, bytes):
        if not source:
            raise UserError(f"{label}: empty file")
        handle: io.BytesIO | Path = io.BytesIO(source)
    else:
        handle = Path(source)
        with file_errors(label):
            info = handle.stat()
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError
            if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read for ever
                raise UserError(f"{label}: not a regular file (a FIFO, a device or a socket)")
            with handle.open("rb"):  # fails here, with the OS's reason, if it cannot be read
                pass
            size = info.st_size
        if size == 0:
            raise UserError(f"{label}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(handle)
            width, height = image.size
            if width * height > max_pixels:
                raise UserError(f"{label}: image too large ({width}x{height}, limit {max_pixels:,} pixels)")
            if image.format == "JPEG":
                size = (width, height)
                if max(width, height) > 2 * WORKING_SIZE:
                    # Decode a phone photo at 1/2..1/8 scale, its longer side at least 3/4 of
                    # the fine size: a 12 MP photo comes out at 2000x1500, which costs no more
                    # to decode than 1000x750 (the entropy decoding, not the transform,
                    # dominates) and keeps small digits legible.
                    longer = 3 * FINE_SIZE // 4
                    size = (longer * width // max(width, height), longer * height // max(width, height))
                image.draft("RGB" if colour else "L", size)
            image.load()
            image.info[FULL_SIZE] = (width, height)  # the boxes are given in these pixels
    except UserError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UserError(f"{label}: image too large (decompression-bomb limit)") from None
    except UnidentifiedImageError:
        raise UserError(f"{label}: not an image file (or a format Pillow cannot read)") from None
    except PermissionError:
        raise UserError(f"{label}: permission denied") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"{label}: corrupt or truncated image ({exc})") from None
    return image


def to_grayscale(image: Image.Image, side: int = WORKING_SIZE) -> np.ndarray:
    """Gray levels 0..255 from any mode: palette, alpha, 16-bit, float, CMYK, the longer side
    at most `side`. uint8 for 8-bit pictures (nearly all), float32 for deeper ones."""
    deep = image.mode.startswith("I;16")
    if deep:
        image = image.convert("I")  # Pillow resizes 32-bit "I" but not the packed 16-bit modes
    if max(image.size) > side:
        # resize returns the small picture without first copying the large one (thumbnail
        # would need a copy to leave the caller's picture alone): 64 MB less for a 16 MP page.
        scale = side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BOX, reducing_gap=2.0)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode in ("RGB", "L") and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    if image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if deep or values.max() > 255 else 255.0
        return (np.clip(values, 0, top) * (255.0 / top)).astype(np.float32)
    if image.mode == "1":
        # A bilevel picture is usually dithered: average the dots back into grey levels.
        return cv2.blur(np.asarray(image.convert("L")), (3, 3))
    return np.asarray(image.convert("L"))  # uint8: morphology on bytes is the fast path (vision/page.py)


@dataclass(frozen=True)
class PictureDigit:
    """A picture turned into an MNIST digit, and what was learnt on the way."""

    digit: np.ndarray  # uint8 [28, 28], 0 = background
    box: tuple[int, int, int, int]  # the digit's x0, y0, x1, y1 in the original picture's pixels
    other_digits: int  # digit-sized blobs beside it: the picture may hold a whole number


def upright(image: Image.Image) -> tuple[int, int]:
    """Turn the picture upright (its EXIF orientation), in place, and return its full size:
    the size in the file, which a phone photo's reduced decode (open_image) is smaller than.
    Boxes are given in these pixels, the ones the user's picture has."""
    width, height = image.info.get(FULL_SIZE, image.size)
    try:
        turned = image.getexif().get(ORIENTATION, 1) in (5, 6, 7, 8)  # a quarter turn swaps the sides
    except Exception:  # EXIF that Pillow cannot parse is simply not used (exif_transpose ignores it too)
        turned = False
    ImageOps.exif_transpose(image, in_place=True)
    full = (height, width) if turned else (width, height)
    if FULL_SIZE in image.info:
        # Upright from here on: whatever later enlarges the reduced decode back to the file's
        # size (`read --annotate`) must enlarge it to the turned size, not the stored one.
        image.info[FULL_SIZE] = full
    return full


def analyse(image: Image.Image, label: str = "image") -> PictureDigit:
    """Find the digit in a decoded picture (see lenet5.vision.page) and render it as MNIST."""
    original = upright(image)
    gray = to_grayscale(image)
    digit = digit_on(gray, label)
    return replace(digit, box=scaled_box(digit.box, original, gray.shape))


def digit_on(gray: np.ndarray, label: str) -> PictureDigit:
    """The digit on a page already in grey levels, its box in the page's pixels."""
    found = page.find_digit(gray)
    if found is None:
        raise NoInkError(f"{label}: no digit found (blank or near-uniform image)")
    return PictureDigit(render_mnist(found.ink), found.box, found.other_digits)


def scaled_box(box: tuple[int, int, int, int], original: tuple[int, int], shape: tuple[int, ...]) -> tuple:
    """A box in the analysed picture (`shape`: its height, width) in the original's pixels."""
    sx, sy = original[0] / shape[1], original[1] / shape[0]
    x0, y0, x1, y1 = box
    return round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)


def render_mnist(ink: np.ndarray) -> np.ndarray:
    """Ink 0..1 cropped to the digit -> MNIST's 28x28: longer side 20 px, centred by mass."""
    height, width = ink.shape
    scale = BOX / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Area averaging when shrinking (anti-aliased, like MNIST's own reduction), cubic when
    # enlarging a digit smaller than the box.
    method = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    patch = np.clip(cv2.resize(ink * 255.0, new_size, interpolation=method), 0, 255)
    return _place_by_centre_of_mass(patch)


def mnist_digit(image: Image.Image, label: str = "image") -> np.ndarray:
    """uint8 [28, 28], MNIST conventions (0 = background, 255 = ink)."""
    return analyse(image, label).digit


def _place_by_centre_of_mass(patch: np.ndarray) -> np.ndarray:
    height, width = patch.shape
    # Row and column sums, then one dot product each (not cv2.moments: it takes an N x 2
    # array for a list of points, so a 2-px-wide "1" would have no mass at all).
    total = float(patch.sum())
    com_y = float(patch.sum(axis=1) @ np.arange(height)) / total if total else (height - 1) / 2
    com_x = float(patch.sum(axis=0) @ np.arange(width)) / total if total else (width - 1) / 2
    centre = (FIELD - 1) / 2
    top = int(np.clip(round(centre - com_y), 0, FIELD - height))
    left = int(np.clip(round(centre - com_x), 0, FIELD - width))
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top : top + height, left : left + width] = patch
    return np.round(field).astype(np.uint8)


def read_picture(source: str | Path | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS) -> PictureDigit:
    """File path or bytes -> the digit and what was found (a close-up: the whole picture is
    the page). Every failure is a UserError naming the file."""
    return with_picture(source, analyse, name, max_pixels)


def with_picture(
    source: str | Path | bytes,
    work: Callable[[Image.Image, str], T],
    name: str | None = None,
    max_pixels: int = MAX_PIXELS,
) -> T:
    """Decode a file path or bytes and run `work(image, label)` on it. Every failure is a
    UserError naming the file, so one bad picture never stops a batch or becomes a server
    error."""
    label = _label(source, name)
    image = open_image(source, name, max_pixels)
    try:
        return work(image, label)
    except UserError:
        raise
    except (OSError, ValueError, TypeError, SyntaxError, MemoryError, cv2.error) as exc:
        # Pillow can still fail on a decoded picture's odd mode or metadata (EXIF, palette).
        raise UserError(f"{label}: cannot process this image ({type(exc).__name__}: {exc})") from None


def load_digit(source: str | Path | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """File path or bytes -> uint8 [28, 28] MNIST-style digit."""
    return read_picture(source, name, max_pixels).digit
