"""One pass of training: an epoch over the digits (and pieces), or a pass over whole lines.

Both draw every random choice from generators derived from (seed, epoch), so a resumed run
redoes exactly the pass an uninterrupted one would have done.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from lenet5.data.batches import batches, epoch_rng, num_batches, shuffled_order
from lenet5.runtime import import_paddle
from lenet5.train import distributed
from lenet5.train.sdlm_fused import FusedSDLM, fused_sdlm_for
from lenet5.train.session import Session
from lenet5.train.step import train_step

paddle = import_paddle()


@dataclass(frozen=True)
class PassResult:
    cost: float  # mean per-sample training cost of the pass
    accuracy: float
    seconds: float
    steps: int
    images: int  # inputs put through the network
    line_criterion: float | None = None  # line passes: the mean forward criterion over the lines


def epoch_seed(seed: int, epoch: int) -> int:
    """Paddle's own generator is re-seeded per epoch for the same reason as epoch_rng."""
    return int(np.random.SeedSequence([seed, epoch, 1]).generate_state(1)[0])


def run_pass(session: Session, epoch: int) -> PassResult:
    """The training pass of `epoch`: a piece epoch, or after them a line pass."""
    paddle.seed(epoch_seed(session.settings.seed, epoch))
    if epoch >= session.settings.epochs:
        return line_pass(session, epoch)
    settings = session.settings
    if settings.lr_schedule == "cosine":
        session.optimizer.set_lr(settings.lr * (1 + math.cos(math.pi * epoch / settings.epochs)) / 2)
    x_epoch = prepare_pass(session, epoch)
    fused = fused_sdlm_for(session)
    if fused is not None:
        # The fused pass trains on one core: the next pass's distortions are made on the other
        # meanwhile (they depend on (seed, epoch) alone, so they are the same either way).
        if settings.distort and epoch + 1 < settings.epochs:
            session.next_inputs = (epoch + 1, _in_background(lambda: pass_inputs(session, epoch + 1)))
        return fused_piece_epoch(session, epoch, x_epoch, fused)
    return piece_epoch(session, epoch, x_epoch)


def prepare_pass(session: Session, epoch: int) -> np.ndarray:
    """Per-pass work before the updates: fresh distortions, SDLM's curvature estimate."""
    settings = session.settings
    ready = session.next_inputs
    session.next_inputs = None
    x_epoch = ready[1]() if ready is not None and ready[0] == epoch else pass_inputs(session, epoch)
    if hasattr(session.optimizer, "begin_pass"):
        from lenet5.train.sdlm import HESSIAN_SAMPLES

        rng = np.random.default_rng([settings.seed, epoch, 2])
        sample = x_epoch[rng.choice(len(x_epoch), min(HESSIAN_SAMPLES, len(x_epoch)), replace=False)]
        session.optimizer.begin_pass(epoch, session.model, sample)
    return x_epoch


def pass_inputs(session: Session, epoch: int) -> np.ndarray:
    """The training inputs of pass `epoch`: the normalised digits, or with --distort freshly
    distorted ones (all, or a share), drawn from generators of (seed, epoch); the digits as
    they are again in the last --clean-epochs passes."""
    settings, data = session.settings, session.data
    if not settings.distort or epoch >= settings.epochs - settings.clean_epochs:
        return data.x_train
    from lenet5.data.distort import DEFAULT_RANGES, distort_batch

    ranges = DEFAULT_RANGES.scaled(settings.distort_strength)
    rng = np.random.default_rng([settings.seed, epoch, 3])
    raw = data.train.images
    if settings.distort_fraction < 1.0:
        picks = np.random.default_rng([settings.seed, epoch, 4]).random(len(raw)) < settings.distort_fraction
        chosen = np.flatnonzero(picks)
        x_epoch = data.x_train.copy()
        x_epoch[chosen] = data.normalize(
            distort_batch(raw[chosen], rng, ranges, engine=settings.distort_engine, elastic=settings.elastic)
        )
        return x_epoch
    return data.normalize(distort_batch(raw, rng, ranges, engine=settings.distort_engine, elastic=settings.elastic))


