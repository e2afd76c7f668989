"""Turning anyone's digit picture into an MNIST digit, the way MNIST itself was made.

MNIST digits are white ink on black, the ink's bounding box scaled so its longer side is
20 px (aspect kept, anti-aliased), then placed in a 28x28 field so that the ink's centre
of mass sits at the centre. A photo of dark ink on white paper, off-centre and at any
size, gets every one of those steps here; skipping them is why tutorial models that
score 99% on MNIST misread people's own handwriting.

    any image -> grayscale (alpha composited on white) -> ink made bright (invert if the
    background is light) -> contrast stretched, faint noise zeroed -> crop to the ink ->
    longer side 20 px -> 28x28 by centre of mass -> uint8, 0 = background

The model's own normalisation (and 32x32 padding for `lenet5`) is applied afterwards by
`lenet5.data.normalize`, exactly as in training.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lenet5.errors import UserError, file_errors

MAX_PIXELS = 50_000_000  # ~7000x7000: far above any photo of a digit, far below a decompression bomb
BOX = 20  # MNIST's size-normalisation box
FIELD = 28
NOISE_FLOOR = 0.2  # fraction of full ink contrast below which a pixel counts as background
MIN_CONTRAST = 24.0  # grey levels between background and ink; less than this is a blank page
WORKING_SIZE = 512  # larger pictures are shrunk to this first: the digit ends up 20 px tall anyway


class NoInkError(UserError):
    """The picture has nothing that looks like a stroke."""


def open_image(source: str | Path | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open and fully decode an image file or bytes, with clean errors for every bad case.

    `max_pixels` is checked on the header, before anything is decoded (the server passes
    its own, lower budget)."""
    label = name or str(source if not isinstance(source, bytes) else "<bytes>")
    if isinstance(source, bytes):
        if not source:
            raise UserError(f"{label}: empty file")
        handle: io.BytesIO | Path = io.BytesIO(source)
    else:
        handle = Path(source)
        with file_errors(label):
            with handle.open("rb"):  # fails here, with the OS's reason, if it cannot be read
                pass
            size = handle.stat().st_size
        if size == 0:
            raise UserError(f"{label}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(handle)
            width, height = image.size
            if width * height > max_pixels:
                raise UserError(f"{label}: image too large ({width}x{height}, limit {max_pixels:,} pixels)")
            if image.format == "JPEG" and max(width, height) > 2 * WORKING_SIZE:
                image.draft("L", (WORKING_SIZE, WORKING_SIZE))  # decode a phone photo at 1/2..1/8 scale
            image.load()
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


def to_grayscale(image: Image.Image) -> np.ndarray:
    """Gray levels 0..255 from any mode: palette, alpha, 16-bit, float, CMYK. uint8 for
    8-bit pictures (nearly all), float32 for deeper ones."""
    # in_place: without it Pillow returns a full copy even when there is nothing to rotate.
    ImageOps.exif_transpose(image, in_place=True)
    deep = image.mode.startswith("I;16")
    if deep:
        image = image.convert("I")  # Pillow resizes 32-bit "I" but not the packed 16-bit modes
    if max(image.size) > WORKING_SIZE:
        # resize returns the small picture without first copying the large one (thumbnail
        # would need a copy to leave the caller's picture alone): 64 MB less for a 16 MP page.
        scale = WORKING_SIZE / max(image.size)
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
    return np.asarray(image.convert("L"))  # uint8: ink_map then works on 256 levels, not every pixel


def _percentile_of_levels(values: np.ndarray, q: float, weights: np.ndarray | None = None) -> float:
    """Percentile of values in -255..255 (each counted `weights` times if given), read off a
    histogram of whole grey levels: linear time, where np.percentile partitions the image."""
    bins = (np.clip(values, -255, 255) + 255).astype(np.int64).ravel()
    counts = np.bincount(bins, weights=weights, minlength=511)
    total = values.size if weights is None else float(weights.sum())
    rank = np.searchsorted(np.cumsum(counts), q / 100 * total)
    return float(rank - 255)


def ink_map(gray: np.ndarray, label: str = "image") -> np.ndarray:
    """Ink strength 0..1 (0 = background), whatever the polarity of the picture."""
    return _ink_lookup(gray, label)(gray)


def _ink_lookup(gray: np.ndarray, label: str):
    """A function from grey levels (any part of `gray`) to ink strength, fitted to the whole
    picture: background from its border, full strength at its 99.9th percentile of ink."""
    rim = max(1, min(gray.shape) // 20)
    border = np.concatenate([gray[:rim].ravel(), gray[-rim:].ravel(), gray[:, :rim].ravel(), gray[:, -rim:].ravel()])
    background = float(np.median(border))
    if gray.dtype == np.uint8:
        # Every pixel of one grey level gets the same ink value: compute the 256 values once
        # and look them up (identical results, a fraction of the whole-image arithmetic).
        levels = _ink_strength(np.arange(256, dtype=np.float32), background)
        counts = np.bincount(gray.ravel(), minlength=256)
        peak = _percentile_of_levels(levels, 99.9, counts)
        _require_contrast(peak, label)
        table = _normalised_ink(levels, peak)
        return table.__getitem__
    peak = _percentile_of_levels(_ink_strength(gray, background), 99.9)
    _require_contrast(peak, label)
    return lambda part: _normalised_ink(_ink_strength(part, background), peak)


def _ink_box(gray: np.ndarray, to_ink) -> tuple[slice, slice]:
    """Rows and columns spanned by the ink."""
    # For 8-bit pictures: which grey levels are ink, then one boolean lookup per pixel.
    eight_bit = gray.dtype == np.uint8
    has_ink = (to_ink(np.arange(256, dtype=np.uint8)) > 0)[gray] if eight_bit else to_ink(gray) > 0
    rows, cols = np.flatnonzero(has_ink.any(axis=1)), np.flatnonzero(has_ink.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _ink_strength(gray: np.ndarray, background: float) -> np.ndarray:
    return gray - background if background < 128 else background - gray


def _require_contrast(peak: float, label: str) -> None:
    if peak < MIN_CONTRAST:
        raise NoInkError(f"{label}: no ink found (blank or near-uniform image)")


def _normalised_ink(ink: np.ndarray, peak: float) -> np.ndarray:
    ink = np.clip(ink / peak, 0.0, 1.0)
    ink[ink < NOISE_FLOOR] = 0.0
    return ink


def mnist_digit(image: Image.Image, label: str = "image") -> np.ndarray:
    """uint8 [28, 28], MNIST conventions (0 = background, 255 = ink)."""
    gray = to_grayscale(image)
    to_ink = _ink_lookup(gray, label)
    crop = to_ink(gray[_ink_box(gray, to_ink)])  # ink strength computed inside the box only
    height, width = crop.shape
    scale = BOX / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray((crop * 255).astype(np.float32), mode="F").resize(new_size, Image.Resampling.LANCZOS)
    patch = np.clip(np.asarray(resized, dtype=np.float32), 0, 255)
    return _place_by_centre_of_mass(patch)


def _place_by_centre_of_mass(patch: np.ndarray) -> np.ndarray:
    height, width = patch.shape
    total = float(patch.sum())
    ys, xs = np.mgrid[0:height, 0:width]
    com_y = float((ys * patch).sum() / total) if total else (height - 1) / 2
    com_x = float((xs * patch).sum() / total) if total else (width - 1) / 2
    centre = (FIELD - 1) / 2
    top = int(np.clip(round(centre - com_y), 0, FIELD - height))
    left = int(np.clip(round(centre - com_x), 0, FIELD - width))
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top : top + height, left : left + width] = patch
    return np.round(field).astype(np.uint8)


def load_digit(source: str | Path | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """File path or bytes -> uint8 [28, 28] MNIST-style digit. Every failure is a UserError
    naming the file, so one bad picture never stops a batch or becomes a server error."""
    label = name or str(source if not isinstance(source, bytes) else "<bytes>")
    image = open_image(source, name, max_pixels)
    try:
        return mnist_digit(image, label)
    except UserError:
        raise
    except (OSError, ValueError, TypeError, SyntaxError, MemoryError) as exc:
        # Pillow can still fail on a decoded picture's odd mode or metadata (EXIF, palette).
        raise UserError(f"{label}: cannot process this image ({type(exc).__name__}: {exc})") from None
