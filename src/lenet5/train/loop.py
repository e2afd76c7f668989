"""The training loop, top to bottom: claim the run, load the data, build the network, then
for every epoch train, evaluate and record; finally export the epoch kept.

Honesty rules it enforces:
- costs and accuracies are sample-weighted over whole sets, never means of batch means;
- the epoch kept is chosen on the validation split; the test split is only reported
  (after every epoch, as the article's notebook does, or with --no-test-each-epoch only for
  the epoch kept, once, after the last);
- the exported model is that chosen epoch, not the last one.

Started as one of several data-parallel workers (lenet5.train.launcher, or Paddle's own
launcher), this is one worker; rank 0 alone prints and writes the run directory.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import lenet5
from lenet5 import atomic, kernels, metrics
from lenet5.data import fashion
from lenet5.errors import TrainingInterrupted, UserError
from lenet5.export.card import RunFacts, model_card
from lenet5.export.graph import save_model_folder
from lenet5.models import network_for
from lenet5.runtime import import_paddle, seed_everything, set_device
from lenet5.settings import TrainSettings
from lenet5.store import checkpoint, outputs
from lenet5.store.model_folder import CARD_FILE, load_meta
from lenet5.store.run_dir import RunDir
from lenet5.train import distributed, sdlm_fused
from lenet5.train.averaging import WeightAverage
from lenet5.train.data import load_training_data
from lenet5.train.epochs import PassResult, line_scores, run_pass
from lenet5.train.evaluation import evaluate
from lenet5.train.losses import get_loss
from lenet5.train.optimizers import build_optimizer
from lenet5.train.selection import is_better
from lenet5.train.session import Session
from lenet5.train.warm_start import describe, start_from

paddle = import_paddle()

# Values that differ between otherwise identical runs; everything else in summary.json
# must match bit for bit between a resumed run and an uninterrupted one.
TIMING_KEYS = ("train_seconds", "wall_seconds", "images_per_second", "run_dir")
PLOT_EVERY = 30.0  # seconds between redraws of curves.png during training
BEST_KEYS = ("epoch", "val_cost", "val_accuracy", "test_cost", "test_accuracy")  # what a run keeps of its best epoch
LINE_KEYS = ("val_line_cost", "val_line_accuracy")  # ... and, with line passes, how it reads validation lines


def train(
    settings: TrainSettings,
    out: str | Path,
    resume: bool = False,
    echo: Callable[[str], None] = print,
    progress: bool | None = None,
    visualdl: bool = False,
    command: list[str] | None = None,
) -> dict[str, Any]:
    """Train (or continue) a run in `out`; return its summary. `visualdl`: also log to
    RUN/visualdl for VisualDL. `command`: the command line to record (default: this
    process's). Ctrl-C at any point becomes TrainingInterrupted, which names the run and
    the epochs that are safely on disk."""
    world = distributed.launched_world()
    _check_world(settings, world)
    run = RunDir(Path(out))
    set_device(settings.device)  # before joining: on GPUs the device picks the worker's card
    distributed.join(world)
    _claim(run, resume, world)
    if not world.is_writer:
        echo, progress = (lambda _message: None), False
    session = None
    try:
        seed_everything(settings.seed)
        session = start(settings, run, world, resume, echo, progress, visualdl, command or sys.argv)
        for epoch in range(len(session.history), settings.total_epochs):
            record(session, train_and_evaluate(session, epoch))
        if not world.is_writer:
            return {"rank": world.rank, "epochs": len(session.history)}
        return finish(session)
    except KeyboardInterrupt:
        if not world.is_writer:
            raise SystemExit(130) from None  # rank 0 says what was saved
        raise TrainingInterrupted(run.root, session.saved if session else 0, run.config.is_file()) from None
    except RuntimeError as exc:
        lost = distributed.lost_worker(exc) if world.parallel else None
        if lost is None:
            raise
        saved = session.saved if session else 0
        raise UserError(
            f"rank {world.rank}: {lost}; {saved} completed epoch(s) are saved, continue with: "
            f"lenet5 train --resume {run.root} --nproc {world.size}"
        ) from None
    finally:
        if session is not None and session.dashboard is not None:
            session.dashboard.close()


def _check_world(settings: TrainSettings, world: distributed.World) -> None:
    distributed.refuse_sequential(settings.optimizer, world.size)
    if settings.line_epochs and world.size > 1:
        raise UserError(f"--nproc {world.size}: the line passes (--line-epochs) run in one process")


def _claim(run: RunDir, resume: bool, world: distributed.World) -> None:
    """Rank 0 checks the run directory; every worker raises its refusal, or none does."""
    problem = None
    if world.is_writer:
        try:
            claim_run_dir(run, resume)
        except UserError as exc:
            problem = str(exc)
    distributed.agree(world, problem)


def claim_run_dir(run: RunDir, resume: bool) -> None:
    """A new run goes into a new or empty folder; `--resume` needs an existing run. Either
    way, temporary files that a killed run left behind are swept (only those: see atomic)."""
    root = run.root
    if resume:
        if not run.config.is_file():
            raise UserError(f"{root}: not a run directory (no config.json)")
    else:
        if root.is_symlink() or (root.exists() and not root.is_dir()):
            raise UserError(f"{root}: exists and is not a folder; choose another --out")
        if run.config.exists() or outputs.is_run_dir(root):
            raise UserError(f"{root}: already holds a run; use --resume {root} or another --out")
        if root.is_dir() and any(root.iterdir()):
            raise UserError(f"{root}: folder is not empty; a new run needs a new or empty folder for --out")
        outputs.claim_file_folder(root, "--out")
    for folder in (root, run.checkpoints):
        atomic.sweep_leftovers(folder)


def start(
    settings: TrainSettings,
    run: RunDir,
    world: distributed.World,
    resume: bool,
    echo: Callable[[str], None],
    progress: bool | None,
    visualdl: bool,
    command: list[str],
) -> Session:
    """The data, the network and its optimizer, restored from last.npz when resuming."""
    data = load_training_data(settings, echo)
    model = network_for(settings)
    optimizer = build_optimizer(settings.optimizer, settings.lr, model, settings.batch_size, settings.weight_decay)
    session = Session(settings, run, world, data, model, optimizer, get_loss(settings.loss), model, echo, progress)
    if settings.label_smoothing > 0:
        session.update_loss_fn = get_loss(settings.loss, settings.label_smoothing)
    resuming = resume and run.last_checkpoint.exists()
    source = None
    if settings.start_from is not None and not resuming:
        # Before the optimizer takes its first step: Adam's moments start from zero either way.
        source = start_from(model, settings)
        echo(f"Starting from {describe(source)}")
    if settings.ema > 0:  # from the starting weights; a resumed run restores its average below
        session.average = WeightAverage(model, network_for(settings), settings.ema)
    if resuming:
        last, average = run.last_checkpoint, session.average_network
        meta = checkpoint.load(last, model, optimizer, schema=checkpoint.LastMeta, average=average)
        session.history, session.best, session.wall_before = meta["history"], meta["best"], meta["wall_seconds"]
        session.saved = len(session.history)
        echo(f"Resuming {run.root} after epoch {len(session.history) - 1}{_process_change(session.history, world)}")
    elif resume:
        echo(f"Resuming {run.root}: no epoch was completed, starting from the first")
    elif world.is_writer:
        _write_config(session, command, source)
    # Gradients are averaged over the workers by Paddle's DataParallel, which starts every
    # worker from rank 0's parameters (restored above when resuming); `model` itself (the
    # same parameters) is what is evaluated, checkpointed and exported.
    session.train_model = paddle.DataParallel(model) if world.parallel else model
    session.visualdl = visualdl
    if visualdl and world.is_writer:
        from lenet5.train.visualdl_log import VisualDLLog

        session.dashboard = VisualDLLog(run.root)
    session.started = time.perf_counter()
    return session


def _write_config(session: Session, command: list[str], source: dict[str, Any] | None) -> None:
    data = session.data
    # Where the pictures came from, and (an image folder without DIR/test) that the test
    # scores are the validation pictures'; where the starting weights came from.
    origin = {"data": {"source": data.source, "test_is_val": data.test_is_val}}
    if source is not None:
        origin["start_from"] = source
    session.run.write_config(
        session.settings,
        **origin,
        normalization=data.normalize.to_dict(),
        splits={"train": len(data.y_train), "val": len(data.y_val), "test": len(data.y_test)},
        versions=_versions(),
        kernels={**kernels.describe(), **sdlm_fused.describe(session)},
        distributed=session.world.describe(),
        command=list(command),
        commit=_git_commit(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def train_and_evaluate(session: Session, epoch: int) -> dict[str, Any]:
    """One epoch's row of metrics.jsonl: train, then score validation (and test, unless the
    test digits wait for the end: --no-test-each-epoch)."""
    done = run_pass(session, epoch)
    distributed.average_batch_norm(session.world, session.model)
    if session.average is not None:
        distributed.average_batch_norm(session.world, session.kept)
    data, world, settings = session.data, session.world, session.settings
    started = time.perf_counter()
    # With --visualdl every worker keeps its predictions: gathering them is collective.
    batch, model, loss_fn = settings.eval_batch_size, session.kept, session.loss_fn
    val = evaluate(model, loss_fn, data.x_val, data.y_val, batch, keep_predictions=session.visualdl, world=world)
    test = evaluate(model, loss_fn, data.x_test, data.y_test, batch, world=world) if settings.test_each_epoch else None
    row = _row(epoch, done, val, test, time.perf_counter() - started, world.size)
    if done.line_criterion is not None:
        row.update(train_line_cost=done.line_criterion, **line_scores(session))
    row["_val_predictions"] = val.predictions
    return row


def _row(
    epoch: int, done: PassResult, val: Any, test: Any | None, eval_seconds: float, processes: int
) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "steps": done.steps,
        "train_cost": done.cost,
        "train_accuracy": done.accuracy,
        "val_cost": val.cost,
        "val_accuracy": val.accuracy,
        "test_cost": None if test is None else test.cost,
        "test_accuracy": None if test is None else test.accuracy,
        "train_seconds": done.seconds,
        "eval_seconds": eval_seconds,
        "images_per_second": done.images / done.seconds,
        "processes": processes,  # --resume may change it
    }


def record(session: Session, row: dict[str, Any]) -> None:
    """Keep the epoch: the best so far, both checkpoints, metrics.jsonl, the curves."""
    predictions = row.pop("_val_predictions")
    session.history.append(row)
    if not session.world.is_writer:
        session.saved = len(session.history)
        return
    epoch, run, settings = row["epoch"], session.run, session.settings
    if session.dashboard is not None:
        lr = session.optimizer.get_lr() if hasattr(session.optimizer, "get_lr") else settings.lr
        session.dashboard.epoch(row, lr)
        session.dashboard.misread(epoch, session.data.val.images, session.data.y_val, predictions)
    _echo_epoch(session, row)
    # best.npz before last.npz: if killed in between, the resumed run redoes this epoch
    # (deterministically) and rewrites best.npz, so the pair is never inconsistent. In the
    # line passes the reading of whole validation lines chooses (the piece epoch kept so
    # far competes too).
    line_pass = epoch >= settings.epochs
    if is_better(row, session.best, "lines" if line_pass else settings.select_by):
        session.best = {k: row[k] for k in (*BEST_KEYS, *LINE_KEYS) if k in row}
        checkpoint.save(run.best_checkpoint, session.kept, None, {"epoch": epoch, "config": settings.model_dump()})
    wall = session.wall_before + time.perf_counter() - session.started
    meta = {"history": session.history, "best": session.best, "wall_seconds": wall, "config": settings.model_dump()}
    checkpoint.save(run.last_checkpoint, session.model, session.optimizer, meta, average=session.average_network)
    session.saved = len(session.history)
    run.write_metrics(session.history)
    # Drawing takes about 0.3 s, 3% of a strong-recipe epoch: redrawn at most every
    # PLOT_EVERY seconds while training, and always after the last epoch.
    if len(session.history) == settings.total_epochs or time.perf_counter() - session.plotted >= PLOT_EVERY:
        plot_curves(session.history, run.curves, session.best["epoch"] if session.best else None)
        session.plotted = time.perf_counter()


def _echo_epoch(session: Session, row: dict[str, Any]) -> None:
    epoch = row["epoch"]
    session.echo(f"Validation with Epoch {epoch}, avg_cost: {row['val_cost']:.6f}, acc: {row['val_accuracy']:.4f}")
    if row["test_accuracy"] is not None:
        session.echo(f"Test with Epoch {epoch}, avg_cost: {row['test_cost']:.6f}, acc: {row['test_accuracy']:.4f}")
    if "val_line_accuracy" in row:
        session.echo(f"Validation lines with Epoch {epoch}, read right: {row['val_line_accuracy']:.4f}")


def plot_curves(history: list[dict[str, Any]], path: Path, best_epoch: int | None) -> None:
    from lenet5.plots.curves import plot_curves as draw

    draw(history, path, best_epoch)


def _process_change(history: list[dict[str, Any]], world: distributed.World) -> str:
    before = history[-1].get("processes", 1) if history else 1
    if before == world.size:
        return f" with {world.size} processes" if world.parallel else ""
    return f" with {world.size} process(es); it ran with {before} before (same global batch)"


def finish(session: Session) -> dict[str, Any]:
    """The run's summary, and its model folder: the epoch kept, exported with its card."""
    run, settings, best = session.run, session.settings, session.best
    if best is None:
        raise UserError(f"{run.root}: no completed epoch to summarise")
    best_model = network_for(settings)
    meta = checkpoint.load(run.best_checkpoint, best_model, schema=checkpoint.BestMeta)
    if meta["epoch"] != best["epoch"]:
        raise UserError(f"{run.best_checkpoint}: holds epoch {meta['epoch']}, expected {best['epoch']}")
    if best["test_accuracy"] is None:
        best = session.best = _score_test_once(session, best_model, best)
    summary = _summary(session, best)
    card = {"epoch": best["epoch"], "test_accuracy": best["test_accuracy"], "val_accuracy": best["val_accuracy"]}
    if settings.junk > 0:
        # Trained with junk pieces as an 11th class: the test numbers above include them. A
        # model folder's accuracy is the one every other model reports, the MNIST test
        # digits' (read as `predict` reads them: the best of the ten digits).
        digits = _digit_accuracy(best_model, session.data, settings.eval_batch_size)
        summary["digit_test_accuracy"] = digits
        card = {**card, "test_accuracy": digits, "test_accuracy_with_junk": best["test_accuracy"]}
    # The folder says how it was trained, so /api/model never reads files beside it.
    recorded = {k: v for k, v in summary.items() if k != "run_dir"}
    training = {"recipe": settings.recipe, "training": _jsonable(settings.published()), "summary": recorded}
    if settings.dataset == fashion.NAME:  # its labels are clothes: the card and lenet5.json name them
        training["class_names"] = list(fashion.CLASS_NAMES)
    save_model_folder(best_model, settings.model, run.model, {**card, **training})
    run.write_summary(summary)
    facts = RunFacts.of(run)
    atomic.write_text(run.model / CARD_FILE, model_card(load_meta(run.model), [facts], "paddle"))
    scored = " (of the validation pictures: the folder has no test/)" if session.data.test_is_val else ""
    # Named by what chose it: the validation cost, or (--select-by accuracy) the accuracy.
    chosen_by = (
        f"validation accuracy {100 * best['val_accuracy']:.2f}%"
        if settings.select_by == "accuracy"
        else f"validation cost {best['val_cost']:.6f}"
    )
    session.echo(f"Best epoch {best['epoch']} ({chosen_by}), test accuracy {100 * best['test_accuracy']:.2f}%{scored}")
    session.echo(f"Run directory: {run.root}")
    if run.visualdl.is_dir():
        session.echo(f"VisualDL logs: visualdl --logdir {run.visualdl}  (then open http://127.0.0.1:8040/)")
    return summary


