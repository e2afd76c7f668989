"""Whole-number accuracy of `lenet5 read` per kind of picture, and its speed.

    .venv/bin/python bench/read_accuracy.py [--model reader] [--count 200] [--seed 0] [--json]
                                            [--also MODEL]

A number counts as read only if every digit is right and none is missing or extra.
Speed: the in-process time of `read_number` (decode excluded) on 5-digit numbers of the
"separated" kind enlarged to 800x300, p50 and p90 over 50 pictures after a warm-up.

`--also MODEL` measures an ensemble: every arc's probabilities are the mean of the two
models' (an experiment; `lenet5 read` uses one model).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from number_sets import KINDS, make_set

from lenet5.data import mnist
from lenet5.infer.backends import load_backend
from lenet5.reader.read import read_number


def accuracy(backend, kind: str, count: int, seed: int, data, show_errors: int = 0) -> dict[str, object]:
    pictures = make_set(kind, count, seed, data.test_images, data.test_labels)
    right = 0
    errors = []
    for image, truth in pictures:
        got = read_number(backend, image).number
        right += got == truth
        if got != truth and len(errors) < show_errors:
            errors.append(f"{truth} -> {got}")
    return {"kind": kind, "n": count, "accuracy": right / count, "examples_wrong": errors}


def speed(backend, data, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    pictures = []
    while len(pictures) < 55:
        image, truth = make_set("separated", 1, int(rng.integers(1 << 30)), data.test_images, data.test_labels)[0]
        if len(truth) == 5:
            pictures.append(image.resize((800, 300)))
    times = []
    for k, image in enumerate(pictures):
        started = time.perf_counter()
        read_number(backend, image.copy())
        if k >= 5:  # warm-up
            times.append(1000 * (time.perf_counter() - started))
    return {"p50_ms": float(np.percentile(times, 50)), "p90_ms": float(np.percentile(times, 90)), "n": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="reader", help="shipped model name or model folder (default reader)")
    parser.add_argument("--count", type=int, default=200, help="pictures per kind (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--errors", type=int, default=5, help="wrong readings to show per kind")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--also", metavar="MODEL", help="average every arc's probabilities with this model's")
    args = parser.parse_args()
    backend = load_backend(args.model)
    if args.also:
        other, alone = load_backend(args.also), backend.scores
        backend.scores = lambda x: (alone(x) + other.scores(x)) / 2
    data = mnist.load(None)
    rows = [accuracy(backend, kind, args.count, args.seed, data, args.errors) for kind in args.kinds]
    timing = speed(backend, data, args.seed)
    if args.json:
        print(json.dumps({"model": args.model, "kinds": rows, "speed": timing}))
        return
    for row in rows:
        print(f"{row['kind']:10s} {100 * row['accuracy']:5.1f}%  (n={row['n']})  wrong e.g.: {row['examples_wrong']}")
    print(f"5 digits on 800x300: p50 {timing['p50_ms']:.1f} ms, p90 {timing['p90_ms']:.1f} ms (n={timing['n']})")


if __name__ == "__main__":
    main()
