"""Choose the number reader's two decoding constants on a tuning set (not the reported one).

    .venv/bin/python bench/tune_reader.py [--model reader] [--count 100] [--seed 1]

Each picture's segmentation graph is scored once; every (junk weight, digit penalty) pair
is then decoded from those scores. Prints whole-number accuracy per kind for each pair and
the pair with the best mean over the kinds. Use a seed other than the one reported by
bench/read_accuracy.py (which uses seed 0), so the report is not tuned on itself.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from number_sets import KINDS, make_set

from lenet5.data import mnist
from lenet5.infer.backends import load_backend
from lenet5.reader.read import score_graph
from lenet5.vision.preprocess import to_grayscale

WEIGHTS = (0.3, 1.0, 3.0)
PENALTIES = (-1.0, -0.5, -0.25, 0.0, 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="reader")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    backend = load_backend(args.model)
    data = mnist.load(None)
    graphs = {
        kind: [
            (score_graph(backend, to_grayscale(image)), truth)
            for image, truth in make_set(kind, args.count, args.seed, data.test_images, data.test_labels)
        ]
        for kind in KINDS
    }
    results = []
    for weight, penalty in itertools.product(WEIGHTS, PENALTIES):
        row = {}
        for kind, items in graphs.items():
            right = sum(
                "".join(str(d) for d, _, _ in graph.best_reading(weight, penalty)) == truth for graph, truth in items
            )
            row[kind] = right / len(items)
        results.append((float(np.mean(list(row.values()))), weight, penalty, row))
        print(
            f"junk weight {weight:4}  digit penalty {penalty:4}  "
            + "  ".join(f"{k} {100 * v:5.1f}%" for k, v in row.items())
        )
    best = max(results, key=lambda r: r[0])
    print(f"best mean {100 * best[0]:.1f}%: junk weight {best[1]}, digit penalty {best[2]}")


if __name__ == "__main__":
    main()
