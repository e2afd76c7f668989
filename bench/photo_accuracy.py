"""Accuracy of a trained model on synthetic photos of handwritten digits.

    python bench/photo_accuracy.py --model runs/NAME [--n 1000] [--seed 1]

Reports, for dark-on-white and white-on-dark pictures, the accuracy with lenet5's
MNIST-style preprocessing and with a naive one (grayscale, resize to 28x28, invert if
the page is light), which is what many tutorials do.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

from common import write_result

from lenet5.data.synthetic_photos import PhotoStyle, photo_set
from lenet5.infer.backends import load_backend
from lenet5.infer.predict import predict_digit
from lenet5.infer.preprocess import mnist_digit


def naive_digit(image: Image.Image) -> np.ndarray:
    gray = np.asarray(image.convert("L").resize((28, 28), Image.Resampling.BILINEAR), dtype=np.uint8)
    return 255 - gray if gray.mean() > 127 else gray


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    backend = load_backend(args.model)
    rows = {}
    for label, style in (("dark_on_white", PhotoStyle(True)), ("white_on_dark", PhotoStyle(False))):
        photos = photo_set(args.n, args.seed, style)
        for method, prep in (("mnist_style", mnist_digit), ("naive_resize", naive_digit)):
            hits = sum(predict_digit(backend, prep(image), "x").digit == digit for digit, image in photos)
            rows[f"{label}/{method}"] = hits / len(photos)
            print(f"{label:14} {method:13} {100 * hits / len(photos):6.2f}%  ({hits}/{len(photos)})")
    print(f"wrote {write_result('photo_accuracy', {'model': args.model, 'n': args.n, 'seed': args.seed, **rows})}")


if __name__ == "__main__":
    main()
