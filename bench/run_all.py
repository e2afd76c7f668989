"""`make bench`: every benchmark, on a fresh clone, into bench/results/*.json and a table.

1. training throughput, Paddle vs PyTorch side by side (train_throughput.py), and the two
   sgemm libraries of the Paddle wheel on the convolutions' shapes (gemm_backends.py);
2. whole process: `lenet5 train --epochs 1` wall time (this run's model feeds the rest);
3. whole process: `lenet5 predict` cold start on one PNG (median of 3);
4. single-image latency and batch-1000 throughput per backend (predict_latency.py);
5. HTTP load: 8 clients for 30 s (serve_load.py);
6. data-parallel training: 1 process against 2 workers, both networks, and the cost of the
   all-reduce per step (data_parallel.py).
The table is written to bench/results/summary.md.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PYTHON = sys.executable
ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


def run(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(list(args), check=True, env=ENV)
    return time.perf_counter() - started


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    run(PYTHON, str(HERE / "train_throughput.py"))
    run(PYTHON, str(HERE / "gemm_backends.py"))
    model = RESULTS / "runs" / "epoch1"
    shutil.rmtree(model, ignore_errors=True)
    train_wall = run(PYTHON, "-m", "lenet5", "train", "--epochs", "1", "--out", str(model), "--no-progress")
    from PIL import Image

    from lenet5.data import mnist

    digit = RESULTS / "runs" / "digit.png"
    Image.fromarray(255 - mnist.load().test_images[0]).resize((200, 200)).save(digit)
    cold = [run(PYTHON, "-m", "lenet5", "predict", str(digit), "--model", str(model)) for _ in range(3)]
    run(PYTHON, str(HERE / "predict_latency.py"), "--model", str(model))
    run(PYTHON, str(HERE / "serve_load.py"), "--model", str(model), "--seconds", "30")
    run(PYTHON, str(HERE / "data_parallel.py"))
    sys.path.insert(0, str(HERE))
    from common import write_result

    write_result(
        "whole_process", {"train_epochs_1_wall_s": train_wall, "predict_cold_start_s": statistics.median(cold)}
    )
    write_summary(train_wall, statistics.median(cold))


def write_summary(train_wall: float, cold: float) -> None:
    train = json.loads((RESULTS / "train_throughput.json").read_text())
    latency = json.loads((RESULTS / "predict_latency.json").read_text())
    load = json.loads((RESULTS / "serve_load_paddle.json").read_text())
    machine = train["machine"]
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores; Paddle {machine['paddle']}, "
        f"PyTorch {train.get('torch')} ({train.get('torch_threads')} threads); commit {machine['commit']}.",
        "",
        "| training case | Paddle images/s | PyTorch images/s | Paddle / PyTorch |",
        "| --- | --- | --- | --- |",
    ]
    for case in train["cases"]:
        torch_rate = case.get("torch_images_per_s")
        lines.append(
            f"| {case['model']} batch {case['batch']} {case['optimizer']} | {case['paddle_images_per_s']:.0f} | "
            + (f"{torch_rate:.0f} | {case['ratio_paddle_over_torch']:.2f}x |" if torch_rate else "- | - |")
        )
    lines += ["", "| inference | p50 | p99 |", "| --- | --- | --- |"]
    for name in ("paddle", "onnx"):
        if name in latency:
            for key, label in (("total", "PNG bytes"), ("decoded_image_to_probabilities", "decoded picture")):
                t = latency[name][key]
                lines.append(f"| {name}: {label} -> probabilities | {t['p50_ms']:.2f} ms | {t['p99_ms']:.2f} ms |")
    gemm = json.loads((RESULTS / "gemm_backends.json").read_text())
    lines += ["", "| sgemm, one thread (GFLOP/s) | MKLML | oneDNN |", "| --- | --- | --- |"]
    for row in gemm["shapes"]:
        lines.append(
            f"| {row['shape']} ({row['M']}x{row['N']}x{row['K']}) | {row['mklml_gflops']:.1f} | "
            f"{row['onednn_gflops']:.1f} |"
        )
    lines += ["", "| batch of 1000 | images/s |", "| --- | --- |"]
    for name, rate in latency.get("batch_1000_images_per_s", {}).items():
        lines.append(f"| {name} | {rate:.0f} |")
    lines += [
        "",
        f"- `lenet5 train --epochs 1` whole process: {train_wall:.1f} s",
        f"- `lenet5 predict` cold start (one PNG): {cold:.2f} s",
        f"- HTTP: {load['clients']} clients, {load['seconds']:.0f} s: {load['requests_per_s']:.0f} req/s, "
        f"p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, {load['errors']} errors",
    ]
    lines += _data_parallel_lines()
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _data_parallel_lines() -> list[str]:
    dp = json.loads((RESULTS / "data_parallel.json").read_text())
    n = dp["nproc"]
    lines = ["", f"| data-parallel training | 1 process x all cores | {n} processes x 1 core |", "| --- | --- | --- |"]
    for network, pair in dp["throughput"].items():
        one, many = pair["1 process"]["images_per_s"], pair[f"{n} processes"]["images_per_s"]
        lines.append(f"| {network} | {one:.0f} images/s | {many:.0f} images/s ({many / one:.2f}x) |")
    lines += ["", "| per step, global batch 128 | all_reduce of the parameters | step | step without the exchange |"]
    lines.append("| --- | --- | --- | --- |")
    for network, row in dp["collectives"].items():
        lines.append(
            f"| {network} ({row['parameters']} parameters) | {row['all_reduce_ms']:.2f} ms | {row['step_ms']:.2f} ms | "
            f"{row['step_without_exchange_ms']:.2f} ms |"
        )
    return lines


if __name__ == "__main__":
    main()
