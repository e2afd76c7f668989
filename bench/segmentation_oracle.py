"""How often the reader's segmentation graph holds the right reading at all.

    .venv/bin/python bench/segmentation_oracle.py [--count 100] [--seed 1] [--kinds touching close]

The recogniser can only pick among the arcs the over-segmentation makes. For each picture
of bench/number_sets.py (whose owner map says which digit each pixel of ink came from),
this checks whether some path through the graph has, for every digit in order, one arc that
holds at least a share t of that digit's ink and whose ink is at least a share t that
digit's (lenet5.reader.pieces.ink_shares). Prints, per kind, the share of numbers with
such a path for several t: the ceiling on what any recogniser can read, and a measure of the
cuts alone. No model is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from number_sets import make_set_with_owners

from lenet5.data import mnist
from lenet5.reader.pieces import ink_shares
from lenet5.reader.segment import segment
from lenet5.vision.preprocess import to_grayscale

SHARES = (0.6, 0.7, 0.75, 0.8, 0.85, 0.9)


def has_path(arcs: list[tuple[int, int]], good: np.ndarray, nodes: int) -> bool:
    """Whether arcs with good[arc, digit] chain node 0 to the last node, digit by digit."""
    digits = good.shape[1]
    reached: list[set[int]] = [set() for _ in range(nodes)]
    reached[0].add(0)
    for k, (i, j) in sorted(enumerate(arcs), key=lambda item: item[1][1]):
        reached[j] |= {t + 1 for t in reached[i] if t < digits and good[k, t]}
    return digits in reached[nodes - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="pictures per kind (default 100)")
    parser.add_argument("--seed", type=int, default=1, help="default 1: the tuning set, not the reported one")
    parser.add_argument("--kinds", nargs="+", default=["separated", "close", "touching"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data = mnist.load(None)
    rows = []
    for kind in args.kinds:
        found_paths = np.zeros(len(SHARES))
        arcs = 0
        for picture, truth, owner in make_set_with_owners(
            kind, args.count, args.seed, data.test_images, data.test_labels
        ):
            found = segment(to_grayscale(picture))
            arcs += len(found.arcs)
            coverage, purity = ink_shares(found, owner, len(truth))
            both = np.minimum(coverage, purity)
            found_paths += [has_path(found.arcs, both >= share, len(found.pieces) + 1) for share in SHARES]
        rows.append(
            {
                "kind": kind,
                "n": args.count,
                "arcs_per_picture": arcs / args.count,
                "with_path": dict(zip(map(str, SHARES), (found_paths / args.count).tolist(), strict=True)),
            }
        )
    if args.json:
        print(json.dumps(rows))
        return
    for row in rows:
        shares = "  ".join(f"t={t}: {100 * v:5.1f}%" for t, v in row["with_path"].items())
        print(f"{row['kind']:10s} {shares}  ({row['arcs_per_picture']:.0f} arcs per picture, n={row['n']})")


if __name__ == "__main__":
    main()
