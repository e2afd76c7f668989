"""Where a training step spends its time: `paddle.profiler`'s operator table for the project's
real training step (the unit `train_throughput.py` times).

    python bench/profile_step.py [--model seed|lenet5] [--batch 128] [--reference]

`--reference` profiles Paddle's own operators instead of the custom kernels
(the same as LENET5_KERNELS=0). Custom operators' forward calls are not listed by the
profiler; their backward nodes are (`CustomOpGradNode`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["seed", "lenet5"], default="seed")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="profiled steps (after 5 + 2 warm-up steps)")
    parser.add_argument("--reference", action="store_true", help="Paddle's own ops, not lenet5.kernels")
    args = parser.parse_args()
    if args.reference:
        os.environ["LENET5_KERNELS"] = "0"

    from train_throughput import paddle_step

    from lenet5.data import mnist
    from lenet5.runtime import import_paddle

    import_paddle()  # quietly, before the profiler module pulls paddle in
    import paddle.profiler as profiler

    data = mnist.load()
    data = (data.train_images[: 64 * args.batch], data.train_labels[: 64 * args.batch])
    optimizer, loss = ("adam", "cross_entropy") if args.model == "seed" else ("adam", "map")
    step, batches = paddle_step(args.model, args.batch, optimizer, loss, data)
    for i in range(5):
        step(*batches[i % len(batches)])
    prof = profiler.Profiler(targets=[profiler.ProfilerTarget.CPU], scheduler=(2, 2 + args.steps))
    prof.start()
    for i in range(2 + args.steps):
        step(*batches[i % len(batches)])
        prof.step()
    prof.stop()
    prof.summary(sorted_by=profiler.SortedKeys.CPUTotal, op_detail=False, thread_sep=False, time_unit="ms")


if __name__ == "__main__":
    main()
