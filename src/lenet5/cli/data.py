"""`lenet5 data verify|download` and `lenet5 distort-preview`: the MNIST files and what
training does to them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lenet5.cli.common import add_data_dir, add_json, positive_int, seed
from lenet5.errors import file_errors

PREVIEW_DESCRIPTION = (
    "Write a PNG grid: the first row holds training digits, the rows below random affine distortions of each "
    "(translation, scaling, squeezing, horizontal shearing), as `train --distort` makes."
)


def add_data(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("data", help="verify or download the MNIST files")
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="check the four files' format and checksums")
    add_json(verify)
    add_data_dir(verify)
    fetch = actions.add_parser("download", help="download missing files, verified, written atomically")
    fetch.add_argument("--mirror", action="append", metavar="URL", help="base URL to try (repeatable)")
    add_data_dir(fetch)


def run_data(args: argparse.Namespace) -> int:
    from lenet5.data import mnist

    data_dir = Path(args.data_dir) if args.data_dir else mnist.default_data_dir()
    if args.data_command == "download":
        data_dir.mkdir(parents=True, exist_ok=True)
        written = mnist.download_missing(data_dir, tuple(args.mirror) if args.mirror else None)
        print(f"Downloaded {len(written)} file(s) into {data_dir}" if written else f"All files present in {data_dir}")
    rows = mnist.verify(data_dir)
    ok = all(row["ok"] for row in rows)
    if getattr(args, "json", False):
        print(json.dumps({"data_dir": str(data_dir), "ok": ok, "files": rows}))
    else:
        for row in rows:
            print(f"{'ok' if row['ok'] else 'FAIL':4}  {row['file']}: {row['detail']}")
    if not ok:
        bad = next(row for row in rows if not row["ok"])
        print(f"error: {bad['detail']}", file=sys.stderr)
        return 1
    return 0


def add_preview(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "distort-preview",
        help="picture of training digits and random distortions of them",
        description=PREVIEW_DESCRIPTION,
    )
    parser.add_argument(
        "--out", default="distortions.png", metavar="FILE", help="PNG to write (new, or an earlier lenet5 picture)"
    )
    parser.add_argument("--n", type=positive_int, default=10, help="digits per row (default 10)")
    parser.add_argument("--rows", type=positive_int, default=4, help="rows of distortions (default 4)")
    parser.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    add_data_dir(parser)


def run_preview(args: argparse.Namespace) -> int:
    import numpy as np

    from lenet5.data import mnist
    from lenet5.data.distort import distort_batch
    from lenet5.plots.figures import plot_distortions
    from lenet5.store import outputs

    target = outputs.claim_file(args.out, "png", "--out")
    digits = mnist.load(args.data_dir).train_images[: args.n]
    rng = np.random.default_rng(args.seed)
    rows = [digits.astype(np.float32)] + [distort_batch(digits, rng) for _ in range(args.rows)]
    with file_errors(target, "write"):
        plot_distortions(rows, target)
    print(f"Wrote {target}")
    return 0
