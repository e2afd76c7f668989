"""Pictures per second for `lenet5 predict DIR` / `lenet5 read DIR` with --workers 1 and 2
(and more), each backend, as a user runs them: the whole command in its own process, from
start to the last line printed (so the model's loading and the workers' start are counted).

    python bench/folder_throughput.py [--jpegs DIR] [--pngs DIR] [--png-count 10000]
        [--workers 1 2] [--backends onnx paddle] [--commands predict read] [--sets mnist_png phone_jpeg]
        [--thread-probe 2000] [--repeats 1] [--keep-outputs DIR] [--json-out FILE]

--pngs: a folder of MNIST-size PNGs (28x28, MNIST test digits, dark on light); made there
if it does not exist. --jpegs: phone-like photos, e.g.
    python bench/desk_photos.py --out /tmp/desk --kinds desk_digit --count 1000
    (then --jpegs /tmp/desk/desk_digit)
`read` runs only on the JPEGs (an MNIST digit is a one-digit number; nothing new there).

Also a probe of the other design, threads in one process: decode + preprocessing of the
same PNGs on a ThreadPoolExecutor of 1 and 2 threads (no model), so the GIL's share shows.

Every command's stdout is compared across worker counts: the JSON lines must be the same.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def make_pngs(folder: Path, count: int) -> None:
    from PIL import Image

    from lenet5.data import mnist

    folder.mkdir(parents=True)
    images = mnist.load().test_images
    for i in range(count):
        Image.fromarray(255 - images[i % len(images)]).save(folder / f"{i:05d}.png")


def run_command(command: str, folder: Path, backend: str, workers: int, keep: Path | None = None) -> dict[str, Any]:
    argv = [sys.executable, "-m", "lenet5", command, str(folder), "--json", "--backend", backend]
    argv += ["--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, cwd=REPO, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = done.stdout.splitlines()
    if done.returncode not in (0, 1) or b"Traceback" in done.stderr:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    if keep is not None:  # to see where two worker counts' outputs differ
        keep.mkdir(parents=True, exist_ok=True)
        (keep / f"{folder.name}.{command}.{backend}.w{workers}.jsonl").write_bytes(done.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "command": command,
        "backend": backend,
        "workers": workers,
        "pictures": len(lines),
        "failed": sum(b'"error"' in line for line in lines),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "pictures_per_s": round(len(lines) / wall, 1),
        "stdout_sha256": hashlib.sha256(done.stdout).hexdigest(),
        "argv": " ".join(["lenet5", *argv[3:]]),
    }


def thread_probe(folder: Path, count: int) -> list[dict[str, Any]]:
    """Decode + preprocessing (infer.photo.read_photo_digit, what a worker does before the
    model) on threads in this process: does a second thread add a core's worth?"""
    from lenet5.errors import UserError
    from lenet5.infer.photo import read_photo_digit

    files = sorted(folder.glob("*.png"))[:count]

    def one(path: Path) -> None:
        with contextlib.suppress(UserError):  # a picture with no digit costs its work all the same
            read_photo_digit(path, str(path))

    for path in files[:50]:  # warm-up: imports, caches
        one(path)
    rows = []
    for threads in (1, 2):
        cpu0, start = time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, files))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        rows.append(
            {"threads": threads, "pictures": len(files), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
             "pictures_per_s": round(len(files) / wall, 1)}
        )  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pngs", type=Path, default=Path("/tmp/lenet5_mnist_pngs"))
    parser.add_argument("--png-count", type=int, default=10000)
    parser.add_argument("--jpegs", type=Path, help="a folder of phone photos (bench/desk_photos.py desk_digit)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--backends", nargs="+", default=["onnx", "paddle"], choices=["onnx", "paddle"])
    parser.add_argument("--commands", nargs="+", default=["predict", "read"], choices=["predict", "read"])
    parser.add_argument("--sets", nargs="+", default=["mnist_png", "phone_jpeg"], choices=["mnist_png", "phone_jpeg"])
    parser.add_argument("--thread-probe", type=int, default=2000, metavar="N", help="PNGs for the probe (0: none)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each worker count, in turn")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--keep-outputs", type=Path, metavar="DIR", help="save each command's stdout here")
    args = parser.parse_args()
    if not args.pngs.exists() and ("mnist_png" in args.sets or args.thread_probe):
        make_pngs(args.pngs, args.png_count)
    sets = [("mnist_png", args.pngs, ["predict"])] if "mnist_png" in args.sets else []
    if args.jpegs and "phone_jpeg" in args.sets:
        sets.append(("phone_jpeg", args.jpegs, args.commands))
    runs = []
    for name, folder, commands in sets:
        for command in commands:
            for backend in args.backends:
                outputs = set()
                for repeat in range(args.repeats):  # worker counts in turn, so a busy spell hits both
                    for workers in args.workers:
                        row = run_command(command, folder, backend, workers, args.keep_outputs)
                        row = {"set": name, "repeat": repeat, **row, "load": os.getloadavg()[0]}
                        outputs.add(row["stdout_sha256"])
                        runs.append(row)
                        print(json.dumps(row), flush=True)
                if len(outputs) != 1:
                    raise SystemExit(f"{name} {command} {backend}: the output differs between worker counts")
    probe = thread_probe(args.pngs, args.thread_probe) if args.thread_probe else []
    for row in probe:
        print(json.dumps({"thread_probe": row}), flush=True)
    if args.json_out:
        from lenet5 import atomic

        payload = {
            "cores": len(os.sched_getaffinity(0)),
            "cpu": _cpu(),
            "best": best_of(runs),
            "runs": runs,
            "thread_probe": probe,
        }
        atomic.write_text(args.json_out, json.dumps(payload, indent=1) + "\n")


def best_of(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each configuration's fastest run (the one least slowed by other work on the machine)."""
    best: dict[tuple, dict[str, Any]] = {}
    for row in runs:
        key = (row["set"], row["command"], row["backend"], row["workers"])
        if key not in best or row["wall_s"] < best[key]["wall_s"]:
            best[key] = row
    return [
        {k: row[k] for k in ("set", "command", "backend", "workers", "wall_s", "cpu_s", "pictures_per_s")}
        for row in best.values()
    ]


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
