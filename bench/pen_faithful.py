"""Does a generated photo show the digit it claims? The desk-photo generator's pen, judged.

bench/desk_photos.py writes MNIST test digits with a pen: a ballpoint or gel pen draws the
middle lines of the digit's strokes. A digit whose loop MNIST's writer filled in has a
middle line through the blob, and a thin pen along it writes another digit (such digits:
`desk_photos.filled_in`; the generator now gives a thin pen's number another test digit of
the same label instead, `_thin_pen_pick`). This script measures how often the drawn digit
still reads as its label, with the 1998 network (`lenet5`: neither the reader that the photo
sets measure nor anything the generator was tuned with), for three ways of drawing: a thin
pen for every digit (the generator before `filled_in`), a thin pen with filled digits as
their outline (the generator at `800fcbd`), and every digit's outline. Only the drawing
differs between the rows: the same digits, the same random variations, one 2 px pen on 60
px digits.

    .venv/bin/python bench/pen_faithful.py --count 2000 --seed 11
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import desk_photos

from lenet5.infer.backends import load_backend
from lenet5.reader.lines import crop, vary
from lenet5.vision.preprocess import render_mnist

SCALE = 3.0  # target px per MNIST px: 60 px digits
PEN = desk_photos.Pen("black", np.array([0.1, 0.1, 0.1]), "ballpoint", 2.0, 0.92, 0.0, 0.3)


def _as_mnist(alpha: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(alpha > 0.05)
    return render_mnist(alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="MNIST test digits drawn")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    images, labels = desk_photos._test_digits()
    rng = np.random.default_rng(args.seed)
    picks = rng.choice(len(labels), args.count, replace=False)
    ways = ("thin pen for every digit", "thin pen, filled digits outlined", "every digit's outline")
    drawn: dict[str, list[np.ndarray]] = {way: [] for way in ways}
    filled, kept = [], []
    for i in picks:
        digit = vary(crop(images[i]), rng)
        binary, skeleton = desk_photos._digit_field(digit, rng.uniform(0.22, 0.38))
        if desk_photos._blobby(binary, skeleton):
            continue  # drawn as its outline before and after: not part of the question
        is_filled = desk_photos.filled_in(binary, skeleton)
        filled.append(is_filled)
        kept.append(int(labels[i]))
        for way, outline in zip(ways, (False, is_filled, True), strict=True):
            drawn[way].append(_as_mnist(desk_photos._pen_alpha(binary, skeleton, SCALE, PEN, outline)))
    backend = load_backend("lenet5")
    truth, is_filled_digit = np.array(kept), np.array(filled)
    left_out = args.count - len(truth)
    print(f"{len(truth)} digits ({left_out} blobs left out), {is_filled_digit.sum()} with a loop written solid")
    print(f"{'drawn as':32s} {'all':>7s} {'solid loops':>12s} {'the rest':>9s}")
    for name, digits in drawn.items():
        right = backend.probabilities(backend.meta.normalize(np.stack(digits))).argmax(axis=1) == truth
        solid, rest = right[is_filled_digit].mean(), right[~is_filled_digit].mean()
        print(f"{name:32s} {right.mean():7.2%} {solid:12.1%} {rest:9.2%}")


if __name__ == "__main__":
    main()
