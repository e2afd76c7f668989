"""How much the pen alone costs `lenet5 read`: the same numbers written with each pen of
bench/desk_photos.py on a clean white picture, nothing else of a photo around them.

    .venv/bin/python bench/pen_lines.py [--model reader] [--count 300] [--seed 7] [--json-out F]

Each number is 4 MNIST test digits, separated, 60 px high (bench/desk_photos.py's `_write`,
the handwriting of the desk photos), drawn four ways from the same digits and placement:
a marker (the digit's own outline filled), a ballpoint whose line is 6% or 10% of the
digit's height (the middle lines of the strokes drawn at one width), and a gel pen at 14%.
A number counts as read when `lenet5 read` gives exactly its digits; also reported, the
share of digits right among numbers read with the right length. Seed 7 is the tuning set;
report on another.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

import desk_photos
from common import write_result

from lenet5.infer.backends import load_backend
from lenet5.reader.numbers import read_file

HEIGHT = 60.0
PENS = {  # name: (style, line width as a share of the digit's height)
    "marker": ("marker", 0.0),
    "ballpoint 6%": ("ballpoint", 0.06),
    "ballpoint 10%": ("ballpoint", 0.10),
    "gel 14%": ("gel", 0.14),
}


def picture(alpha: np.ndarray) -> bytes:
    grey = np.pad((255 * (1 - np.clip(alpha, 0, 1))).astype(np.uint8), 40, constant_values=255)
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, "PNG")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="reader", help="shipped model name or model folder (default reader)")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7, help="7: the tuning set")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--errors", type=int, default=0, help="wrong readings to show per pen")
    args = parser.parse_args()
    backend = load_backend(args.model)
    numbers = dict.fromkeys(PENS, 0)
    digits = dict.fromkeys(PENS, 0)
    wrong: dict[str, list[str]] = {name: [] for name in PENS}
    for index in range(args.count):
        for name, (style, share) in PENS.items():
            pen = desk_photos.Pen("black", np.array([0.1, 0.1, 0.1]), style, share * HEIGHT, 0.92, 0.0, 0.3)
            written = desk_photos._write(np.random.default_rng([args.seed, index]), 4, HEIGHT, pen, "separated")
            reading, _ = read_file(backend, picture(written.alpha), f"{index}.png")
            got = " ".join(n.number for n in reading.numbers)
            numbers[name] += got == written.text
            if got != written.text and len(wrong[name]) < args.errors:
                wrong[name].append(f"{written.text} -> {got}")
            if len(got) == len(written.text):
                digits[name] += sum(a == b for a, b in zip(got, written.text, strict=True))
    rows = {name: {"numbers": numbers[name] / args.count, "digits": digits[name] / (4 * args.count)} for name in PENS}
    for name, row in rows.items():
        print(f"{name:14s} numbers {100 * row['numbers']:5.1f}%   digits {100 * row['digits']:5.1f}%")
        if wrong[name]:
            print("    wrong: " + ", ".join(wrong[name]))
    if args.json_out:
        write_result(args.json_out.stem, {"model": args.model, "count": args.count, "seed": args.seed, "pens": rows})


if __name__ == "__main__":
    main()
