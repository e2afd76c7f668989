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


def evaluate(
    model: Any, loss_fn: Callable[[Any, Any], Any], inputs: np.ndarray, labels: np.ndarray, batch_size: int = 1000
) -> EvalResult:
    was_training = model.training
    model.eval()
    total_loss = 0.0
    correct = 0
    with paddle.no_grad():
        for x, y in batches(inputs, labels, batch_size):
            xt, yt = paddle.to_tensor(x), paddle.to_tensor(y)
            out = model(xt)
            total_loss += float(loss_fn(out, yt).sum().item())
            correct += int((model.predictions(out) == yt).astype("int64").sum().item())
    if was_training:
        model.train()
    n = len(labels)
    return EvalResult(cost=total_loss / n, accuracy=correct / n, n=n)