def _score_test_once(session: Session, best_model: Any, best: dict[str, Any]) -> dict[str, Any]:
    """--no-test-each-epoch: the test digits scored now, once, by the epoch kept (on this
    process: the other workers have finished). Its row in metrics.jsonl and the curves get
    that one test point."""
    data = session.data
    test = evaluate(best_model, session.loss_fn, data.x_test, data.y_test, session.settings.eval_batch_size)
    scored = {"test_cost": test.cost, "test_accuracy": test.accuracy}
    for row in session.history:
        if row["epoch"] == best["epoch"]:
            row.update(scored)
    session.run.write_metrics(session.history)
    plot_curves(session.history, session.run.curves, best["epoch"])
    return {**best, **scored}


def _summary(session: Session, best: dict[str, Any]) -> dict[str, Any]:
    history, settings = session.history, session.settings
    train_seconds = sum(row["train_seconds"] for row in history)
    images = sum(row["images_per_second"] * row["train_seconds"] for row in history)
    summary = {
        "model": settings.model,
        # With line passes the reading of validation lines chose among them and the epoch before.
        "selected_by": f"val_{settings.select_by}" + (", then val_line_accuracy" if settings.line_epochs else ""),
        "best_epoch": best["epoch"],
        "val_cost": best["val_cost"],
        "val_accuracy": best["val_accuracy"],
        "test_cost": best["test_cost"],
        "test_accuracy": best["test_accuracy"],
        "epochs": len(history),
        "final_train_cost": history[-1]["train_cost"],
        "final_train_accuracy": history[-1]["train_accuracy"],
        "train_seconds": train_seconds,
        "wall_seconds": session.wall_before + time.perf_counter() - session.started,
        "images_per_second": images / train_seconds,
        "run_dir": str(session.run.root),
    }
    if session.data.test_is_val:  # an image folder without DIR/test
        summary["test_is_val"] = True
    if "val_line_accuracy" in best:  # trained with line passes: how the kept epoch reads validation lines
        summary.update(val_line_cost=best["val_line_cost"], val_line_accuracy=best["val_line_accuracy"])
    return summary


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values))


def _digit_accuracy(model: Any, data: Any, batch_size: int) -> float:
    """Accuracy on digits when the model may also answer "junk": the best of the ten digits."""

    def ten_digits(x: np.ndarray, _y: np.ndarray) -> tuple[None, np.ndarray, None]:
        return None, model(paddle.to_tensor(x)).numpy()[:, :10].argmax(axis=1), None

    model.eval()
    with paddle.no_grad():
        x = data.normalize(data.digits_test.images)
        return metrics.evaluate(ten_digits, x, data.digits_test.labels, batch_size).accuracy


def summary_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """The part of a summary that must be reproducible bit for bit."""
    return {k: v for k, v in summary.items() if k not in TIMING_KEYS}


def _git_commit() -> str | None:
    """The source's commit, if training runs from a git checkout (for model cards)."""
    import subprocess

    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _versions() -> dict[str, str]:
    import matplotlib

    return {
        "lenet5": lenet5.__version__,
        "paddle": paddle.__version__,
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
