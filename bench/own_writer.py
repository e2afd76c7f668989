"""One person's handwriting, for fine-tuning on your own digits (issue #29, docs/results.md).

    python bench/own_writer.py make OUT [--train 200] [--test 300] [--seed 0]
    python bench/own_writer.py score OUT MODEL [MODEL ...]

`make` writes an image folder in `lenet5 train --data`'s layout, OUT/train/<digit>/*.jpg and
OUT/test/<digit>/*.jpg: photo-like crops of digits drawn as pen strokes by one imaginary
writer. Not MNIST's distribution, and not the varied strokes of
`lenet5.data.synthetic_photos` either: one consistent personal style, the way one person
writes every time (fixed below, a little unsteady from sample to sample):

- a strong forward slant and narrow digits, in blue ballpoint of one width;
- a 1 with a long flag and a foot, a 7 crossed in the middle, a 4 open at the top and made
  of two strokes, a 0 with a slash through it, a 2 with a loop at its foot, a flat-topped
  3, a 9 whose tail curls back to the left;
- on paper: a paper tone, fibres, light falling off across the crop, and JPEG; with
  `--paper squared`, a faint grey grid too.

`score` prints each model's accuracy on OUT/test, reading each crop as `lenet5 predict`
does (lenet5.load(MODEL).predict).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Stroke = list[tuple[float, float]]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 24) -> Stroke:
    """Points on an ellipse, angles in degrees, 0 = right, 90 = down (image coordinates)."""
    angles = np.radians(np.linspace(start, end, n))
    return [(float(cx + rx * np.cos(a)), float(cy + ry * np.sin(a))) for a in angles]


# The writer's own shapes, in a unit box (x right, y down); each digit a list of strokes.
WRITER: dict[int, list[Stroke]] = {
    0: [_arc(0.5, 0.5, 0.32, 0.46, -90, 275, 40), [(0.78, 0.1), (0.22, 0.9)]],
    1: [[(0.15, 0.38), (0.58, 0.03), (0.58, 0.97)], [(0.3, 0.97), (0.85, 0.97)]],
    2: [
        _arc(0.5, 0.28, 0.3, 0.24, 200, 370, 20)
        + [(0.7, 0.5), (0.22, 0.9)]
        + _arc(0.3, 0.86, 0.1, 0.1, 300, 10, 12)
        + [(0.88, 0.93)]
    ],
    3: [[(0.18, 0.05), (0.8, 0.05), (0.42, 0.42)] + _arc(0.48, 0.7, 0.32, 0.27, -100, 150, 24)],
    4: [[(0.3, 0.02), (0.14, 0.62), (0.9, 0.62)], [(0.66, 0.3), (0.66, 0.98)]],
    5: [[(0.82, 0.05), (0.3, 0.05), (0.26, 0.44)] + _arc(0.48, 0.68, 0.32, 0.27, 230, 500, 28)[1:]],
    6: [[(0.7, 0.03)] + _arc(0.7, 0.62, 0.46, 0.58, 270, 180, 12)[1:] + _arc(0.5, 0.72, 0.26, 0.24, 180, 540, 30)],
    7: [[(0.1, 0.16), (0.12, 0.05), (0.9, 0.05), (0.38, 0.97)], [(0.3, 0.52), (0.82, 0.52)]],
    8: [_arc(0.5, 0.26, 0.22, 0.22, 90, 450, 28), _arc(0.5, 0.71, 0.28, 0.25, -90, 270, 30)],
    9: [_arc(0.5, 0.28, 0.27, 0.25, 0, 360, 30) + [(0.77, 0.3), (0.74, 0.8)] + _arc(0.5, 0.8, 0.24, 0.17, 0, 160, 14)],
}
SLANT = 0.32  # forward shear: x moves right by 0.32 of the height at the top
ASPECT = 0.58  # width / height
STROKE = 0.085  # pen width / digit height
INK = np.array([38.0, 52.0, 140.0])  # blue ballpoint


def _strokes(digit: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """Ink coverage 0..1 of one digit on a `size` x `size` crop, drawn at 4x and reduced."""
    scale = 4
    height = size * rng.uniform(0.62, 0.72)
    width = height * ASPECT * rng.uniform(0.94, 1.06)
    shear = SLANT + rng.normal(0, 0.03)
    angle = np.radians(rng.normal(0, 2.5))
    transform = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.array(
        [[width, -shear * height], [0.0, height]]
    )
    centre = np.array([size / 2, size / 2]) + rng.normal(0, size * 0.03, 2)
    mask = Image.new("L", (size * scale, size * scale), 0)
    draw = ImageDraw.Draw(mask)
    pen = max(1, round(height * STROKE * rng.uniform(0.9, 1.1) * scale))
    wobble, phase = rng.normal(0, 0.02, 2), rng.uniform(0, 2 * np.pi, 2)
    for polyline in WRITER[digit]:
        points = np.asarray(polyline) - 0.5
        points[:, 0] += wobble[0] * np.sin(2 * np.pi * points[:, 1] + phase[0])
        points[:, 1] += wobble[1] * np.sin(2 * np.pi * points[:, 0] + phase[1])
        points += rng.normal(0, 0.008, points.shape)
        path = [tuple(p) for p in (points @ transform.T + centre) * scale]
        draw.line(path, fill=255, width=pen, joint="curve")
        for x, y in (path[0], path[-1]):
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    mask = mask.resize((size, size), Image.Resampling.BOX)
    return np.asarray(mask, dtype=np.float32) / 255


def _paper(rng: np.random.Generator, size: int, squared: bool) -> np.ndarray:
    """Paper (plain, or squared notebook paper) under uneven light, RGB float."""
    tone = np.array([236.0, 233.0, 222.0]) + rng.normal(0, 4, 3)
    fibres = np.asarray(
        Image.fromarray(rng.normal(128, 40, (size, size)).clip(0, 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(1.2)
        ),
        dtype=np.float32,
    )
    page = tone + (fibres[..., None] - 128) * 0.12
    pitch = size / rng.uniform(3.2, 4.2)
    offset = rng.uniform(0, pitch, 2)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    grid = np.maximum(
        np.abs(((xs - offset[0]) % pitch) - pitch / 2) > pitch / 2 - 1.0,
        np.abs(((ys - offset[1]) % pitch) - pitch / 2) > pitch / 2 - 1.0,
    )
    page = page - squared * grid[..., None] * np.array([40.0, 34.0, 22.0])
    direction = rng.uniform(0, 2 * np.pi)
    light = 1 - rng.uniform(0.05, 0.2) * (0.5 + 0.5 * (np.cos(direction) * xs + np.sin(direction) * ys) / size)
    return page * light[..., None]


def crop(digit: int, rng: np.random.Generator, squared: bool = False) -> Image.Image:
    """One photo-like crop of `digit` in the writer's hand (RGB, JPEG-decoded)."""
    size = int(rng.integers(96, 160))
    alpha = _strokes(digit, rng, size)[..., None]
    page = _paper(rng, size, squared)
    ink = INK + rng.normal(0, 6, 3)
    pixels = page * (1 - 0.92 * alpha) + ink * 0.92 * alpha + rng.normal(0, 2.5, (size, size, 1))
    buffer = io.BytesIO()
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=int(rng.integers(70, 92)))
    image = Image.open(io.BytesIO(buffer.getvalue()))
    image.load()
    return image


