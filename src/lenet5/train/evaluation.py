"""Evaluating the network being trained (eager, on in-memory arrays), on one process or
shared out over data-parallel workers; the counting itself is lenet5.metrics.evaluate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lenet5 import metrics
from lenet5.metrics import Evaluation
from lenet5.runtime import import_paddle
from lenet5.train import distributed

paddle = import_paddle()


def eager_scorer(model: Any, loss_fn: Callable[[Any, Any], Any]) -> metrics.Scorer:
    """Per-sample cost and predicted class of an eager network (call under no_grad)."""

    def score(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, None]:
        out = model(paddle.to_tensor(x))
        return loss_fn(out, paddle.to_tensor(y)).numpy(), model.predictions(out).numpy(), None

    return score


def evaluate(
    model: Any,
    loss_fn: Callable[[Any, Any], Any],
    inputs: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 1000,
    keep_predictions: bool = False,
    world: distributed.World = distributed.SINGLE,
) -> Evaluation:
    """Cost and accuracy over the whole set, in eval mode. With several workers each scores
    its own shard and the sums are added up, so every digit counts exactly once."""
    if world.parallel:
        start, stop = world.shard(len(labels))
        mine = evaluate(model, loss_fn, inputs[start:stop], labels[start:stop], batch_size, keep_predictions)
        total_cost, correct = distributed.all_sum(world, mine.total_cost, mine.correct)
        predictions = None if mine.predictions is None else distributed.gather_arrays(world, mine.predictions)
        return Evaluation(len(labels), int(correct), total_cost, predictions)
    was_training = model.training
    model.eval()
    with paddle.no_grad():
        result = metrics.evaluate(eager_scorer(model, loss_fn), inputs, labels, batch_size, keep_predictions)
    if was_training:
        model.train()
    return result
