"""Data-parallel training on this machine: 1 process x all cores against N processes x 1 core.

1. Throughput: `lenet5 train` on both networks (the seed network with its recipe, LeNet-5
   with Adam and the MAP criterion, batch 128: SDLM cannot be split), once as one process
   whose CPU kernels use every core and once with `--nproc N` (one core each). images/s is
   the mean over the epochs after the first (the first pays for warm-up).
2. The all-reduce: inside N gloo workers, the time of one `paddle.distributed.all_reduce`
   of a tensor as large as each network's parameters, and of a whole DataParallel step
   against the same step under `no_sync()` (the gradients not exchanged).

Writes bench/results/data_parallel.json and prints a table.
    python bench/data_parallel.py [--nproc 2] [--train-limit 55000] [--epochs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

NETWORKS = {
    "seed": ["--model", "seed"],
    "lenet5": ["--model", "lenet5", "--optimizer", "adam", "--lr", "1e-3", "--loss", "map", "--batch-size", "128"],
}


def train_rate(network: str, nproc: int, train_limit: int, epochs: int, folder: Path) -> dict[str, float]:
    out = folder / f"{network}-{nproc}"
    command = [sys.executable, "-m", "lenet5", "train", *NETWORKS[network], "--epochs", str(epochs)]
    command += ["--train-limit", str(train_limit), "--no-progress", "--out", str(out), "--nproc", str(nproc)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall = time.perf_counter() - started
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steady = rows[1:] or rows
    return {
        "images_per_s": statistics.mean(row["images_per_second"] for row in steady),
        "wall_s": wall,
        "val_accuracy_last": rows[-1]["val_accuracy"],
    }


def _step(wrapped: Any, optimizer: Any, loss_fn: Any, x: Any, y: Any, exchange: bool) -> None:
    with contextlib.nullcontext() if exchange else wrapped.no_sync():
        loss_fn(wrapped(x), y).mean().backward()
    optimizer.step()
    optimizer.clear_grad()


def _time_collectives(networks: list[str], steps: int, batch: int) -> dict:
    """Runs in each worker (started by spawn); rank 0's answer is returned."""
    import numpy as np

    from lenet5.models import create_model
    from lenet5.runtime import import_paddle
    from lenet5.train import distributed
    from lenet5.train.losses import get_loss
    from lenet5.train.optimizers import build_optimizer

    paddle = import_paddle()
    world = distributed.launched_world()
    distributed.join(world)
    report = {}
    rng = np.random.default_rng(world.rank)
    for network in networks:
        paddle.seed(0)
        model = create_model(network)
        size = sum(int(np.prod(p.shape)) for p in model.parameters())
        flat = paddle.zeros([size], dtype="float32")
        for _ in range(10):
            paddle.distributed.all_reduce(flat)
        started = time.perf_counter()
        for _ in range(steps):
            paddle.distributed.all_reduce(flat)
        all_reduce_ms = 1000 * (time.perf_counter() - started) / steps

        wrapped = paddle.DataParallel(model)
        optimizer = build_optimizer("adam", 1e-3, model, batch)
        loss_fn = get_loss("cross_entropy" if network == "seed" else "map")
        side = 28 if network == "seed" else 32
        x = paddle.to_tensor(rng.standard_normal((batch // world.size, 1, side, side)).astype("float32"))
        y = paddle.to_tensor(rng.integers(0, 10, batch // world.size).astype("int64"))
        timings = {}
        for exchange in (True, False, True, False):  # interleaved; the second round is kept
            for _ in range(5):
                _step(wrapped, optimizer, loss_fn, x, y, exchange)
            paddle.distributed.barrier()
            started = time.perf_counter()
            for _ in range(steps):
                _step(wrapped, optimizer, loss_fn, x, y, exchange)
            paddle.distributed.barrier()
            timings[exchange] = 1000 * (time.perf_counter() - started) / steps
        report[network] = {
            "parameters": size,
            "all_reduce_ms": all_reduce_ms,
            "step_ms": timings[True],
            "step_without_exchange_ms": timings[False],
        }
    return report


def collective_costs(nproc: int, steps: int, batch: int) -> dict:
    from lenet5.runtime import import_paddle

    context = import_paddle().distributed.spawn(
        _time_collectives, args=(list(NETWORKS), steps, batch), nprocs=nproc, backend="gloo"
    )
    return context.return_queues[0].get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--train-limit", type=int, default=55000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=200, help="timed steps for the collective costs")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="lenet5-dp-bench-"))
    try:
        rates = {
            network: {
                "1 process": train_rate(network, 1, args.train_limit, args.epochs, folder),
                f"{args.nproc} processes": train_rate(network, args.nproc, args.train_limit, args.epochs, folder),
            }
            for network in NETWORKS
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    costs = collective_costs(args.nproc, args.steps, 128)
    write_result(
        "data_parallel",
        {
            "nproc": args.nproc,
            "train_limit": args.train_limit,
            "epochs": args.epochs,
            "throughput": rates,
            "collectives": costs,
        },
    )
    print(f"| network | 1 process x {os.cpu_count()} threads | {args.nproc} processes x 1 thread | ratio |")
    print("| --- | --- | --- | --- |")
    for network, pair in rates.items():
        one, many = pair["1 process"]["images_per_s"], pair[f"{args.nproc} processes"]["images_per_s"]
        print(f"| {network} | {one:.0f} images/s | {many:.0f} images/s | {many / one:.2f}x |")
    print()
    print("| network | parameters | all_reduce | step (global batch 128) | same step, no exchange |")
    print("| --- | --- | --- | --- | --- |")
    for network, row in costs.items():
        print(
            f"| {network} | {row['parameters']} | {row['all_reduce_ms']:.2f} ms | {row['step_ms']:.2f} ms | "
            f"{row['step_without_exchange_ms']:.2f} ms |"
        )


if __name__ == "__main__":
    main()
