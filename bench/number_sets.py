"""Pictures of written numbers with known answers, for measuring `lenet5 read`.

Four kinds, numbers of 2-8 digits:
- separated: MNIST **test** digits with clear gaps;
- close: gaps of about a pixel (at MNIST's scale): boxes overlap, ink does not touch;
- touching: strokes of neighbours overlap by 1-2 px, so two or more digits are one blob;
- fonts: numbers typed in handwriting-style fonts (Debian's fonts-humor-sans,
  fonts-dancingscript, fonts-comic-neue).
Each digit gets its own size (0.8-1.15), slant (shear up to 0.2) and baseline jitter; the
line is enlarged to photo scale (about 800x300 for five digits), printed dark on a light,
slightly uneven paper, with blur and noise.

Only test digits are used: the reader model never saw them (its junk pieces for training
come from training digits).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

KINDS = ("separated", "close", "touching", "fonts")
FONT_FILES = (
    "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf",
    "/usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf",
    "/usr/share/fonts/opentype/dancingscript/DancingScript-Bold.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Bold.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Italic.otf",
)
SCALE = 6  # MNIST pixels -> picture pixels


def _crop(image: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(image.max(axis=1) > 0)
    cols = np.flatnonzero(image.max(axis=0) > 0)
    return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32) / 255.0


def _vary(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One digit with its own size and slant."""
    size = rng.uniform(0.8, 1.15)
    shear = rng.uniform(-0.2, 0.2)
    h, w = digit.shape
    new_h, new_w = max(4, round(h * size)), max(2, round(w * size))
    scaled = cv2.resize(digit, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    extra = int(abs(shear) * new_h) + 1
    matrix = np.float32([[1, shear, extra if shear < 0 else 0], [0, 1, 0]])
    slanted = cv2.warpAffine(scaled, matrix, (new_w + extra, new_h), flags=cv2.INTER_LINEAR)
    return _crop((np.clip(slanted, 0, 1) * 255).astype(np.uint8))


def _row_extents(digit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the leftmost and rightmost ink column (inf/-inf for empty rows)."""
    ink = digit > 0.2
    cols = np.arange(digit.shape[1])
    left = np.where(ink, cols, np.inf).min(axis=1)
    right = np.where(ink, cols, -np.inf).max(axis=1)
    return left, right


def _line(digits: list[np.ndarray], kind: str, rng: np.random.Generator) -> np.ndarray:
    """Digits placed left to right on one canvas at MNIST's scale."""
    height = max(d.shape[0] for d in digits) + 8
    width = sum(d.shape[1] for d in digits) + 12 * len(digits) + 16
    canvas = np.zeros((height + 8, width), dtype=np.float32)
    baseline = height
    x = 6
    for k, digit in enumerate(digits):
        top = baseline - digit.shape[0] - int(rng.integers(-2, 3))  # baseline jitter
        top = int(np.clip(top, 0, canvas.shape[0] - digit.shape[0]))
        if k == 0 or kind == "separated":
            left = x + (int(rng.integers(4, 10)) if k else 0)
        else:
            # Put the digit as close as the kind says: per row, the gap between the ink
            # already down and this digit's ink; its smallest value is the distance.
            _, placed_right = _row_extents(canvas[top : top + digit.shape[0]])
            own_left, _ = _row_extents(digit)
            both = np.isfinite(placed_right) & np.isfinite(own_left)
            want = int(rng.integers(1, 3)) if kind == "close" else -int(rng.integers(1, 3))
            # With no row in common (a tall digit beside a low one), the boxes are butted.
            left = int(np.max(placed_right[both] - own_left[both])) + want + 1 if both.any() else x + want
            left = max(left, x - digit.shape[1] // 2)
        region = canvas[top : top + digit.shape[0], left : left + digit.shape[1]]
        np.maximum(region, digit[: region.shape[0], : region.shape[1]], out=region)
        x = max(x, left + digit.shape[1])
    return canvas[:, : x + 6]


def _photograph(line: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Ink 0..1 at MNIST's scale -> a light-paper photo at SCALE times the size."""
    big = cv2.resize(line, (line.shape[1] * SCALE, line.shape[0] * SCALE), interpolation=cv2.INTER_CUBIC)
    big = np.clip(big, 0, 1)
    pad = 20 * SCALE // 2
    big = np.pad(big, pad)
    _h, w = big.shape
    paper = rng.uniform(200, 245) + rng.uniform(-15, 15) * np.linspace(-1, 1, w)[None, :]
    ink_level = rng.uniform(20, 80)
    photo = paper - big * (paper - ink_level)
    photo = cv2.GaussianBlur(photo.astype(np.float32), (0, 0), rng.uniform(0.5, 1.5))
    photo += rng.normal(0, 3, photo.shape)
    return Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))


def _font_number(text: str, rng: np.random.Generator, fonts: list[str]) -> Image.Image:
    font = ImageFont.truetype(fonts[rng.integers(len(fonts))], int(rng.integers(70, 130)))
    width = int(sum(font.getlength(c) for c in text) + 40 * len(text) + 120)
    height = int(font.size * 2.2)
    image = Image.new("L", (width, height), int(rng.integers(215, 250)))
    draw = ImageDraw.Draw(image)
    x = 60.0
    for c in text:
        draw.text((x, height * 0.2 + rng.integers(-6, 7)), c, fill=int(rng.integers(10, 70)), font=font)
        x += font.getlength(c) + rng.uniform(2, 25)
    angle = rng.uniform(-3, 3)
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=int(np.median(np.asarray(image))))


def make_set(kind: str, count: int, seed: int, images: np.ndarray, labels: np.ndarray) -> list[tuple[Image.Image, str]]:
    """`count` pictures of numbers of the given kind with their answers."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    fonts = [f for f in FONT_FILES if Path(f).exists()]
    if kind == "fonts" and not fonts:
        raise SystemExit("the fonts kind needs: apt-get install fonts-humor-sans fonts-dancingscript fonts-comic-neue")
    out = []
    for _ in range(count):
        length = int(rng.integers(2, 9))
        if kind == "fonts":
            text = "".join(str(d) for d in rng.integers(0, 10, length))
            out.append((_font_number(text, rng, fonts), text))
            continue
        picks = rng.integers(0, len(labels), length)
        digits = [_vary(_crop(images[i]), rng) for i in picks]
        out.append((_photograph(_line(digits, kind, rng), rng), "".join(str(int(labels[i])) for i in picks)))
    return out


def touches(kind_line: np.ndarray) -> bool:
    """Whether a line's ink is one connected blob somewhere between digits (for checks)."""
    count, _ = cv2.connectedComponents((kind_line > 0.2).astype(np.uint8))
    return count - 1 >= 1
