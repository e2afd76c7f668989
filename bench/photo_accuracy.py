"""Accuracy of a trained model on synthetic photos of handwritten digits, per condition.

    python bench/photo_accuracy.py --model runs/NAME [--n 500] [--seed 1]

Conditions: `clean` (the original synthetic photos: dark on white, light gradient, noise,
JPEG), `inverted` (the same, white on dark), the field conditions of
`lenet5.data.synthetic_photos.CONDITIONS` (lighting, shadow, thin, small, lowres), and two
kinds that worked before this preprocessing and must keep working: `mnist_photo` (MNIST
test digits printed dark on a lit page and photographed: scaled, lit unevenly, noisy,
JPEG) and `font` (digits typed in the TrueType fonts found under /usr/share/fonts, rotated
a little, on a lit page; skipped when there are none).
For each, the accuracy with lenet5's preprocessing (the close-up finder, `mnist_digit`), with
what `lenet5 predict` runs on a picture (`photo_digit`: a sheet first, then the page's
writing; with no sheet in view, the close-up finder) and with a naive one (grayscale, resize
to 28x28, invert if the page is light), which is what many tutorials do.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write_result

from lenet5.data.synthetic_photos import CONDITIONS, PhotoStyle, condition_set, photo_set
from lenet5.errors import UserError
from lenet5.infer.backends import load_backend
from lenet5.infer.photo import photo_digit
from lenet5.infer.predict import predict_digit
from lenet5.vision.preprocess import mnist_digit


def naive_digit(image: Image.Image) -> np.ndarray:
    gray = np.asarray(image.convert("L").resize((28, 28), Image.Resampling.BILINEAR), dtype=np.uint8)
    return 255 - gray if gray.mean() > 127 else gray


def accuracy(backend, photos, prep) -> float:
    hits = 0
    for digit, image in photos:
        with contextlib.suppress(UserError):  # "no ink found" and the like count as misses
            hits += predict_digit(backend, prep(image.copy()), "x").digit == digit
    return hits / len(photos)


def _predict_path(image: Image.Image) -> np.ndarray:
    return photo_digit(image).digit


def _photographed(ink: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Dark ink (alpha 0..1, any size) on a lit page, with noise and JPEG."""
    import io

    side = int(rng.integers(200, 600))
    scale = side * rng.uniform(0.4, 0.7) / max(ink.shape)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    alpha = np.asarray(Image.fromarray((ink * 255).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)) / 255.0
    page = np.zeros((side, side), np.float32)
    y, x = int(rng.integers(0, side - size[1])), int(rng.integers(0, side - size[0]))
    page[y : y + size[1], x : x + size[0]] = alpha
    ys, xs = np.mgrid[0:side, 0:side] / side
    light = 1 - rng.uniform(0, 0.4) * xs - rng.uniform(0, 0.2) * ys
    pixels = (rng.uniform(200, 245) * (1 - page) + rng.uniform(15, 70) * page) * light + rng.normal(0, 3, page.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=int(rng.integers(50, 90)))
    return Image.open(io.BytesIO(buffer.getvalue()))


def mnist_photos(n: int, seed: int) -> list[tuple[int, Image.Image]]:
    from lenet5.data import mnist

    data = mnist.load()
    rng = np.random.default_rng([seed, 100])
    picks = rng.choice(len(data.test_labels), n, replace=False)
    return [(int(data.test_labels[i]), _photographed(data.test_images[i] / 255.0, rng)) for i in picks]


def font_photos(n: int, seed: int) -> list[tuple[int, Image.Image]]:
    from PIL import ImageDraw, ImageFont

    fonts = sorted(Path("/usr/share/fonts").rglob("*.ttf"))
    rng = np.random.default_rng([seed, 101])
    out = []
    for i in range(n if fonts else 0):
        digit = i % 10
        font = ImageFont.truetype(str(fonts[int(rng.integers(len(fonts)))]), 120)
        canvas = Image.new("L", (200, 200), 0)
        ImageDraw.Draw(canvas).text((100, 100), str(digit), fill=255, font=font, anchor="mm")
        canvas = canvas.rotate(float(rng.uniform(-8, 8)), resample=Image.Resampling.BILINEAR)
        out.append((digit, _photographed(np.asarray(canvas) / 255.0, rng)))
    return out


def _load_mnist_digit(path: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location("other_preprocess", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.mnist_digit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--n", type=int, default=500, help="pictures per condition")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--naive", action="store_true", help="also score the naive preprocessing")
    parser.add_argument(
        "--preprocess-from",
        metavar="FILE",
        help="also score the mnist_digit of another preprocess.py (an older version, for before/after)",
    )
    args = parser.parse_args()
    backend = load_backend(args.model)
    sets = {
        "clean": photo_set(args.n, args.seed, PhotoStyle(True)),
        "inverted": photo_set(args.n, args.seed, PhotoStyle(False)),
        "mnist_photo": mnist_photos(args.n, args.seed),
        "font": font_photos(args.n, args.seed),
    }
    rows = {}
    for name in (*sets, *CONDITIONS):
        photos = sets[name] if name in sets else condition_set(name, args.n, args.seed)
        if not photos:
            print(f"{name:11} skipped (no fonts)")
            continue
        # "predict": what `lenet5 predict` runs on a picture (the sheet, the page's writing,
        # or, with no sheet in view, the close-up finder that "lenet5" scores alone).
        methods = [("lenet5", mnist_digit), ("predict", _predict_path)]
        methods += [("naive", naive_digit)] if args.naive else []
        if args.preprocess_from:
            methods.append(("other", _load_mnist_digit(args.preprocess_from)))
        for method, prep in methods:
            started = time.perf_counter()
            score = accuracy(backend, photos, prep)
            rows[f"{name}/{method}"] = score
            print(f"{name:11} {method:7} {100 * score:6.2f}%  (n={len(photos)}, {time.perf_counter() - started:.1f} s)")
    print(f"wrote {write_result('photo_accuracy', {'model': args.model, 'n': args.n, 'seed': args.seed, **rows})}")


if __name__ == "__main__":
    main()