def make(out: Path, train: int, test: int, seed: int, squared: bool = False) -> None:
    """OUT/train and OUT/test, digits cycling 0-9, each part from its own generator."""
    for part, count in (("train", train), ("test", test)):
        rng = np.random.default_rng([seed, 29, 0 if part == "train" else 1])
        for k in range(count):
            digit = k % 10
            folder = out / part / str(digit)
            folder.mkdir(parents=True, exist_ok=True)
            crop(digit, rng, squared).save(folder / f"{k:04d}.jpg", quality=95)
    print(f"wrote {train} training and {test} test crops to {out}")


def score(out: Path, models: list[str]) -> None:
    import lenet5

    files = sorted((out / "test").rglob("*.jpg"))
    labels = np.array([int(p.parent.name) for p in files])
    for name in models:
        model = lenet5.load(name)
        answers = np.array([_answer(model, path) for path in files])
        wrong = answers != labels  # a crop it finds no digit on (-1) counts as wrong
        per_digit = " ".join(f"{d}:{100 * (1 - wrong[labels == d].mean()):.0f}" for d in range(10))
        print(
            f"{name}: {100 * (1 - wrong.mean()):.1f}% of {len(files)} ({int(wrong.sum())} wrong; per digit {per_digit})"
        )


def _answer(model: object, path: Path) -> int:
    from lenet5.errors import UserError

    try:
        return int(model.predict(str(path)).digit)  # type: ignore[attr-defined]
    except UserError:
        return -1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("make", help="write the image folder")
    made.add_argument("out", type=Path)
    made.add_argument("--train", type=int, default=200)
    made.add_argument("--test", type=int, default=300)
    made.add_argument("--seed", type=int, default=0)
    made.add_argument(
        "--paper",
        choices=("plain", "squared"),
        default="plain",
        help="squared: a faint grid under the digits (lenet5 predict's page finder cuts some digits at its lines)",
    )
    scored = commands.add_parser("score", help="accuracy of models on OUT/test")
    scored.add_argument("out", type=Path)
    scored.add_argument("models", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "make":
        make(args.out, args.train, args.test, args.seed, args.paper == "squared")
    else:
        score(args.out, args.models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
