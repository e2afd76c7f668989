"""Training throughput (images/s) of the project's Paddle training step, and of the same
networks in PyTorch eager, side by side in one process on the same MNIST batches.

    python bench/train_throughput.py [--windows 7] [--steps 30]

Cases: seed at batch 128 (Adam, cross-entropy), lenet5 at batch 128 (Adam, MAP) and at
batch 1 (SDLM, MAP: the paper's per-pattern recipe; PyTorch uses plain SGD there, whose
update is as cheap as SDLM's). Each figure is the median of several timed windows after
warm-up; Paddle's and PyTorch's windows alternate, so both see the same machine.
PyTorch is optional (`pip install torch==2.13.0`); without it only Paddle runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write_result

from lenet5.data import mnist
from lenet5.data.normalize import NORMALIZATIONS
from lenet5.models import create_model
from lenet5.runtime import import_paddle
from lenet5.train.losses import get_loss
from lenet5.train.optimizers import build_optimizer
from lenet5.train.step import train_step

paddle = import_paddle()
CASES = (("seed", 128, "adam", "cross_entropy"), ("lenet5", 128, "adam", "map"), ("lenet5", 1, "sdlm", "map"))


def _warm_up(step, batches: list) -> None:
    for i in range(5):
        step(*batches[i % len(batches)])


def _window(step, batches: list, steps: int, batch: int) -> float:
    started = time.perf_counter()
    for i in range(steps):
        step(*batches[i % len(batches)])
    return steps * batch / (time.perf_counter() - started)


def measure(runners: dict[str, tuple], windows: int, steps: int, batch: int) -> dict[str, list[float]]:
    """Images/s per window for each framework. The windows alternate between frameworks, so
    a slow patch of this shared machine hits both sides instead of one."""
    for step, batches in runners.values():
        _warm_up(step, batches)
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(windows):
        for name, (step, batches) in runners.items():
            rates[name].append(_window(step, batches, steps, batch))
    return rates


def paddle_step(model_name: str, batch: int, optimizer_name: str, loss_name: str, data):
    paddle.seed(0)
    model = create_model(model_name)
    model.train()
    optimizer = build_optimizer(optimizer_name, 1e-3 if optimizer_name == "adam" else 5e-4, model, batch)
    x = NORMALIZATIONS[{"seed": "seed", "lenet5": "paper"}[model_name]](data[0])
    if optimizer_name == "sdlm":
        optimizer.begin_pass(0, model, x[:500])
    loss_fn = get_loss(loss_name)
    batches = [(x[i : i + batch], data[1][i : i + batch]) for i in range(0, 64 * batch, batch)]

    def step(xb, yb) -> None:
        per_sample, _, _ = train_step(model, optimizer, loss_fn, xb, yb)
        per_sample.sum().item()  # the loop reads results back too, at least as often

    return step, batches


def torch_step(model_name: str, batch: int, optimizer_name: str, data):
    import torch
    from torch_nets import TorchLeNet5, TorchSeed, torch_map_loss

    torch.manual_seed(0)
    model = TorchSeed() if model_name == "seed" else TorchLeNet5()
    model.train()
    optimizer = (
        torch.optim.Adam(model.parameters(), 1e-3)
        if optimizer_name == "adam"
        else torch.optim.SGD(model.parameters(), 1e-3)
    )
    loss_fn = torch.nn.functional.cross_entropy if model_name == "seed" else (lambda o, y: torch_map_loss(o, y).mean())
    x = NORMALIZATIONS[{"seed": "seed", "lenet5": "paper"}[model_name]](data[0])
    batches = [
        (torch.from_numpy(x[i : i + batch]), torch.from_numpy(data[1][i : i + batch]))
        for i in range(0, 64 * batch, batch)
    ]

    def step(xb, yb) -> None:
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        loss.item()

    return step, batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, default=7)
    parser.add_argument("--steps", type=int, default=30, help="steps per window at batch 128 (x20 at batch 1)")
    args = parser.parse_args()
    data = mnist.load()
    data = (data.train_images[: 64 * 128], data.train_labels[: 64 * 128])
    try:
        import torch

        torch_version = torch.__version__
        torch_threads = torch.get_num_threads()
    except ImportError:
        torch_version = None
        print("PyTorch not installed (pip install torch==2.13.0): measuring Paddle only")
    rows = []
    for model_name, batch, optimizer_name, loss_name in CASES:
        steps = args.steps * (20 if batch == 1 else 1)
        runners = {"paddle": paddle_step(model_name, batch, optimizer_name, loss_name, data)}
        if torch_version:
            runners["torch"] = torch_step(model_name, batch, optimizer_name, data)
        rates = measure(runners, args.windows, steps, batch)
        row = {"model": model_name, "batch": batch, "optimizer": optimizer_name, "windows": rates}
        row["paddle_images_per_s"] = statistics.median(rates["paddle"])
        if torch_version:
            row["torch_images_per_s"] = statistics.median(rates["torch"])
            row["ratio_paddle_over_torch"] = row["paddle_images_per_s"] / row["torch_images_per_s"]
            window_ratios = [p / t for p, t in zip(rates["paddle"], rates["torch"], strict=True)]
            row["window_ratio_min_max"] = [min(window_ratios), max(window_ratios)]
        rows.append(row)
        ratio = f"  ratio {row['ratio_paddle_over_torch']:.2f}x" if torch_version else ""
        torch_part = f"  torch {row['torch_images_per_s']:8.0f}" if torch_version else ""
        label = f"{model_name:7} batch {batch:4} {optimizer_name:5}"
        print(f"{label} paddle {row['paddle_images_per_s']:8.0f}{torch_part}{ratio}", flush=True)
    extra = {"torch": torch_version, "torch_threads": torch_threads if torch_version else None}
    print(f"wrote {write_result('train_throughput', {'cases': rows, **extra})}")


if __name__ == "__main__":
    main()
