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

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lenet5.reader.lines import compose_line, crop, enlarge_owner, photograph, vary

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
    return [(picture, truth) for picture, truth, _owner in make_set_with_owners(kind, count, seed, images, labels)]


def make_set_with_owners(
    kind: str, count: int, seed: int, images: np.ndarray, labels: np.ndarray
) -> list[tuple[Image.Image, str, np.ndarray | None]]:
    """As make_set, with each picture's owner map: per pixel, the index of the digit whose
    ink is there (-1: paper); None for the fonts kind."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    fonts = [f for f in FONT_FILES if Path(f).exists()]
    if kind == "fonts" and not fonts:
        raise SystemExit("the fonts kind needs: apt-get install fonts-humor-sans fonts-dancingscript fonts-comic-neue")
    out = []
    for _ in range(count):
        length = int(rng.integers(2, 9))
        if kind == "fonts":
            text = "".join(str(d) for d in rng.integers(0, 10, length))
            out.append((_font_number(text, rng, fonts), text, None))
            continue
        picks = rng.integers(0, len(labels), length)
        digits = [vary(crop(images[i]), rng) for i in picks]
        line, owner = compose_line(digits, kind, rng)
        photo = Image.fromarray(photograph(line, rng, SCALE))
        out.append((photo, "".join(str(int(labels[i])) for i in picks), enlarge_owner(owner, SCALE)))
    return out
