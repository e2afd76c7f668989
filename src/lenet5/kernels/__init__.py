"""Fast CPU kernels, built on this machine as Paddle custom operators.

`conv_pool_relu` (the seed network's blocks), `conv_bias_squash` and `subsample_squash`
(LeNet-5's layers with their squash) are what the models call. In eager mode on the CPU
they run the operators of conv_kernels.cc (im2col + oneDNN's sgemm, images spread over the cores); everywhere
else (GPU, static graphs such as `paddle.jit.save`'s trace, or when the library is
unavailable) they are Paddle's own ops. The parameters and the exported model are the
same either way.

The shared library is compiled once with the system's g++ against the headers inside the
Paddle wheel and cached inside the Python environment (`.venv/lenet5-cache/`; override
with LENET5_CACHE), keyed by the source, the Paddle version and the flags. `make` builds it ahead of time
(`python -m lenet5.kernels`); otherwise the first training run does, in about 10 s.

The 1998 network's SDLM training pass has its own library, built the same way but without
Paddle inside: lenet5.kernels.sdlm_step.

Environment:
    LENET5_KERNELS=0   use Paddle's own ops (the reference path), and no fused SDLM pass
    LENET5_THREADS=N   threads for the kernel (default: the CPUs this process may use)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from lenet5.runtime import import_paddle

paddle = import_paddle()
F = paddle.nn.functional

SOURCE = Path(__file__).with_name("conv_kernels.cc")
OP_NAMES = ("lenet5_conv_pool_relu", "lenet5_conv_bias_squash", "lenet5_subsample_squash")
COMPILE_FLAGS = ("-O3", "-fopenmp", "-fPIC", "-shared", "-std=c++17", "-D_GLIBCXX_USE_CXX11_ABI=1")

_state: dict[str, Any] = {"loaded": None, "reason": ""}


def enabled_by_environment() -> bool:
    return os.environ.get("LENET5_KERNELS", "1").strip().lower() not in ("0", "false", "no", "off")


def thread_count() -> int:
    requested = os.environ.get("LENET5_THREADS", "").strip()
    if requested.isdigit() and int(requested) > 0:
        return int(requested)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _paddle_dir() -> Path:
    return Path(paddle.__file__).resolve().parent


def _compile_command(output: Path) -> list[str]:
    root = _paddle_dir()
    return [
        os.environ.get("CXX", "g++"),
        *COMPILE_FLAGS,
        "-DPADDLE_WITH_CUSTOM_KERNEL",
        f"-I{root / 'include'}",
        f"-I{root / 'include' / 'third_party'}",
        f"-I{sysconfig.get_paths()['include']}",
        str(SOURCE),
        "-o",
        str(output),
        f"-L{root / 'libs'}",
        f"-L{root / 'base'}",
        "-l:libdnnl.so.3",
        "-lmvec",
        "-Wl,--no-as-needed",
        "-l:libpaddle.so",
        f"-Wl,-rpath,{root / 'libs'}",
        f"-Wl,-rpath,{root / 'base'}",
    ]


def library_path() -> Path:
    key = hashlib.sha256()
    key.update(SOURCE.read_bytes())
    key.update(" ".join((paddle.__version__, str(_paddle_dir()), *COMPILE_FLAGS)).encode())
    return _cache_dir() / "kernels" / f"lenet5_kernels-{key.hexdigest()[:16]}.so"


def _cache_dir() -> Path:
    """Inside the environment Paddle is installed in (the library is built against that
    Paddle), unless LENET5_CACHE says otherwise or the environment is read-only."""
    if os.environ.get("LENET5_CACHE"):
        return Path(os.environ["LENET5_CACHE"])
    if os.access(sys.prefix, os.W_OK):
        return Path(sys.prefix) / "lenet5-cache"
    return Path.home() / ".cache" / "lenet5"


def build(force: bool = False) -> Path:
    """Compile the library if it is not cached (see compile_library)."""
    return compile_library(library_path(), _compile_command, "the fast CPU kernels", force)


def compile_library(target: Path, command: Any, what: str, force: bool = False) -> Path:
    """Compile `target` with `command(output)` unless it is cached; written to a temporary
    name, then renamed, so concurrent or interrupted builds never leave a half-written
    library behind. Older builds of the same library (`NAME-KEY.so`) are removed."""
    if target.is_file() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"lenet5: compiling {what} (once, about 10 s)", file=sys.stderr, flush=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".build-", suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        done = subprocess.run(command(Path(tmp_name)), capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no compiler output"])[-1]
            raise RuntimeError(f"g++ failed: {last}")
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    stem = target.name.rsplit("-", 1)[0]
    for stale in target.parent.glob(f"{stem}-*.so"):  # builds of older sources; a process
        if stale != target:  # still using one keeps its mapping after the unlink
            stale.unlink(missing_ok=True)
    return target


def available() -> bool:
    """Build (if needed) and register the operator once per process; False, with a reason in
    `unavailable_reason()`, when it cannot be used (then the models use Paddle's ops)."""
    if _state["loaded"] is None:
        if not enabled_by_environment():
            _state.update(loaded=False, reason="disabled by LENET5_KERNELS=0")
        else:
            try:
                names = paddle.utils.cpp_extension.load_op_meta_info_and_register_op(str(build()))
                missing = set(OP_NAMES) - set(names)
                if missing:
                    raise RuntimeError(f"{', '.join(sorted(missing))} missing from the built library")
                _state.update(loaded=True, reason="")
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                _state.update(loaded=False, reason=str(exc))
                print(f"lenet5: fast CPU kernels unavailable ({exc}); using Paddle's conv2d", file=sys.stderr)
    return bool(_state["loaded"])


def unavailable_reason() -> str:
    return _state["reason"]


# The public functions are marked not_to_static: `paddle.jit.save` then calls them as plain
# Python (where in_dynamic_mode() is False, so they emit Paddle's ops) instead of rewriting
# their source, which makes exports independent of this module's code.
def _use_kernel(x) -> bool:
    return paddle.in_dynamic_mode() and x.place.is_cpu_place() and available()


def _run(op_name: str, *inputs, attributes: tuple = ()):
    from paddle import _C_ops

    return _C_ops._run_custom_op(op_name, *inputs, thread_count(), not inputs[0].stop_gradient, *attributes)


@paddle.jit.not_to_static
def conv_pool_relu(x, weight, bias):
    """relu(max_pool2d(conv(x, weight), 2, 2) + bias): the seed network's block in one operator.
    Equal to pooling relu(conv(x) + bias), because pooling commutes with both."""
    if _use_kernel(x):
        return _run("lenet5_conv_pool_relu", x, weight, bias)[0]
    pooled = F.max_pool2d(F.conv2d(x, weight), kernel_size=2, stride=2)
    return F.relu(pooled + bias.reshape([1, -1, 1, 1]))


@paddle.jit.not_to_static
def conv_bias_squash(x, weight, bias, amplitude: float, slope: float):
    """amplitude * tanh(slope * conv(x, weight, bias)): LeNet-5's C layers and their squash."""
    if _use_kernel(x):
        return _run("lenet5_conv_bias_squash", x, weight, bias, attributes=(amplitude, slope))[0]
    return amplitude * paddle.tanh(slope * F.conv2d(x, weight, bias))


@paddle.jit.not_to_static
def subsample_squash(x, coefficient, bias, amplitude: float, slope: float):
    """amplitude * tanh(slope * (coefficient * (sum of each 2x2 block) + bias)), per channel:
    LeNet-5's S layers and their squash."""
    if _use_kernel(x):
        return _run("lenet5_subsample_squash", x, coefficient, bias, attributes=(amplitude, slope))[0]
    summed = F.avg_pool2d(x, 2, 2) * 4.0
    return amplitude * paddle.tanh(slope * (summed * coefficient.reshape([1, -1, 1, 1]) + bias.reshape([1, -1, 1, 1])))


def describe() -> dict[str, Any]:
    """What `config.json` and the benchmarks record about the kernel."""
    if available():
        return {"conv2d": "lenet5 custom operators (im2col + oneDNN sgemm)", "threads": thread_count()}
    return {"conv2d": "paddle", "threads": 1, "reason": unavailable_reason()}
