"""Importing Paddle quietly and choosing where it runs."""

from __future__ import annotations

import os
import warnings
from types import ModuleType

from lenet5.errors import UserError


def prefer_fast_mkl() -> None:
    """Ask Paddle's bundled MKL for its AVX2 code path, unless the user chose otherwise.

    On AMD CPUs MKL otherwise picks a slow generic path (measured in docs/results.md: sgemm
    2.2-3.5x slower on the convolutions' shapes). Read by MKL when Paddle loads it, so it
    only has an effect before the first `import paddle`."""
    os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")


def import_paddle() -> ModuleType:
    """Import paddle with its start-up noise silenced (glog chatter, ccache and BN warnings)."""
    prefer_fast_mkl()
    os.environ.setdefault("GLOG_minloglevel", "2")
    warnings.filterwarnings("ignore", message="No ccache found")
    warnings.filterwarnings("ignore", message="When training, we now always track global mean")
    import paddle

    return paddle


def set_device(device: str) -> str:
    """Select 'cpu' or 'gpu'; a GPU request on a CPU-only build is a user error, not a crash."""
    paddle = import_paddle()
    if device == "gpu":
        if not paddle.device.is_compiled_with_cuda() or paddle.device.cuda.device_count() == 0:
            raise UserError("--device gpu: this Paddle build has no usable GPU (install paddlepaddle-gpu)")
        paddle.set_device("gpu")
        return "gpu"
    if device != "cpu":
        raise UserError(f"--device {device}: expected 'cpu' or 'gpu'")
    paddle.set_device("cpu")
    return "cpu"


def seed_everything(seed: int) -> None:
    """Seed Paddle and numpy's global generator (Paddle's samplers draw from the latter)."""
    import numpy as np

    paddle = import_paddle()
    paddle.seed(seed)
    np.random.seed(seed % 2**32)
