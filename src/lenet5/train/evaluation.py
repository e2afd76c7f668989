"""Exact, sample-weighted evaluation of a model on in-memory arrays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lenet5.data.batches import batches
from lenet5.runtime import import_paddle
from lenet5.train import distributed

paddle = import_paddle()


@dataclass(frozen=True)
class EvalResult:
    cost: float  # mean per-sample loss over the whole set
    accuracy: float  # correct / n, not a mean of batch means
    n: int
    predictions: np.ndarray | None = None  # the predicted class of each input, when asked for
    total_loss: float = 0.0  # the sums behind cost and accuracy (what workers add up)
    correct: int = 0


def evaluate(
    model: Any,
    loss_fn: Callable[[Any, Any], Any],
    inputs: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 1000,
    keep_predictions: bool = False,
    world: distributed.World = distributed.SINGLE,
) -> EvalResult:
    """Cost and accuracy over the whole set. With several workers each scores its own
    shard and the sums are added up, so every digit counts exactly once."""
    if world.parallel:
        start, stop = world.shard(len(labels))
        mine = evaluate(model, loss_fn, inputs[start:stop], labels[start:stop], batch_size, keep_predictions)
        total_loss, correct = distributed.all_sum(world, mine.total_loss, mine.correct)
        predictions = None if mine.predictions is None else distributed.gather_arrays(world, mine.predictions)
        return _result(total_loss, int(correct), len(labels), predictions)
    was_training = model.training
    model.eval()
    total_loss = 0.0
    correct = 0
    kept: list[np.ndarray] = []
    with paddle.no_grad():
        for x, y in batches(inputs, labels, batch_size):
            xt, yt = paddle.to_tensor(x), paddle.to_tensor(y)
            out = model(xt)
            total_loss += float(loss_fn(out, yt).sum().item())
            predicted = model.predictions(out)
            correct += int((predicted == yt).astype("int64").sum().item())
            if keep_predictions:
                kept.append(predicted.numpy())
    if was_training:
        model.train()
    predictions = np.concatenate(kept) if kept else (np.zeros(0, np.int64) if keep_predictions else None)
    return _result(total_loss, correct, len(labels), predictions)


def _result(total_loss: float, correct: int, n: int, predictions: np.ndarray | None) -> EvalResult:
    return EvalResult(
        cost=total_loss / n if n else 0.0,
        accuracy=correct / n if n else 0.0,
        n=n,
        predictions=predictions,
        total_loss=total_loss,
        correct=correct,
    )
