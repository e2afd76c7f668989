"""Helpers shared by the benchmark scripts: machine facts and result files."""

from __future__ import annotations

import os
import platform
import subprocess
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
