"""Saving a trained network as a Paddle Inference model folder.

A model folder holds `inference.json` + `inference.pdiparams` (what `paddle.jit.save`
writes in Paddle 3.x) and `lenet5.json`, which says how to feed it: the normalisation
and input size. The saved graph ends in class probabilities, so every backend returns
the same thing whatever the network's own output (logits or RBF penalties).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lenet5 import atomic, outputs
from lenet5.data.normalize import NORMALIZATIONS
from lenet5.errors import UserError, file_errors
from lenet5.infer.model_folder import MODEL_PREFIX, ONNX_FILE, resolve_model_folder
from lenet5.infer.model_meta import FORMAT, META_FILE, load_meta
from lenet5.models import get_spec
from lenet5.runtime import import_paddle

paddle = import_paddle()

ONNX_OPSET = 11


class ProbabilityModel(paddle.nn.Layer):
    """Wraps a network so its exported graph outputs softmax probabilities."""

    def __init__(self, net: Any) -> None:
        super().__init__()
        self.net = net

    def forward(self, image):
        return self.net.probabilities(self.net(image))


class AveragedProbabilities(paddle.nn.Layer):
    """Several networks of one architecture as one graph: the mean of their probabilities.

    Averaging the probabilities (not the logits) keeps each row a distribution, and is what
    the networks' errors, partly independent, cancel in (docs/results.md, "Two readers averaged")."""

    def __init__(self, nets: list[Any]) -> None:
        super().__init__()
        self.members = paddle.nn.LayerList([ProbabilityModel(net) for net in nets])

    def forward(self, image):
        total = self.members[0](image)
        for member in self.members[1:]:
            total = total + member(image)
        return total / len(self.members)


def save_model_folder(net: Any | list[Any], model_name: str, out_dir: str | Path, extra_meta: dict[str, Any]) -> Path:
    """Write the folder atomically (all files appear together or not at all). A list of
    networks is saved as one graph averaging their probabilities."""
    norm = NORMALIZATIONS[get_spec(model_name).normalization]
    nets = net if isinstance(net, list) else [net]
    wrapper = ProbabilityModel(nets[0]) if len(nets) == 1 else AveragedProbabilities(nets)
    classes = int(nets[0].fc.weight.shape[1]) if hasattr(nets[0], "fc") else 10
    wrapper.eval()
    spec = paddle.static.InputSpec([None, 1, norm.size, norm.size], "float32", "image")
    meta = {
        "format": FORMAT,
        "model": model_name,
        "normalization": norm.to_dict(),
        "input": {"name": "image", "shape": [None, 1, norm.size, norm.size], "dtype": "float32"},
        # 11 for a model trained with a junk class ("not one whole digit", lenet5.data.junk).
        "output": {"name": "probabilities", "shape": [None, classes]},
        **extra_meta,
    }
    # Only ever replaces an earlier model folder (a run's own `model/` on resume).
    out_dir = outputs.claim_folder(out_dir, "model", force=True)
    with atomic.atomic_dir(out_dir, replace_existing=True) as tmp:
        paddle.jit.save(wrapper, str(tmp / MODEL_PREFIX), input_spec=[spec])
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return out_dir


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
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, _native_output_silenced():
        target = Path(tmp) / ONNX_FILE
        try:
            paddle2onnx.export(
                str(folder / f"{MODEL_PREFIX}.json"),
                str(folder / f"{MODEL_PREFIX}.pdiparams"),
                str(target),
                opset_version=ONNX_OPSET,
                optimize_tool="None",
                verbose=False,
            )
        except Exception as exc:  # paddle2onnx surfaces C++ failures as generic exceptions
            raise UserError(f"{folder}: ONNX conversion failed ({type(exc).__name__}: {exc})") from None
        return target.read_bytes()


def export_folder(
    source: str | Path, fmt: str, out: str | Path, force: bool = False, run_dirs: list[Path] | None = None
) -> Path:
    """`lenet5 export`: a self-contained folder for one backend, with its model card.

    Nothing is written until the output path is known to be safe (new, empty, or with
    `force` an earlier export) and the exported model has been loaded and run once.
    `run_dirs`: the runs the card describes (by default the run `source` belongs to, if any)."""
    import shutil
    import tempfile

    from lenet5.infer.backends import load_backend
    from lenet5.infer.model_card import model_card, run_recipe

    if fmt not in ("paddle", "onnx", "both"):
        raise UserError(f"--format {fmt}: choose 'paddle', 'onnx' or 'both'")
    folder = resolve_model_folder(source)
    target = outputs.claim_folder(out, "model", force=force)
    if target.resolve() == folder.resolve():
        raise UserError(f"{out}: is the model being exported; choose a new folder")
    if run_dirs is None:
        run_dirs = [folder.parent] if (folder.parent / "summary.json").is_file() else []
    meta = load_meta(folder).model_dump(exclude_none=True)
    if "recipe" not in meta and len(run_dirs) == 1:
        recipe = run_recipe(run_dirs[0])  # a run from before runs recorded their recipe
        if recipe:
            meta["recipe"] = recipe
    with tempfile.TemporaryDirectory(prefix="lenet5-export-") as staging_name:
        staging = Path(staging_name)
        if fmt in ("onnx", "both"):
            (staging / ONNX_FILE).write_bytes(convert_to_onnx(folder))
        if fmt in ("paddle", "both"):
            for suffix in (".json", ".pdiparams"):
                with file_errors(folder / f"{MODEL_PREFIX}{suffix}"):
                    shutil.copyfile(folder / f"{MODEL_PREFIX}{suffix}", staging / f"{MODEL_PREFIX}{suffix}")
        (staging / META_FILE).write_text(json.dumps({**meta, "backend": fmt}, indent=2) + "\n")
        for backend in ("onnx", "paddle") if fmt == "both" else (fmt,):
            load_backend(staging, backend, label=folder)  # loads and runs it once: a broken model is never shipped
        card = model_card(meta, run_dirs, fmt)
        with file_errors(out, "write"), atomic.atomic_dir(target, replace_existing=True) as tmp:
            for item in staging.iterdir():
                shutil.copyfile(item, tmp / item.name)
            (tmp / "README.md").write_text(card)
    return target
