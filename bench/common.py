"""Helpers shared by the benchmark scripts: machine facts and result files."""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "unknown"
    import numpy

    from lenet5 import kernels
    from lenet5.runtime import import_paddle

    paddle = import_paddle()

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "paddle": paddle.__version__,
        "numpy": numpy.__version__,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "kernels": kernels.describe(),
        "commit": commit,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_result(name: str, payload: dict[str, Any]) -> Path:
    from lenet5 import atomic

    path = RESULTS / f"{name}.json"
    atomic.write_json(path, {"machine": machine(), **payload})
    return path


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    import numpy as np

    values = np.asarray(samples_ms)
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "mean_ms": float(values.mean()),
        "n": len(values),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(model: str, *flags: str, log_path: Path | None = None) -> Iterator[tuple[int, subprocess.Popen]]:
    """`lenet5 serve --model MODEL FLAGS` as its own process on a free loopback port, as a
    user would run it; yields (port, process) once /healthz answers, stops it afterwards.
    Its output goes to `log_path` (where its warnings and any tracebacks go), or nowhere."""
    port = free_port()
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(log_path.open("wb")) if log_path else subprocess.DEVNULL
        server = subprocess.Popen(
            [sys.executable, "-m", "lenet5", "serve", "--model", model, "--port", str(port), *flags],
            stdout=log,
            stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        try:
            _wait_for_health(server, port, log_path)
            yield port, server
        finally:
            server.terminate()
            server.wait(timeout=10)


def _wait_for_health(server: subprocess.Popen, port: int, log_path: Path | None) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}; see {log_path or 'its output'}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)


def digit_pngs(count: int) -> list[bytes]:
    """MNIST test digits as dark-on-light 160x160 PNGs, as a user's upload would look."""
    from PIL import Image

    from lenet5.data import mnist

    data = mnist.load()
    out = []
    for image in data.test_images[:count]:
        page = Image.new("L", (160, 160), 255)
        page.paste(Image.fromarray(255 - image).resize((112, 112)), (24, 24))
        buffer = io.BytesIO()
        page.save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out
