"""What `lenet5 read` costs on the worst pictures of at most 1 MB: wall time and peak memory.

    .venv/bin/python bench/read_cost.py [--repeat 3]

Each picture is written to a temporary folder and read by the CLI in its own process, as a
user would, under `/usr/bin/time -v` (the process's wall time and peak resident memory,
model loading included); the same command on a plain two-digit picture is the baseline.
The goal (issue #28): at most 2 s and 500 MB for any picture of at most 1 MB.

Pictures: speckle (a 3x3 dot every 8 px: one mark per 64 px, each a candidate piece) at
256, 512 and 1024 px; uniform noise (the largest PNG under 1 MB); a page of short strokes
(pieces that join into arcs); a 12 MP JPEG of random grey blocks just under 1 MB; a
photo-sized blank page; and the baseline.
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write_result

LIMIT_BYTES = 1_000_000


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _jpeg(array: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def speckle(side: int) -> bytes:
    page = np.full((side, side), 255, np.uint8)
    for y in range(2, side - 3, 8):
        for x in range(2, side - 3, 8):
            page[y : y + 3, x : x + 3] = 0
    return _png(page)


def noise_png() -> bytes:
    rng = np.random.default_rng(0)
    side = 1000
    while True:  # the largest square of uniform noise whose PNG stays under the limit
        data = _png(rng.integers(0, 256, (side, side), dtype=np.uint8))
        if len(data) <= LIMIT_BYTES:
            return data
        side -= 50


def strokes() -> bytes:
    """Short dark strokes in every direction, 12 px apart: pieces that join into arcs."""
    rng = np.random.default_rng(1)
    page = np.full((900, 900), 235, np.uint8)
    import cv2

    for y in range(10, 890, 12):
        for x in range(10, 890, 12):
            dx, dy = rng.integers(-6, 7, 2)
            cv2.line(page, (int(x), int(y)), (int(x + dx), int(y + dy)), 30, 2)
    return _png(page)


def dashes() -> bytes:
    """Thin dashes of random lengths in columns 8 px apart and rows between them: every
    piece a candidate for the writing finder's broken-line (fold) test, many chains at once."""
    rng = np.random.default_rng(3)
    page = np.full((1000, 1000), 235, np.uint8)
    import cv2

    for x in range(6, 1000, 8):
        y = int(rng.integers(0, 8))
        while y < 1000:
            length = int(rng.integers(3, 30))
            cv2.line(page, (x, y), (x + int(rng.integers(-1, 2)), y + length), 60, 2)
            y += length + int(rng.integers(2, 9))
    return _png(page)


def jpeg_noise_12mp() -> bytes:
    """Random grey 8x8 blocks (one JPEG block each: a flat block costs few bytes) over 12 MP."""
    rng = np.random.default_rng(2)
    blocks = rng.integers(0, 256, (3000 // 8, 4000 // 8), dtype=np.uint8)
    page = np.kron(blocks, np.ones((8, 8), np.uint8))
    for quality in range(90, 0, -5):
        data = _jpeg(page, quality)
        if len(data) <= LIMIT_BYTES:
            return data
    raise RuntimeError("no quality fits")


def blank_photo() -> bytes:
    return _jpeg(np.full((3000, 4000), 200, np.uint8), 85)


def baseline() -> bytes:
    from lenet5.data import mnist

    data = mnist.load()
    line = np.concatenate([data.test_images[1], data.test_images[0]], axis=1)
    big = np.kron(255 - line, np.ones((5, 5), np.uint8))
    return _png(np.pad(big, 20, constant_values=255))


PICTURES = {
    "speckle 256": lambda: speckle(256),
    "speckle 512": lambda: speckle(512),
    "speckle 1024": lambda: speckle(1024),
    "uniform noise": noise_png,
    "short strokes": strokes,
    "dashed columns": dashes,
    "12 MP JPEG noise": jpeg_noise_12mp,
    "blank 12 MP photo": blank_photo,
    "two digits (baseline)": baseline,
}


def measure(path: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit status) of `lenet5 read PATH`."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "lenet5", "read", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    assert wall and rss, done.stderr[-2000:]
    hours, minutes, seconds = int(wall.group(1) or 0), int(wall.group(2)), float(wall.group(3))
    return 3600 * hours + 60 * minutes + seconds, int(rss.group(1)) / 1024, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per picture; the worst is reported")
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="read-cost-") as folder:
        for name, make in PICTURES.items():
            data = make()
            path = Path(folder) / (name.replace(" ", "_") + (".jpg" if "JPEG" in name or "photo" in name else ".png"))
            path.write_bytes(data)
            runs = [measure(path) for _ in range(args.repeat)]
            wall, rss = max(r[0] for r in runs), max(r[1] for r in runs)
            rows[name] = {"bytes": len(data), "worst_wall_s": wall, "worst_peak_rss_mb": rss, "exit": runs[0][2]}
            print(f"{name:24s} {len(data):>9,} B  {wall:5.2f} s  {rss:6.0f} MB  exit {runs[0][2]}", flush=True)
    write_result("read_cost", {"repeat": args.repeat, "pictures": rows})


if __name__ == "__main__":
    main()
