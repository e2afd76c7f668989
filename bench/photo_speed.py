"""Time to answer one whole phone photo, decoding included, by the picture's size.

    .venv/bin/python bench/photo_speed.py DIR [--repeats 3]

DIR holds desk photos as bench/desk_photos.py writes them (DIR/KIND/*.jpg, 1.5-12 MP JPEGs;
`bench/photo_frames.py --keep DIR` keeps its sets there). Each file's bytes are read into
memory first; then, in this process, with the model loaded once, each is answered as the
command line answers it: `predict` (the digit kinds, the shipped default model) or `read`
(the number kinds, the shipped reader), from the bytes (JPEG decoding included). The best
of `--repeats` runs per picture (the machine is shared; the best is what the code costs),
then the median and 90th percentile per size class: up to 1.5 MP, up to 4 MP, up to 8 MP,
up to 12.5 MP. Goals (issue #27): 12 MP within 150 ms, 1 MP within 40 ms, on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write_result

from lenet5.errors import UserError
from lenet5.infer.backends import load_backend
from lenet5.infer.photo import read_photo_digit
from lenet5.infer.predict import predict_picture
from lenet5.reader.numbers import read_file

DIGIT_KINDS = ("desk_digit", "small_digit_page")
CLASSES = ((1.5, "<= 1.5 MP"), (4.0, "<= 4 MP"), (8.0, "<= 8 MP"), (12.5, "<= 12.5 MP"))


def size_class(megapixels: float) -> str:
    return next(name for limit, name in CLASSES if megapixels <= limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    digit_model, reader = load_backend(None), load_backend("reader")
    times: dict[str, dict[str, list[float]]] = {"predict": {}, "read": {}}
    for kind_dir in sorted(p for p in args.folder.iterdir() if p.is_dir()):
        command = "predict" if kind_dir.name in DIGIT_KINDS else "read"
        for path in sorted(kind_dir.glob("*.jpg")):
            data = path.read_bytes()
            with Image.open(path) as image:
                megapixels = image.width * image.height / 1e6
            best = float("inf")
            for _ in range(args.repeats):
                started = time.perf_counter()
                try:
                    if command == "predict":
                        predict_picture(digit_model, read_photo_digit(data, path.name), path.name)
                    else:
                        read_file(reader, data, path.name)
                except UserError:
                    pass  # "no digit found" costs its time too
                best = min(best, time.perf_counter() - started)
            times[command].setdefault(size_class(megapixels), []).append(1000 * best)
    result = {}
    for command, by_class in times.items():
        for _, name in CLASSES:
            samples = by_class.get(name)
            if not samples:
                continue
            median, p90 = float(np.median(samples)), float(np.percentile(samples, 90))
            result[f"{command} {name}"] = {"n": len(samples), "median_ms": median, "p90_ms": p90}
            print(f"{command:8s} {name:11s} n={len(samples):4d}  median {median:6.1f} ms  p90 {p90:6.1f} ms")
    write_result("photo_speed", {"folder": str(args.folder), "repeats": args.repeats, "classes": result})


if __name__ == "__main__":
    main()
