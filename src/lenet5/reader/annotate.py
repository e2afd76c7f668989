"""A picture with each digit of its reading drawn over it (`lenet5 read --annotate`)."""

from __future__ import annotations

from PIL import Image

from lenet5.reader.read import NumberReading


def annotated(image: Image.Image, reading: NumberReading) -> Image.Image:
    """A copy of the picture with each digit's box and its reading drawn over it."""
    from PIL import ImageDraw, ImageFont

    canvas = image.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    line = max(2, round(max(canvas.size) / 300))
    size = max(12, round(0.25 * max((d.box[3] - d.box[1] for d in reading.digits), default=40)))
    font = ImageFont.load_default(size=size)
    labels_end = -1  # right end of the last label drawn above the boxes
    for d in reading.digits:
        colour = (0, 150, 60) if d.probability >= 0.9 else (220, 120, 0) if d.probability >= 0.6 else (220, 0, 0)
        draw.rectangle(d.box, outline=colour, width=line)
        label = f"{d.digit} {100 * d.probability:.0f}%"
        x = d.box[0]
        if x >= labels_end + line:  # room above the box
            y = max(0, d.box[1] - size - 2 * line)
            labels_end = draw.textbbox((x, y), label, font=font)[2]
        else:  # a narrow neighbour's label is there: below the box instead
            y = min(canvas.height - size, d.box[3] + line)
        draw.rectangle(draw.textbbox((x, y), label, font=font), fill=(255, 255, 255))
        draw.text((x, y), label, fill=colour, font=font)
    return canvas
