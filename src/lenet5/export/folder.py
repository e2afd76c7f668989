"""`lenet5 export`: a self-contained model folder for one runtime or both, with its card."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from lenet5 import atomic
from lenet5.errors import UserError, file_errors
from lenet5.infer.convert import convert_to_onnx
from lenet5.store import outputs
from lenet5.store.model_folder import (
    CARD_FILE,
    META_FILE,
    ONNX_FILE,
    PADDLE_GRAPH,
    PADDLE_PARAMS,
    load_meta,
    resolve_model_folder,
)
from lenet5.store.run_dir import RunDir, is_run_dir


def export_folder(
    source: str | Path, fmt: str, out: str | Path, force: bool = False, run_dirs: list[Path] | None = None
) -> Path:
    """`lenet5 export`: a self-contained folder for one backend, with its model card.

    Nothing is written until the output path is known to be safe (new, empty, or with
    `force` an earlier export) and the exported model has been loaded and run once.
    `run_dirs`: the runs the card describes (by default the run `source` belongs to, if any)."""
    from lenet5.export.card import RunFacts, model_card
    from lenet5.infer.backends import load_backend

    if fmt not in ("paddle", "onnx", "both"):
        raise UserError(f"--format {fmt}: choose 'paddle', 'onnx' or 'both'")
    folder = resolve_model_folder(source)
    target = outputs.claim_folder(out, "model", force=force)
    if target.resolve() == folder.resolve():
        raise UserError(f"{out}: is the model being exported; choose a new folder")
    if run_dirs is None:
        run_dirs = [folder.parent] if RunDir(folder.parent).is_finished() else []
    source = [str(Path(p).resolve()) for p in run_dirs] or [str(folder.resolve())]
    _refuse_other_sources(target, source, out)
    runs = [RunFacts.of(run) for run in run_dirs]
    meta = load_meta(folder).model_copy(update={"source": source})
    if meta.recipe is None and len(runs) == 1 and runs[0].recipe:
        meta = meta.model_copy(update={"recipe": runs[0].recipe})  # a run from before runs recorded their recipe
    with tempfile.TemporaryDirectory(prefix="lenet5-export-") as staging_name:
        staging = Path(staging_name)
        if fmt in ("onnx", "both"):
            (staging / ONNX_FILE).write_bytes(convert_to_onnx(folder))
        if fmt in ("paddle", "both"):
            for name in (PADDLE_GRAPH, PADDLE_PARAMS):
                with file_errors(folder / name):
                    shutil.copyfile(folder / name, staging / name)
        written = {**meta.model_dump(exclude_none=True), "backend": fmt}
        (staging / META_FILE).write_text(json.dumps(written, indent=2) + "\n")
        for backend in ("onnx", "paddle") if fmt == "both" else (fmt,):
            load_backend(staging, backend, label=folder)  # loads and runs it once: a broken model is never shipped
        card = model_card(meta, runs, fmt)
        with file_errors(out, "write"), atomic.atomic_dir(target, replace_existing=True) as tmp:
            for item in staging.iterdir():
                shutil.copyfile(item, tmp / item.name)
            (tmp / CARD_FILE).write_text(card)
    return target


def _source_of(folder: Path) -> list[str] | None:
    """What an existing model folder was made from: recorded by `export`, or implied for a
    run's own `model/`; None for an export from before sources were recorded."""
    try:
        recorded = load_meta(folder).source
    except UserError:
        return None
    if recorded is not None:
        return recorded
    return [str(folder.parent.resolve())] if is_run_dir(folder.parent) else None


def _refuse_other_sources(target: Path, source: list[str], out: str | Path) -> None:
    """`--force` replaces an export of the same run(s) only: never another run's model."""
    if not target.is_dir() or not any(target.iterdir()):
        return
    theirs = _source_of(target)
    if theirs is None:
        raise UserError(
            f"{out}: holds an export that does not say what it was made from; remove it or choose a new folder"
        )
    if sorted(theirs) != sorted(source):
        raise UserError(
            f"{out}: holds the model of {', '.join(theirs)}; --force only replaces an export of the same run"
        )
