"""The 1998 LeNet-5's SDLM training step in C++, many patterns per call (`sdlm_step.cc`).

A plain shared library (no Paddle inside), called through ctypes on numpy arrays: one call
trains a chunk of patterns, each with its own forward, backward and SDLM update, so the
per-pattern cost is the arithmetic alone instead of a dozen framework calls. What the network
looks like (sizes, the C3 table, the RBF bitmaps) and the step sizes are the caller's
(lenet5.train.sdlm_fused reads them from the Paddle model and the SDLM optimizer).

Built with the system's g++ at first use and cached beside the Paddle operators (see
lenet5.kernels), keyed by the source, the flags and this CPU: it is compiled for the
machine it runs on (-march=native), so a copied cache on another CPU builds afresh.
Disabled, with the Paddle per-pattern path used instead, by LENET5_KERNELS=0 (every
kernel) or LENET5_SDLM_FUSED=0 (this one only).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from lenet5.kernels import _cache_dir, compile_library, enabled_by_environment

SOURCE = Path(__file__).with_name("sdlm_step.cc")
COMPILE_FLAGS = ("-O3", "-march=native", "-fopenmp-simd", "-fPIC", "-shared", "-std=c++17")
CRITERIA = {"mse": 0, "map": 1}  # the criteria the library computes (Eq. 8 and Eq. 9)

_state: dict[str, Any] = {"library": None, "reason": "", "tried": False}


def _cpu_signature() -> str:
    """What -march=native depends on: the CPU's model and feature flags."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine() + platform.processor()
    wanted = ("model name", "flags", "Features", "CPU part")
    return "\n".join(sorted({line for line in lines if line.split(":")[0].strip() in wanted}))


def library_path() -> Path:
    key = hashlib.sha256()
    key.update(SOURCE.read_bytes())
    key.update(" ".join((*COMPILE_FLAGS, os.environ.get("CXX", "g++"), _cpu_signature())).encode())
    return _cache_dir() / "kernels" / f"lenet5_sdlm-{key.hexdigest()[:16]}.so"


def _compile_command(output: Path) -> list[str]:
    # libmvec: the vector tanhf the squash loops call
    return [os.environ.get("CXX", "g++"), *COMPILE_FLAGS, str(SOURCE), "-o", str(output), "-lmvec", "-lm"]


def enabled() -> bool:
    return enabled_by_environment() and os.environ.get("LENET5_SDLM_FUSED", "1").strip().lower() not in (
        "0", "false", "no", "off",
    )  # fmt: skip


def library() -> ctypes.CDLL | None:
    """The loaded library, built if needed; None (once, with a one-line notice on stderr when
    it could not be built) when unavailable: the caller then uses the Paddle path."""
    if not _state["tried"]:
        _state["tried"] = True
        if not enabled():
            _state["reason"] = "disabled by LENET5_KERNELS=0 or LENET5_SDLM_FUSED=0"
        else:
            try:
                built = compile_library(library_path(), _compile_command, "the fused SDLM step")
                _state["library"] = _declare(ctypes.CDLL(str(built)))
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                _state["reason"] = str(exc)
                print(f"lenet5: fused SDLM step unavailable ({exc}); one Paddle step per pattern", file=sys.stderr)
    return _state["library"]


def unavailable_reason() -> str:
    return _state["reason"]


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    pointer = ctypes.c_void_p
    lib.lenet5_sdlm_param_count.argtypes = [pointer]
    lib.lenet5_sdlm_param_count.restype = ctypes.c_int64
    lib.lenet5_sdlm_train.argtypes = [pointer] * 9 + [ctypes.c_int64, ctypes.c_int32, ctypes.c_float, pointer, pointer]
    lib.lenet5_sdlm_train.restype = ctypes.c_int
    return lib


def _address(array: np.ndarray) -> int:
    return array.ctypes.data


class PatternTrainer:
    """Owns the network's parameters as one float32 buffer while a pass trains on it.

    dims: (input side, kernel side, window side, C1 maps, C3 maps, C5 units, F6 units,
    classes); squash: (A, S) of f(a) = A tanh(S a); table: [C3 maps, C1 maps] of 0/1; rbf:
    [classes, F6 units]; params and steps: flat float32 in the layout of sdlm_step.cc (the
    model's parameters in order)."""

    def __init__(
        self,
        lib: ctypes.CDLL,
        dims: tuple[int, ...],
        squash: tuple[float, float],
        table: np.ndarray,
        rbf: np.ndarray,
        criterion: str,
        map_j: float,
    ) -> None:
        self._lib = lib
        self.dims = np.ascontiguousarray(dims, dtype=np.int32)
        self.squash = np.array(squash, dtype=np.float32)
        self.table = np.ascontiguousarray(table, dtype=np.uint8)
        self.rbf = np.ascontiguousarray(rbf, dtype=np.float32)
        self.size = int(lib.lenet5_sdlm_param_count(_address(self.dims)))
        if self.size == 0 or self.table.shape != (dims[4], dims[3]) or self.rbf.shape != (dims[7], dims[6]):
            raise ValueError(f"not a LeNet-5 the fused SDLM step knows: dims {tuple(dims)}")
        self.criterion = CRITERIA[criterion]
        self.map_j = float(map_j)

    def train(
        self,
        params: np.ndarray,
        steps: np.ndarray,
        inputs: np.ndarray,
        labels: np.ndarray,
        order: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Update `params` in place with one SDLM step per pattern inputs[order[i]], in order;
        returns each pattern's criterion and answer (the class of smallest penalty), both
        taken before its own update, as the Paddle path reports them."""
        for name, array, dtype in (("params", params, np.float32), ("steps", steps, np.float32)):
            if array.dtype != dtype or not array.flags.c_contiguous or array.size != self.size:
                raise ValueError(f"{name}: expected {self.size} contiguous {np.dtype(dtype).name}")
        side = int(self.dims[0])
        if inputs.dtype != np.float32 or not inputs.flags.c_contiguous or inputs[0].size != side * side:
            raise ValueError(f"inputs: expected contiguous float32 patterns of {side}x{side}")
        labels = np.ascontiguousarray(labels, dtype=np.int64)
        order = np.ascontiguousarray(order, dtype=np.int64)
        # The C++ trusts its indices: checked here, once per chunk.
        if len(labels) != len(inputs) or np.any((order < 0) | (order >= len(inputs))):
            raise ValueError("order: indices outside the patterns")
        if np.any((labels[order] < 0) | (labels[order] >= self.dims[7])):
            raise ValueError("labels: outside the classes")
        losses = np.empty(len(order), dtype=np.float32)
        answers = np.empty(len(order), dtype=np.int32)
        done = self._lib.lenet5_sdlm_train(
            *map(_address, (self.dims, self.squash, self.table, self.rbf, params, steps, inputs, labels, order)),
            len(order), self.criterion, self.map_j, _address(losses), _address(answers),
        )  # fmt: skip
        if done != 0:
            raise ValueError(f"not a LeNet-5 the fused SDLM step knows: dims {tuple(self.dims)}")
        return losses, answers
