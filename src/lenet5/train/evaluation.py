"""Exact, sample-weighted evaluation of a model on in-memory arrays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lenet5.data.batches import batches
from lenet5.runtime import import_paddle

paddle = import_paddle()


@dataclass(frozen=True)
class EvalResult:
    cost: float  # mean per-sample loss over the whole set
    accuracy: float  # correct / n, not a mean of batch means
    n: int
    predictions: np.ndarray | None = None  # the predicted class of each input, when asked for


def evaluate(
    model: Any,
    loss_fn: Callable[[Any, Any], Any],
    inputs: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 1000,
    keep_predictions: bool = False,
) -> EvalResult:
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
    n = len(labels)
    predictions = np.concatenate(kept) if kept else None
    return EvalResult(cost=total_loss / n, accuracy=correct / n, n=n, predictions=predictions)
