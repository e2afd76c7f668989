"""A Paddle model folder converted to ONNX with paddle2onnx, offline: for `lenet5 export
--format onnx`, and for running a folder that has no `model.onnx` on ONNX Runtime."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lenet5.errors import UserError
from lenet5.store.model_folder import ONNX_FILE, PADDLE_GRAPH, PADDLE_PARAMS

ONNX_OPSET = 11


@contextlib.contextmanager
def _native_output_silenced() -> Iterator[None]:
    """paddle2onnx's C++ core prints progress straight to file descriptors 1 and 2, which
    would corrupt `--json` output; point both at /dev/null for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def convert_to_onnx(folder: Path) -> bytes:
    """Convert a Paddle model folder to ONNX bytes with paddle2onnx, fully offline.

    paddle2onnx's default post-optimiser (polygraphy) tries to install packages at run time,
    so it is switched off; the graph is small and ONNX Runtime optimises it on load anyway.
    """
    try:
        import paddle2onnx
    except ImportError:
        raise UserError("ONNX export needs paddle2onnx: pip install paddle2onnx==2.1.0") from None
    with tempfile.TemporaryDirectory() as tmp, _native_output_silenced():
        target = Path(tmp) / ONNX_FILE
        try:
            paddle2onnx.export(
                str(folder / PADDLE_GRAPH),
                str(folder / PADDLE_PARAMS),
                str(target),
                opset_version=ONNX_OPSET,
                optimize_tool="None",
                verbose=False,
            )
        except Exception as exc:  # paddle2onnx surfaces C++ failures as generic exceptions
            raise UserError(f"{folder}: ONNX conversion failed ({type(exc).__name__}: {exc})") from None
        return target.read_bytes()
