"""Accuracy of a trained model on synthetic photos of handwritten digits, per condition.

    python bench/photo_accuracy.py --model runs/NAME [--n 500] [--seed 1]

Conditions: `clean` (the original synthetic photos: dark on white, light gradient, noise,
JPEG), `inverted` (the same, white on dark), and the field conditions of
`lenet5.data.synthetic_photos.CONDITIONS` (lighting, shadow, thin, small, lowres).
For each, the accuracy with lenet5's preprocessing and with a naive one (grayscale,
resize to 28x28, invert if the page is light), which is what many tutorials do.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

from common import write_result

from lenet5.data.synthetic_photos import CONDITIONS, PhotoStyle, condition_set, photo_set
from lenet5.errors import UserError
from lenet5.infer.backends import load_backend
from lenet5.infer.predict import predict_digit
from lenet5.infer.preprocess import mnist_digit


def naive_digit(image: Image.Image) -> np.ndarray:
    gray = np.asarray(image.convert("L").resize((28, 28), Image.Resampling.BILINEAR), dtype=np.uint8)
    return 255 - gray if gray.mean() > 127 else gray


def accuracy(backend, photos, prep) -> float:
    hits = 0
    for digit, image in photos:
        with contextlib.suppress(UserError):  # "no ink found" and the like count as misses
            hits += predict_digit(backend, prep(image.copy()), "x").digit == digit
    return hits / len(photos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--n", type=int, default=500, help="pictures per condition")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--naive", action="store_true", help="also score the naive preprocessing")
    args = parser.parse_args()
    backend = load_backend(args.model)
    sets = {
        "clean": photo_set(args.n, args.seed, PhotoStyle(True)),
        "inverted": photo_set(args.n, args.seed, PhotoStyle(False)),
    }
    rows = {}
    for name in (*sets, *CONDITIONS):
        photos = sets.get(name) or condition_set(name, args.n, args.seed)
        methods = [("lenet5", mnist_digit)] + ([("naive", naive_digit)] if args.naive else [])
        for method, prep in methods:
            started = time.perf_counter()
            score = accuracy(backend, photos, prep)
            rows[f"{name}/{method}"] = score
            print(f"{name:9} {method:7} {100 * score:6.2f}%  (n={len(photos)}, {time.perf_counter() - started:.1f} s)")
    print(f"wrote {write_result('photo_accuracy', {'model': args.model, 'n': args.n, 'seed': args.seed, **rows})}")


if __name__ == "__main__":
    main()
