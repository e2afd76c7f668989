"""Fine-tuning: a run's network starts from another model's weights (`train --from`).

The source is a shipped model's name, a model folder or a run directory. A run directory
gives its kept epoch's checkpoint (checkpoints/best.npz, exactly the weights its model
folder was exported from); a model folder gives the weights it saved for Paddle Inference
(lenet5.export.eager, proved against the folder's own answers). Either way the network
must be the one this run trains, with as many outputs: anything else is one line saying
which network the source holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lenet5.errors import UserError
from lenet5.export.eager import load_folder_weights
from lenet5.settings import TrainSettings
from lenet5.store import checkpoint
from lenet5.store.model_folder import load_meta, resolve_model_folder, shipped_name
from lenet5.store.run_dir import RunDir


def start_from(net: Any, settings: TrainSettings) -> dict[str, Any]:
    """Load the weights `settings.start_from` names into `net` (freshly built for
    `settings`); return what config.json records of the source."""
    given = settings.start_from
    if given is None:
        raise ValueError("start_from: no source given")
    run = RunDir(Path(given))
    if Path(given).is_dir() and run.config.is_file():
        theirs = run.read_settings()
        _same_network(given, theirs.model, 11 if theirs.junk > 0 else 10, settings)
        if not run.best_checkpoint.is_file():
            raise UserError(f"--from {given}: the run has no {run.best_checkpoint.name} (no completed epoch)")
        meta = checkpoint.load(run.best_checkpoint, net, schema=checkpoint.BestMeta)
        return {"given": given, "run": str(run.root), "epoch": meta["epoch"]}
    folder = resolve_model_folder(given)
    meta = load_meta(folder)
    _same_network(given, meta.model, meta.classes, settings)
    load_folder_weights(net, folder, meta)
    name = shipped_name(folder)
    return {"given": given, "shipped": name} if name else {"given": given, "model_folder": str(folder)}


def _same_network(given: str, model: str, classes: int, settings: TrainSettings) -> None:
    ours = 11 if settings.junk > 0 else 10
    if model != settings.model or classes != ours:
        hint = f"--model {model}" if model != settings.model else ("--junk R" if classes == 11 else "no --junk")
        raise UserError(
            f"--from {given}: holds a {model} network with {classes} outputs, this run trains {settings.model} "
            f"with {ours}; fine-tuning needs the same network ({hint})"
        )


def describe(source: dict[str, Any]) -> str:
    """The source as the training log says it."""
    if "run" in source:
        return f"run {source['run']}, its epoch {source['epoch']}"
    if "shipped" in source:
        return f"the shipped model {source['shipped']}"
    return f"model folder {source['model_folder']}"
