"""Why lenet5.kernels calls oneDNN: the two sgemm libraries inside the Paddle wheel, timed
on the matrix shapes of the seed network's convolutions (batch 128).

    python bench/gemm_backends.py [--repeats 20]

Paddle's CPU conv2d runs im2col + GEMM through MKLML (`libmklml_intel.so`, `cblas_sgemm`);
the same wheel ships oneDNN (`libdnnl.so.3`, `dnnl_sgemm`). Both are called here directly
through ctypes on the same float32 matrices, one thread each. GFLOP/s = 2*M*N*K / time.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write_result

from lenet5.runtime import import_paddle

paddle = import_paddle()
LIBS = Path(paddle.__file__).resolve().parent / "libs"

# (what it is, M, N, K) in row-major C[M, N] = A[M, K] . B[K, N]
SHAPES = (
    ("conv2 forward, batched", 50, 8192, 500),
    ("conv2 input grad, batched", 500, 8192, 50),
    ("conv2 weight grad, batched", 50, 500, 8192),
    ("conv2 forward, one image", 50, 64, 500),
    ("conv1 forward, batched", 20, 73728, 25),
)


def _libraries():
    ctypes.CDLL(str(LIBS / "libiomp5.so"), mode=ctypes.RTLD_GLOBAL)
    mkl = ctypes.CDLL(str(LIBS / "libmklml_intel.so"))
    dnnl = ctypes.CDLL(str(LIBS / "libdnnl.so.3"))
    gomp = ctypes.CDLL("libgomp.so.1")
    i64, f32, ptr = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
    dnnl.dnnl_sgemm.argtypes = [ctypes.c_char, ctypes.c_char, i64, i64, i64, f32, ptr, i64, ptr, i64, f32, ptr, i64]
    i32 = ctypes.c_int
    mkl.cblas_sgemm.argtypes = [i32, i32, i32, i32, i32, i32, f32, ptr, i32, ptr, i32, f32, ptr, i32]
    return mkl, dnnl, gomp


def _calls(mkl, dnnl, a: np.ndarray, b: np.ndarray, outputs: dict[str, np.ndarray]):
    """C = A . B (row-major, no transposes) through each library."""
    (m, k), n = a.shape, b.shape[1]
    pa, pb = a.ctypes.data, b.ctypes.data
    pm, pd = outputs["mkl"].ctypes.data, outputs["dnnl"].ctypes.data
    row_major, no_trans = 101, 111
    return (
        functools.partial(mkl.cblas_sgemm, row_major, no_trans, no_trans, m, n, k, 1.0, pa, k, pb, n, 0.0, pm, n),
        functools.partial(dnnl.dnnl_sgemm, b"N", b"N", m, n, k, 1.0, pa, k, pb, n, 0.0, pd, n),
    )


def gflops(call, m: int, n: int, k: int, repeats: int) -> float:
    for _ in range(3):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 2.0 * m * n * k / statistics.median(times) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    mkl, dnnl, gomp = _libraries()
    rows = []
    for label, m, n, k in SHAPES:
        rng = np.random.default_rng(0)
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        outputs = {name: np.zeros((m, n), np.float32) for name in ("mkl", "dnnl")}
        row = {"shape": label, "M": m, "N": n, "K": k}
        gomp.omp_set_num_threads(1)  # one thread each: how Paddle runs, and how each kernel thread calls it
        mkl.MKL_Set_Num_Threads(1)
        run_mkl, run_dnnl = _calls(mkl, dnnl, a, b, outputs)
        row["mklml_gflops"] = gflops(run_mkl, m, n, k, args.repeats)
        row["onednn_gflops"] = gflops(run_dnnl, m, n, k, args.repeats)
        np.testing.assert_allclose(outputs["mkl"], outputs["dnnl"], rtol=1e-3, atol=1e-3)  # same product
        rows.append(row)
        print(
            f"{label:28} M{m:<4} N{n:<6} K{k:<5} MKLML {row['mklml_gflops']:5.1f}  oneDNN {row['onednn_gflops']:5.1f}"
            f"  GFLOP/s  ({row['onednn_gflops'] / row['mklml_gflops']:.1f}x)"
        )
    print(f"wrote {write_result('gemm_backends', {'shapes': rows})}")


if __name__ == "__main__":
    main()
