"""A picture with every number's box, each digit's box and its reading drawn over it
(`lenet5 read --annotate`), in the picture's own pixels."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from lenet5.reader.numbers import PageReading
from lenet5.reader.read import ReadDigit
from lenet5.vision.preprocess import FULL_SIZE, open_image, upright

NUMBER_COLOUR = (40, 90, 220)


def annotated_file(path: Path, reading: PageReading) -> Image.Image:
    """`annotated` on the picture in `path`, decoded again in colour and turned upright (the
    reading was made on grey levels)."""
    picture = open_image(path, str(path), colour=True)
    upright(picture)
    return annotated(picture, reading)


def annotated(image: Image.Image, reading: PageReading) -> Image.Image:
    """A copy of the picture, at its full size (a phone photo decoded smaller is enlarged back,
    so the boxes land on the ink), with the boxes and readings drawn over it."""
    canvas = image.convert("RGB")
    full = tuple(image.info.get(FULL_SIZE, canvas.size))
    if full != canvas.size:
        canvas = canvas.resize(full, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(canvas)
    line = max(2, round(max(canvas.size) / 300))
    size = max(12, round(0.25 * max((d.box[3] - d.box[1] for d in reading.digits), default=40)))
    font = ImageFont.load_default(size=size)
    for number in reading.numbers:
        if number.box is not None and len(reading.numbers) > 1:
            x0, y0, x1, y1 = number.box
            pad = 2 * line
            draw.rectangle((x0 - pad, y0 - pad, x1 + pad, y1 + pad), outline=NUMBER_COLOUR, width=max(1, line // 2))
        _digits(draw, number.digits, font, size, line, canvas.height)
    return canvas


def _digits(
    draw: ImageDraw.ImageDraw, digits: list[ReadDigit], font: object, size: int, line: int, bottom: int
) -> None:
    labels_end = -1  # right end of the last label drawn above the boxes
    for d in digits:
        colour = (0, 150, 60) if d.probability >= 0.9 else (220, 120, 0) if d.probability >= 0.6 else (220, 0, 0)
        draw.rectangle(d.box, outline=colour, width=line)
        label = f"{d.digit} {100 * d.probability:.0f}%"
        x = d.box[0]
        if x >= labels_end + line:  # room above the box
            y = max(0, d.box[1] - size - 2 * line)
            labels_end = draw.textbbox((x, y), label, font=font)[2]
        else:  # a narrow neighbour's label is there: below the box instead
            y = min(bottom - size, d.box[3] + line)
        draw.rectangle(draw.textbbox((x, y), label, font=font), fill=(255, 255, 255))
        draw.text((x, y), label, fill=colour, font=font)
