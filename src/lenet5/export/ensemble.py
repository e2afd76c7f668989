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

import json
import tempfile
from pathlib import Path
from typing import Any

from lenet5.errors import UserError
from lenet5.export.folder import export_folder
from lenet5.export.graph import save_model_folder
from lenet5.store.model_meta import META_FILE


def _finished_run(run: str | Path) -> tuple[Any, dict[str, Any]]:
    """A finished run's training config and summary, or a one-line error."""
    from lenet5.store.run_dir import RunDir
    from lenet5.train.loop import config_from_run

    root = Path(run)
    if not (root / "config.json").is_file():
        raise UserError(
            f"{run}: not a training run directory (several networks are averaged from their runs' best checkpoints)"
        )
    summary_path = RunDir(root).summary
    if not summary_path.is_file():
        raise UserError(f"{run}: the run has not finished (no summary.json); finish it: lenet5 train --resume {run}")
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{summary_path}: cannot read ({exc})") from None
    if not isinstance(summary, dict):
        raise UserError(f"{summary_path}: not a lenet5 run summary")
    return config_from_run(root), summary


def _kept_network(run: str | Path, cfg: Any, summary: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The network of the epoch the run kept, and what the card and meta say of it."""
    from lenet5.store import checkpoint
    from lenet5.store.run_dir import RunDir

    net = cfg.build_model()
    meta = checkpoint.load(RunDir(Path(run)).best_checkpoint, net, schema=checkpoint.BestMeta)
    about = {
        "run": str(run),
        "recipe": cfg.recipe,
        "seed": cfg.seed,
        "epoch": meta["epoch"],
        "test_accuracy": summary.get("digit_test_accuracy", summary.get("test_accuracy")),
    }
    return net, about


def _network(cfg: Any) -> tuple[str, int]:
    return cfg.model, 11 if cfg.junk > 0 else 10


def _describe(cfg: Any) -> str:
    model, classes = _network(cfg)
    return f"{model} with {classes} classes"


def _digit_accuracy(folder: Path, cfg: Any) -> float:
    """The exported average's accuracy on the MNIST test digits (the first `test_limit`
    when the runs used only those), read as `predict` reads: the best of the ten digits."""
    from lenet5.data import mnist
    from lenet5.infer.backends import load_backend, predict_batched

    data = mnist.load(cfg.data_dir, allow_download=False)
    images, labels = data.test_images, data.test_labels
    if cfg.test_limit:
        images, labels = images[: cfg.test_limit], labels[: cfg.test_limit]
    runner = load_backend(folder, "paddle")
    probabilities = predict_batched(runner, runner.meta["normalization"](images))
    return float((probabilities[:, :10].argmax(axis=1) == labels).mean())


def export_ensemble(runs: list[str | Path], fmt: str, out: str | Path, force: bool = False) -> Path:
    """`lenet5 export RUN RUN...`: one model folder averaging the runs' networks."""
    if len(runs) < 2:
        raise UserError("an average needs at least two runs")
    if len({Path(run).resolve() for run in runs}) != len(runs):
        raise UserError("the same run is given twice; an average of a network with itself is that network")
    finished = [_finished_run(run) for run in runs]
    first = finished[0][0]
    for run, (cfg, _) in zip(runs[1:], finished[1:], strict=True):
        # One architecture with one set of classes (digits, or digits and junk), scored on
        # the same test digits: otherwise the mean and its accuracy mean nothing.
        if _network(cfg) != _network(first):
            raise UserError(
                f"{run}: a different network from {runs[0]} ({_describe(cfg)} against {_describe(first)});"
                " only like networks are averaged"
            )
        if cfg.test_limit != first.test_limit:
            raise UserError(f"{run}: scored on other test digits than {runs[0]} (--test-limit)")
    members = [_kept_network(run, cfg, summary) for run, (cfg, summary) in zip(runs, finished, strict=True)]
    recipes = {cfg.recipe for cfg, _ in finished}
    extra = {"recipe": recipes.pop() if len(recipes) == 1 else None, "members": [about for _, about in members]}
    if first.test_limit:
        extra["test_limit"] = first.test_limit
    with tempfile.TemporaryDirectory(prefix="lenet5-average-") as staging:
        folder = save_model_folder([net for net, _ in members], first.model, Path(staging) / "model", extra)
        meta = json.loads((folder / META_FILE).read_text())
        meta["test_accuracy"] = _digit_accuracy(folder, first)
        (folder / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return export_folder(folder, fmt, out, force=force, run_dirs=[Path(run) for run in runs])
