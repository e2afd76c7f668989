"""Several finished runs exported as one model: the mean of their networks' probabilities.

Two networks trained alike from different seeds make partly different mistakes, and the
average of their probabilities is right more often than either (for reading whole
numbers: docs/results.md, "Two readers averaged"). The average is one graph
(`export.AveragedProbabilities`), so every backend, `lenet5 predict`, `lenet5 read` and
the server use it as they use any model folder; it costs one more forward pass per piece.

    lenet5 export runs/reader-s0 runs/reader-s1 --format both --out my-reader

Each network is rebuilt from its run's config and loaded from the run's best checkpoint
(the epoch the run kept). The folder's test accuracy is measured here, on the average, on
the same MNIST test digits the runs were scored on, so the card states what the shipped
graph does, not what its members did.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from lenet5 import atomic
from lenet5.errors import UserError
from lenet5.export.folder import export_folder
from lenet5.export.graph import save_model_folder
from lenet5.infer.evaluate import evaluate_model
from lenet5.models import network_for
from lenet5.settings import TrainSettings
from lenet5.store import checkpoint
from lenet5.store.model_folder import META_FILE, load_meta
from lenet5.store.run_dir import RunDir


def _finished_run(run: str | Path) -> tuple[TrainSettings, dict[str, Any]]:
    """A finished run's settings and summary, or a one-line error."""
    root = RunDir(Path(run))
    if not root.config.is_file():
        raise UserError(
            f"{run}: not a training run directory (several networks are averaged from their runs' best checkpoints)"
        )
    if not root.is_finished():
        raise UserError(f"{run}: the run has not finished (no summary.json); finish it: lenet5 train --resume {run}")
    return root.read_settings(), root.read_summary()


def _kept_network(run: str | Path, settings: TrainSettings, summary: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The network of the epoch the run kept, and what the card and meta say of it."""
    net = network_for(settings)
    meta = checkpoint.load(RunDir(Path(run)).best_checkpoint, net, schema=checkpoint.BestMeta)
    about = {
        "run": str(run),
        "recipe": settings.recipe,
        "seed": settings.seed,
        "epoch": meta["epoch"],
        "test_accuracy": summary.get("digit_test_accuracy", summary.get("test_accuracy")),
    }
    return net, about


def _network(settings: TrainSettings) -> tuple[str, int]:
    return settings.model, 11 if settings.junk > 0 else 10


def _describe(settings: TrainSettings) -> str:
    model, classes = _network(settings)
    return f"{model} with {classes} classes"


def _check_alike(runs: list[str | Path], settings: list[TrainSettings]) -> None:
    """One architecture with one set of classes (digits, or digits and junk), scored on the
    same test digits: otherwise the mean and its accuracy mean nothing."""
    first = settings[0]
    for run, other in zip(runs[1:], settings[1:], strict=True):
        if _network(other) != _network(first):
            raise UserError(
                f"{run}: a different network from {runs[0]} ({_describe(other)} against {_describe(first)});"
                " only like networks are averaged"
            )
        if other.test_limit != first.test_limit:
            raise UserError(f"{run}: scored on other test digits than {runs[0]} (--test-limit)")


def export_ensemble(runs: list[str | Path], fmt: str, out: str | Path, force: bool = False) -> Path:
    """`lenet5 export RUN RUN...`: one model folder averaging the runs' networks."""
    if len(runs) < 2:
        raise UserError("an average needs at least two runs")
    if len({Path(run).resolve() for run in runs}) != len(runs):
        raise UserError("the same run is given twice; an average of a network with itself is that network")
    finished = [_finished_run(run) for run in runs]
    _check_alike(runs, [settings for settings, _ in finished])
    first = finished[0][0]
    members = [_kept_network(run, settings, summary) for run, (settings, summary) in zip(runs, finished, strict=True)]
    recipes = {settings.recipe for settings, _ in finished}
    extra = {"recipe": recipes.pop() if len(recipes) == 1 else None, "members": [about for _, about in members]}
    if first.test_limit:
        extra["test_limit"] = first.test_limit
    with tempfile.TemporaryDirectory(prefix="lenet5-average-") as staging:
        folder = save_model_folder([net for net, _ in members], first.model, Path(staging) / "model", extra)
        # Measured here, on the average itself (the best of the ten digits, as `predict` reads),
        # on the test digits the runs were scored on.
        report = evaluate_model(folder, first.data_dir, "paddle", limit=first.test_limit)
        meta = load_meta(folder).model_copy(update={"test_accuracy": report.accuracy})
        atomic.write_json(folder / META_FILE, meta.model_dump(exclude_none=True))
        return export_folder(folder, fmt, out, force=force, run_dirs=[Path(run) for run in runs])