def _in_background(work: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    """Start `work` on a thread; the returned function waits for its result (or its error).
    A daemon thread: an interrupted run does not wait for it to finish."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:  # handed to the caller, raised there
            result["error"] = exc

    thread = threading.Thread(target=run, name="lenet5-next-pass", daemon=True)
    thread.start()

    def wait() -> np.ndarray:
        thread.join()
        if "error" in result:
            raise result["error"]
        return result["value"]

    return wait


def piece_epoch(session: Session, epoch: int, x_train: np.ndarray) -> PassResult:
    """One pass over the (possibly distorted) training inputs in a shuffled order."""
    settings, world, model = session.settings, session.world, session.model
    y_train = session.data.y_train
    model.train()
    n = len(y_train)
    # Running sums stay on the device; reading them back every step would add a sync per step.
    loss_sum = paddle.zeros([], dtype="float32")
    correct = paddle.zeros([], dtype="int64")
    seen = 0
    steps = num_batches(n, settings.batch_size)
    bar = _bar(steps, f"epoch {epoch + 1}/{settings.epochs}", session.progress)
    first_step = session.steps
    started = time.perf_counter()
    for i, (x, y) in enumerate(batches(x_train, y_train, settings.batch_size, epoch_rng(settings.seed, epoch))):
        x, y, scale = distributed.my_share(world, x, y)
        per_sample, outputs, yt = train_step(session.train_model, session.optimizer, session.update_loss, x, y, scale)
        if session.average is not None:
            session.average.update(first_step + i)
        if scale != 0.0:  # 0: a stand-in digit for a worker whose share of a short batch is empty
            with paddle.no_grad():
                loss_sum += per_sample.sum().detach()
                correct += (model.predictions(outputs) == yt).astype("int64").sum()
            seen += len(y)
        _log_step(session, bar, first_step + i, epoch, per_sample)
        bar.update(1)
        if not bar.disable and i % 20 == 0:
            bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}", acc=f"{correct.item() / seen:.4f}")
    distributed.sum_tensors(world, loss_sum, correct)
    seconds = time.perf_counter() - started
    bar.close()
    return PassResult(loss_sum.item() / n, correct.item() / n, seconds, steps, n)


def fused_piece_epoch(session: Session, epoch: int, x_train: np.ndarray, fused: FusedSDLM) -> PassResult:
    """piece_epoch for a paper-style SDLM run, the updates made by the fused C++ step: the
    same shuffled order, the same log lines, the same running cost and accuracy."""
    settings = session.settings
    y_train = session.data.y_train
    session.model.train()
    n = len(y_train)
    order = shuffled_order(n, epoch_rng(settings.seed, epoch))
    totals = {"loss": 0.0, "correct": 0}
    bar = _bar(n, f"epoch {epoch + 1}/{settings.epochs}", session.progress)
    first_step, every = session.steps, settings.log_every
    started = time.perf_counter()

    def after_chunk(start: int, losses: np.ndarray, answers: np.ndarray) -> None:
        totals["loss"] += float(losses.sum(dtype=np.float64))
        totals["correct"] += int((answers == y_train[order[start : start + len(losses)]]).sum())
        if every:
            for i in range(-(first_step + start) % every, len(losses), every):
                _log_step(session, bar, first_step + start + i, epoch, losses[i : i + 1])
        bar.update(len(losses))
        if not bar.disable:
            seen = start + len(losses)
            bar.set_postfix(loss=f"{totals['loss'] / seen:.4f}", acc=f"{totals['correct'] / seen:.4f}")

    fused.train_pass(x_train, y_train, order, after_chunk)
    seconds = time.perf_counter() - started
    bar.close()
    return PassResult(totals["loss"] / n, totals["correct"] / n, seconds, n, n)


def _bar(total: int, desc: str, progress: bool | None) -> tqdm:
    disable = None if progress is None else not progress
    return tqdm(total=total, desc=desc, unit="batch", disable=disable, leave=False, file=sys.stderr)


def _log_step(session: Session, bar: tqdm, step: int, epoch: int, per_sample: object) -> None:
    """The article's log line every `log_every` steps (above the progress bar, if any)."""
    every = session.settings.log_every
    if every and step % every == 0:
        message = f"Step {step}, Epoch {epoch}, Cost {per_sample.mean().item():.6f}"
        bar.write(message, file=sys.stdout) if not bar.disable else session.echo(message)


def line_pass(session: Session, epoch: int) -> PassResult:
    """A pass over whole lines trained on the reading (lenet5.reader.line_training), with
    single pieces beside them; it starts from the piece epoch kept so far."""
    from lenet5.reader.line_training import LINE_LR, train_line_epoch

    settings, data = session.settings, session.data
    if epoch == settings.epochs:
        start_line_passes(session)
    session.optimizer.set_lr(LINE_LR)
    desc = f"lines {epoch + 1 - settings.epochs}/{settings.line_epochs}"
    done = train_line_epoch(
        session.model, session.optimizer, session.update_loss, data.train_lines, data.x_train, data.y_train,
        data.normalize, epoch_rng(settings.seed, epoch), desc, session.progress,
    )  # fmt: skip
    session.echo(f"Lines with Epoch {epoch}, criterion: {done.criterion:.6f}")
    return PassResult(done.piece_cost, done.piece_accuracy, done.seconds, done.steps, done.images, done.criterion)


def start_line_passes(session: Session) -> None:
    """The line passes start from the epoch kept so far, which competes with them on how it
    reads the validation lines."""
    from lenet5.store import checkpoint

    checkpoint.load(session.run.best_checkpoint, session.model, schema=checkpoint.BestMeta)
    session.best = {**session.best, **line_scores(session)}
    kept = f"the kept epoch {session.best['epoch']}, read right: {session.best['val_line_accuracy']:.4f}"
    session.echo(f"Validation lines with {kept}")


def line_scores(session: Session) -> dict[str, float]:
    from lenet5.reader.line_training import evaluate_lines

    cost, accuracy = evaluate_lines(session.model, session.data.val_lines, session.data.normalize)
    return {"val_line_cost": cost, "val_line_accuracy": accuracy}
