"""The training loop, top to bottom: data, model, epochs, checkpoints, selection, export.

Honesty rules it enforces:
- costs and accuracies are sample-weighted over whole sets, never means of batch means;
- the epoch kept is chosen on the validation split; the test split is only reported;
- the exported model is that chosen epoch, not the last one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import lenet5
from lenet5 import atomic, kernels
from lenet5.data import mnist
from lenet5.data.batches import batches, epoch_rng, num_batches
from lenet5.data.normalize import NORMALIZATIONS
from lenet5.data.splits import make_splits
from lenet5.errors import TrainingInterrupted, UserError
from lenet5.export.card import model_card
from lenet5.export.graph import save_model_folder
from lenet5.models import create_model, get_spec
from lenet5.recipes import SEED
from lenet5.runtime import import_paddle, seed_everything, set_device
from lenet5.store import checkpoint, outputs
from lenet5.store.run_dir import RunDir
from lenet5.train import distributed
from lenet5.train.evaluation import evaluate
from lenet5.train.losses import get_loss
from lenet5.train.optimizers import build_optimizer
from lenet5.train.selection import SELECT_BY, is_better
from lenet5.train.step import train_step

paddle = import_paddle()

# Values that differ between otherwise identical runs; everything else in summary.json
# must match bit for bit between a resumed run and an uninterrupted one.
TIMING_KEYS = ("train_seconds", "wall_seconds", "images_per_second", "run_dir")
PLOT_EVERY = 30.0  # seconds between redraws of curves.png during training
BEST_KEYS = ("epoch", "val_cost", "val_accuracy", "test_cost", "test_accuracy")  # what a run keeps of its best epoch


@dataclass
class TrainConfig:
    model: str = SEED.model
    optimizer: str = SEED.optimizer
    lr: float = SEED.lr
    batch_size: int = SEED.batch_size
    epochs: int = SEED.epochs
    loss: str = SEED.loss
    seed: int = 0
    val_size: int = 5000
    train_limit: int | None = None
    test_limit: int | None = None
    select_by: str = "cost"
    device: str = "cpu"
    data_dir: str | None = None
    download: bool = False
    eval_batch_size: int = 1000
    log_every: int = 100
    distort: bool = False
    distort_fraction: float = 1.0  # share of the training digits distorted each pass; the rest stay as they are
    distort_strength: float = 1.0  # multiplies every distortion range (data/distort.py)
    init: str = "paper"  # lenet5 only: "paper" (+/-2.4/F) or "sqrt" (+/-2.4/sqrt(F))
    lr_schedule: str = "constant"  # or "cosine" (per epoch, to zero at the end)
    recipe: str | None = None  # the recipe the settings came from (flags may have changed some)
    distort_engine: str = "numpy"  # "opencv": same distortions, faster (data/distort.py)
    # Junk pieces (halves, pairs, digits with a slice of a neighbour; data/junk.py) added to
    # each split, this many per digit, as an eleventh class: for the number reader.
    junk: float = 0.0
    # With junk: pieces cut from lines of digits by the number reader's own segmentation,
    # labelled as a digit or junk (data/reader_pieces.py), this many per digit.
    segmented: float = 0.0
    # After the epochs above, this many passes over lines of digits trained on the whole
    # reading through the segmentation graph (lenet5.reader.line_training), `lines` lines each.
    line_epochs: int = 0
    lines: int = 5000

    def build_model(self) -> Any:
        if self.model == "lenet5":
            return create_model(self.model, init=self.init)
        return create_model(self.model, num_classes=11) if self.junk > 0 else create_model(self.model)

    def validate(self) -> None:
        get_spec(self.model)
        get_loss(self.loss)
        for flag, value in (("--epochs", self.epochs), ("--batch-size", self.batch_size)):
            if value < 1:
                raise UserError(f"{flag} {value}: must be at least 1")
        if self.loss in ("map", "mse") and self.model != "lenet5":
            raise UserError(f"--loss {self.loss}: works on RBF penalties, so only with --model lenet5")
        if self.init != "paper" and self.model != "lenet5":
            raise UserError(f"--init {self.init}: only the lenet5 model has initialisation choices")
        if not 0.0 < self.distort_fraction <= 1.0:
            raise UserError(f"--distort-fraction {self.distort_fraction}: must be in (0, 1]")
        if self.distort_strength <= 0.0:
            raise UserError(f"--distort-strength {self.distort_strength}: must be positive")
        if not self.distort and (self.distort_fraction != 1.0 or self.distort_strength != 1.0):
            raise UserError("--distort-fraction and --distort-strength need --distort")
        if self.lr_schedule not in ("constant", "cosine"):
            raise UserError(f"--lr-schedule {self.lr_schedule}: choose 'constant' or 'cosine'")
        if self.lr_schedule != "constant" and self.optimizer == "sdlm":
            raise UserError("--lr-schedule: SDLM follows the paper's own eta schedule")
        if self.distort_engine not in ("numpy", "opencv"):
            raise UserError(f"distort_engine {self.distort_engine}: choose 'numpy' or 'opencv'")
        if not 0.0 <= self.junk <= 2.0:
            raise UserError(f"--junk {self.junk}: must be between 0 and 2 (junk pieces per digit)")
        if not 0.0 <= self.segmented <= 2.0:
            raise UserError(f"--segmented {self.segmented}: must be between 0 and 2 (pieces per digit)")
        if self.segmented > 0 and self.junk == 0:
            raise UserError("--segmented needs --junk: the pieces it adds are partly junk")
        if self.line_epochs < 0:
            raise UserError(f"--line-epochs {self.line_epochs}: must be at least 0")
        if self.line_epochs > 0 and self.lines < 1:
            raise UserError(f"--lines {self.lines}: must be at least 1")
        if self.line_epochs > 0 and self.junk == 0:
            raise UserError("--line-epochs needs --junk: the reader's paths are chosen with the junk class")
        if self.junk > 0 and self.model != "seed":
            raise UserError("--junk: only the seed network (lenet5's RBF output has one bitmap per digit)")
        if self.select_by not in SELECT_BY:
            raise UserError(f"--select-by {self.select_by}: choose 'cost' or 'accuracy'")


def _epoch_seed(seed: int, epoch: int) -> int:
    # Paddle's own generator is re-seeded per epoch for the same reason as epoch_rng.
    return int(np.random.SeedSequence([seed, epoch, 1]).generate_state(1)[0])


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


def train(
    cfg: TrainConfig,
    out: str | Path,
    resume: bool = False,
    echo: Callable[[str], None] = print,
    progress: bool | None = None,
    visualdl: bool = False,
) -> dict[str, Any]:
    """Train (or continue) a run in `out`; return its summary. `visualdl`: also log to
    RUN/visualdl for Paddle's VisualDL dashboard (lenet5.train.visualdl_log).

    Ctrl-C at any point (an epoch, an evaluation, a checkpoint write, the export) becomes
    TrainingInterrupted, which names the run and the epochs that are safely on disk.

    Started by paddle.distributed.launch, this is one data-parallel worker
    (lenet5.train.distributed); rank 0 alone prints and writes the run directory."""
    world = distributed.launched_world()
    distributed.refuse_sequential(cfg.optimizer, world.size)
    cfg.validate()
    if cfg.line_epochs and world.size > 1:
        raise UserError(f"--nproc {world.size}: the line passes (--line-epochs) run in one process")
    run = RunDir(Path(out))
    set_device(cfg.device)  # before joining: on GPUs the device picks the worker's card
    distributed.join(world)
    claim_error = None
    if world.is_writer:
        try:
            _claim_run_dir(run, resume)
        except UserError as exc:
            claim_error = str(exc)
    distributed.agree(world, claim_error)
    if not world.is_writer:
        echo, progress = (lambda _message: None), False
    saved = 0  # epochs whose state is in last.npz, i.e. what --resume would continue after
    dashboard = None
    try:
        seed_everything(cfg.seed)

        data = mnist.load(cfg.data_dir, allow_download=cfg.download)
        splits = make_splits(data, cfg.val_size, cfg.train_limit, cfg.test_limit)
        digits_test = splits.test  # without junk pieces: what the exported model is scored on
        train_lines, val_lines = _lines(splits, cfg, echo) if cfg.line_epochs else (None, None)
        if cfg.junk > 0:
            splits = _with_junk(splits, cfg.junk, cfg.segmented, cfg.seed)
        normalize = NORMALIZATIONS[get_spec(cfg.model).normalization]
        x_train, y_train = normalize(splits.train.images), splits.train.labels
        x_val, y_val = normalize(splits.val.images), splits.val.labels
        x_test, y_test = normalize(splits.test.images), splits.test.labels

        model = cfg.build_model()
        optimizer = build_optimizer(cfg.optimizer, cfg.lr, model, cfg.batch_size)
        loss_fn = get_loss(cfg.loss)

        history: list[dict[str, Any]] = []
        best: dict[str, Any] | None = None
        wall_before = 0.0
        if resume and run.last_checkpoint.exists():
            meta = checkpoint.load(run.last_checkpoint, model, optimizer, schema=checkpoint.LastMeta)
            history, best, wall_before = meta["history"], meta["best"], meta["wall_seconds"]
            saved = len(history)
            echo(f"Resuming {run.root} after epoch {len(history) - 1}{_process_change(history, world)}")
        elif resume:
            echo(f"Resuming {run.root}: no epoch was completed, starting from the first")
        elif world.is_writer:
            atomic.write_json(
                run.config,
                {
                    "train": dataclasses.asdict(cfg),
                    "normalization": normalize.to_dict(),
                    "splits": {"train": len(y_train), "val": len(y_val), "test": len(y_test)},
                    "versions": _versions(),
                    "kernels": kernels.describe(),
                    "distributed": world.describe(),
                    "command": sys.argv,
                    "commit": _git_commit(),
                    "created": datetime.now(UTC).isoformat(timespec="seconds"),
                },
            )

        # Gradients are averaged over the workers by Paddle's DataParallel; `model` itself (the
        # same parameters) is what is evaluated, checkpointed and exported.
        train_model = paddle.DataParallel(model) if world.parallel else model
        if visualdl and world.is_writer:
            from lenet5.train.visualdl_log import VisualDLLog

            dashboard = VisualDLLog(run.root)
        started = time.perf_counter()
        plotted = -math.inf  # the first epoch's curves are drawn at once
        step = sum(row["steps"] for row in history)
        steps_per_epoch = num_batches(len(y_train), cfg.batch_size)
        for epoch in range(len(history), cfg.epochs + cfg.line_epochs):
            line_pass = epoch >= cfg.epochs
            paddle.seed(_epoch_seed(cfg.seed, epoch))
            if line_pass:
                from lenet5.reader.line_training import LINE_LR, train_line_epoch

                if epoch == cfg.epochs:  # the line passes start from the epoch kept so far ...
                    checkpoint.load(run.best_checkpoint, model, schema=checkpoint.BestMeta)
                    # ... which competes with them on how it reads the validation lines.
                    best = {**best, **_line_scores(model, val_lines, normalize)}
                    kept = f"the kept epoch {best['epoch']}, read right: {best['val_line_accuracy']:.4f}"
                    echo(f"Validation lines with {kept}")
                optimizer.set_lr(LINE_LR)
                done = train_line_epoch(
                    model, optimizer, loss_fn, train_lines, x_train, y_train, normalize,
                    epoch_rng(cfg.seed, epoch), f"lines {epoch + 1 - cfg.epochs}/{cfg.line_epochs}", progress,
                )  # fmt: skip
                train_cost, train_acc, train_seconds = done.piece_cost, done.piece_accuracy, done.seconds
                steps, images = done.steps, done.images
                echo(f"Lines with Epoch {epoch}, criterion: {done.criterion:.6f}")
            else:
                if cfg.lr_schedule == "cosine":
                    optimizer.set_lr(cfg.lr * (1 + math.cos(math.pi * epoch / cfg.epochs)) / 2)
                x_epoch = _prepare_pass(model, optimizer, x_train, splits.train.images, normalize, cfg, epoch)
                train_cost, train_acc, train_seconds = _train_epoch(
                    model, optimizer, loss_fn, x_epoch, y_train, cfg, epoch, step, echo, progress, train_model, world
                )
                steps, images = steps_per_epoch, len(y_train)
            step += steps
            distributed.average_batch_norm(world, model)
            eval_started = time.perf_counter()
            # With --visualdl every worker keeps its predictions: gathering them is collective.
            val = evaluate(model, loss_fn, x_val, y_val, cfg.eval_batch_size, keep_predictions=visualdl, world=world)
            test = evaluate(model, loss_fn, x_test, y_test, cfg.eval_batch_size, world=world)
            row = {
                "epoch": epoch,
                "steps": steps,
                "train_cost": train_cost,
                "train_accuracy": train_acc,
                "val_cost": val.cost,
                "val_accuracy": val.accuracy,
                "test_cost": test.cost,
                "test_accuracy": test.accuracy,
                "train_seconds": train_seconds,
                "eval_seconds": time.perf_counter() - eval_started,
                "images_per_second": images / train_seconds,
                "processes": world.size,  # --resume may change it
            }
            if line_pass:
                row.update(train_line_cost=done.criterion, **_line_scores(model, val_lines, normalize))
            history.append(row)
            if not world.is_writer:
                saved = len(history)
                continue
            if dashboard is not None:
                dashboard.epoch(row, optimizer.get_lr() if hasattr(optimizer, "get_lr") else cfg.lr)
                dashboard.misread(epoch, splits.val.images, y_val, val.predictions)
            echo(f"Validation with Epoch {epoch}, avg_cost: {val.cost:.6f}, acc: {val.accuracy:.4f}")
            echo(f"Test with Epoch {epoch}, avg_cost: {test.cost:.6f}, acc: {test.accuracy:.4f}")
            if line_pass:
                echo(f"Validation lines with Epoch {epoch}, read right: {row['val_line_accuracy']:.4f}")
            # best.npz before last.npz: if killed in between, the resumed run redoes this epoch
            # (deterministically) and rewrites best.npz, so the pair is never inconsistent.
            # In the line passes the reading of whole validation lines chooses (the piece
            # epoch kept so far competes too).
            if is_better(row, best, "lines" if line_pass else cfg.select_by):
                best = {k: row[k] for k in (*BEST_KEYS, "val_line_cost", "val_line_accuracy") if k in row}
                checkpoint.save(run.best_checkpoint, model, None, {"epoch": epoch, "config": dataclasses.asdict(cfg)})
            wall = wall_before + time.perf_counter() - started
            checkpoint.save(
                run.last_checkpoint,
                model,
                optimizer,
                {"history": history, "best": best, "wall_seconds": wall, "config": dataclasses.asdict(cfg)},
            )
            saved = len(history)
            run.write_metrics(history)
            # Drawing takes about 0.3 s, 3% of a strong-recipe epoch: redrawn at most every
            # PLOT_EVERY seconds while training, and always after the last epoch.
            last_epoch = len(history) == cfg.epochs + cfg.line_epochs
            if last_epoch or time.perf_counter() - plotted >= PLOT_EVERY:
                _plot_curves(history, run.curves, best["epoch"] if best else None)
                plotted = time.perf_counter()

        wall = wall_before + time.perf_counter() - started
        if not world.is_writer:
            return {"rank": world.rank, "epochs": len(history)}
        return _finish(run, cfg, history, best, wall, echo, digits_test, normalize)
    except KeyboardInterrupt:
        if not world.is_writer:
            raise SystemExit(130) from None  # rank 0 says what was saved
        raise TrainingInterrupted(run.root, saved, resumable=run.config.is_file()) from None
    except RuntimeError as exc:
        lost = distributed.lost_worker(exc) if world.parallel else None
        if lost is None:
            raise
        raise UserError(
            f"rank {world.rank}: {lost}; {saved} completed epoch(s) are saved, continue with: "
            f"lenet5 train --resume {run.root} --nproc {world.size}"
        ) from None
    finally:
        if dashboard is not None:
            dashboard.close()


def _process_change(history: list[dict[str, Any]], world: distributed.World) -> str:
    before = history[-1].get("processes", 1) if history else 1
    if before == world.size:
        return f" with {world.size} processes" if world.parallel else ""
    return f" with {world.size} process(es); it ran with {before} before (same global batch)"


def _with_junk(splits: Any, share: float, segmented: float, seed: int) -> Any:
    """Each split plus junk pieces made from its own digits (so none of the test digits'
    ink reaches training), with generators derived from the seed and the split."""
    from lenet5.data.splits import Split, Splits
    from lenet5.reader.junk import with_junk

    parts = {}
    for number, name in enumerate(("train", "val", "test")):
        part = getattr(splits, name)
        parts[name] = Split(*with_junk(part.images, part.labels, share, [seed, 5, number], segmented))
    return Splits(**parts)


def _lines(splits: Any, cfg: TrainConfig, echo: Callable[[str], None]) -> tuple[list[Any], list[Any]]:
    """Lines of training digits for the line passes and of validation digits to choose
    the epoch kept, from generators derived from the seed (a resumed run makes the same)."""
    from lenet5.reader.line_training import VALIDATION_LINES, make_lines

    echo(f"Segmenting {cfg.lines} training lines and {VALIDATION_LINES} validation lines for the line passes")
    train = make_lines(splits.train.images, splits.train.labels, cfg.lines, np.random.default_rng([cfg.seed, 6, 0]))
    val = make_lines(splits.val.images, splits.val.labels, VALIDATION_LINES, np.random.default_rng([cfg.seed, 6, 1]))
    return train, val


def _line_scores(model: Any, val_lines: list[Any], normalize: Any) -> dict[str, float]:
    from lenet5.reader.line_training import evaluate_lines

    cost, accuracy = evaluate_lines(model, val_lines, normalize)
    return {"val_line_cost": cost, "val_line_accuracy": accuracy}


def _claim_run_dir(run: RunDir, resume: bool) -> None:
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
    for folder in (root, run.root / "checkpoints"):
        atomic.sweep_leftovers(folder)


def _prepare_pass(
    model: Any, optimizer: Any, x_train: np.ndarray, raw_train: np.ndarray, normalize: Any, cfg: TrainConfig, epoch: int
) -> np.ndarray:
    """Per-pass work before the updates: fresh distortions, SDLM's curvature estimate.

    Both draw from generators derived from (seed, epoch), so a resumed run redoes them exactly.
    """
    x_epoch = x_train
    if cfg.distort:
        from lenet5.data.distort import DEFAULT_RANGES, distort_batch

        ranges = DEFAULT_RANGES.scaled(cfg.distort_strength)
        rng = np.random.default_rng([cfg.seed, epoch, 3])
        if cfg.distort_fraction < 1.0:
            picks = np.random.default_rng([cfg.seed, epoch, 4]).random(len(raw_train)) < cfg.distort_fraction
            chosen = np.flatnonzero(picks)
            x_epoch = x_train.copy()
            x_epoch[chosen] = normalize(distort_batch(raw_train[chosen], rng, ranges, engine=cfg.distort_engine))
        else:
            x_epoch = normalize(distort_batch(raw_train, rng, ranges, engine=cfg.distort_engine))
    if hasattr(optimizer, "begin_pass"):
        from lenet5.train.sdlm import HESSIAN_SAMPLES

        rng = np.random.default_rng([cfg.seed, epoch, 2])
        sample = x_epoch[rng.choice(len(x_epoch), min(HESSIAN_SAMPLES, len(x_epoch)), replace=False)]
        optimizer.begin_pass(epoch, model, sample)
    return x_epoch


def _plot_curves(history: list[dict[str, Any]], path: Path, best_epoch: int | None) -> None:
    from lenet5.plots.curves import plot_curves

    plot_curves(history, path, best_epoch)


def _train_epoch(
    model: Any,
    optimizer: Any,
    loss_fn: Callable[[Any, Any], Any],
    x_train: np.ndarray,
    y_train: np.ndarray,
    cfg: TrainConfig,
    epoch: int,
    first_step: int,
    echo: Callable[[str], None],
    progress: bool | None,
    train_model: Any = None,
    world: distributed.World = distributed.SINGLE,
) -> tuple[float, float, float]:
    """One pass; `train_model` is `model` or its DataParallel wrapper (what the updates go through)."""
    train_model = model if train_model is None else train_model
    model.train()
    n = len(y_train)
    # Running sums stay on the device; reading them back every step would add a sync per step.
    loss_sum = paddle.zeros([], dtype="float32")
    correct = paddle.zeros([], dtype="int64")
    seen = 0
    bar = tqdm(
        total=num_batches(n, cfg.batch_size),
        desc=f"epoch {epoch + 1}/{cfg.epochs}",
        unit="batch",
        disable=None if progress is None else not progress,
        leave=False,
        file=sys.stderr,
    )
    started = time.perf_counter()
    for i, (x, y) in enumerate(batches(x_train, y_train, cfg.batch_size, epoch_rng(cfg.seed, epoch))):
        x, y, scale = distributed.my_share(world, x, y)
        per_sample, outputs, yt = train_step(train_model, optimizer, loss_fn, x, y, scale)
        if scale != 0.0:  # 0: a stand-in digit for a worker whose share of a short batch is empty
            with paddle.no_grad():
                loss_sum += per_sample.sum().detach()
                correct += (model.predictions(outputs) == yt).astype("int64").sum()
            seen += len(y)
        step = first_step + i
        if cfg.log_every and step % cfg.log_every == 0:
            message = f"Step {step}, Epoch {epoch}, Cost {per_sample.mean().item():.6f}"
            bar.write(message, file=sys.stdout) if not bar.disable else echo(message)
        bar.update(1)
        if not bar.disable and i % 20 == 0:
            bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}", acc=f"{correct.item() / seen:.4f}")
    distributed.sum_tensors(world, loss_sum, correct)
    seconds = time.perf_counter() - started
    bar.close()
    return loss_sum.item() / n, correct.item() / n, seconds


def _finish(
    run: RunDir,
    cfg: TrainConfig,
    history: list[dict[str, Any]],
    best: dict[str, Any] | None,
    wall_seconds: float,
    echo: Callable[[str], None],
    digits_test: Any,
    normalize: Any,
) -> dict[str, Any]:
    if best is None:
        raise UserError(f"{run.root}: no completed epoch to summarise")
    best_model = cfg.build_model()
    meta = checkpoint.load(run.best_checkpoint, best_model, schema=checkpoint.BestMeta)
    if meta["epoch"] != best["epoch"]:
        raise UserError(f"{run.best_checkpoint}: holds epoch {meta['epoch']}, expected {best['epoch']}")
    train_seconds = sum(row["train_seconds"] for row in history)
    images = sum(row["images_per_second"] * row["train_seconds"] for row in history)
    summary = {
        "model": cfg.model,
        # With line passes the reading of validation lines chose among them and the epoch before.
        "selected_by": f"val_{cfg.select_by}" + (", then val_line_accuracy" if cfg.line_epochs else ""),
        "best_epoch": best["epoch"],
        "val_cost": best["val_cost"],
        "val_accuracy": best["val_accuracy"],
        "test_cost": best["test_cost"],
        "test_accuracy": best["test_accuracy"],
        "epochs": len(history),
        "final_train_cost": history[-1]["train_cost"],
        "final_train_accuracy": history[-1]["train_accuracy"],
        "train_seconds": train_seconds,
        "wall_seconds": wall_seconds,
        "images_per_second": images / train_seconds,
        "run_dir": str(run.root),
    }
    if "val_line_accuracy" in best:  # trained with line passes: how the kept epoch reads validation lines
        summary.update(val_line_cost=best["val_line_cost"], val_line_accuracy=best["val_line_accuracy"])
    card = {"epoch": best["epoch"], "test_accuracy": best["test_accuracy"], "val_accuracy": best["val_accuracy"]}
    if cfg.junk > 0:
        # Trained with junk pieces as an 11th class: the test numbers above include them. A
        # model folder's accuracy is the one every other model reports, the MNIST test
        # digits' (read as `predict` reads them: the best of the ten digits).
        x, y = normalize(digits_test.images), digits_test.labels  # only here: junk runs alone need it
        digits = _digit_accuracy(best_model, x, y, cfg.eval_batch_size)
        summary["digit_test_accuracy"] = digits
        card = {**card, "test_accuracy": digits, "test_accuracy_with_junk": best["test_accuracy"]}
    save_model_folder(best_model, cfg.model, run.model, {**card, "recipe": cfg.recipe})
    atomic.write_json(run.summary, summary)
    model_meta = json.loads((run.model / "lenet5.json").read_text())
    atomic.write_text(run.model / "README.md", model_card(model_meta, run.root, "paddle"))
    echo(
        f"Best epoch {best['epoch']} (validation cost {best['val_cost']:.6f}), "
        f"test accuracy {100 * best['test_accuracy']:.2f}%"
    )
    echo(f"Run directory: {run.root}")
    if (run.root / "visualdl").is_dir():
        echo(f"VisualDL logs: visualdl --logdir {run.root / 'visualdl'}  (then open http://127.0.0.1:8040/)")
    return summary


def _digit_accuracy(model: Any, inputs: np.ndarray, labels: np.ndarray, batch_size: int) -> float:
    """Accuracy on digits when the model may also answer "junk": the best of the ten digits."""
    from lenet5.data.batches import batches

    model.eval()
    correct = 0
    with paddle.no_grad():
        for x, y in batches(inputs, labels, batch_size):
            logits = model(paddle.to_tensor(x)).numpy()
            correct += int((logits[:, :10].argmax(axis=1) == y).sum())
    return correct / len(labels)


def config_from_run(run_root: str | Path) -> TrainConfig:
    saved = RunDir(Path(run_root)).read_config()
    try:
        return TrainConfig(**saved["train"])
    except (KeyError, TypeError) as exc:
        raise UserError(f"{Path(run_root) / 'config.json'}: not a lenet5 training config ({exc})") from None


def summary_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """The part of a summary that must be reproducible bit for bit."""
    return {k: v for k, v in summary.items() if k not in TIMING_KEYS}


def dump(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2)
