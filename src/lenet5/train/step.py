"""One optimisation step: the unit the training loop repeats and the benchmarks time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lenet5.runtime import import_paddle

paddle = import_paddle()


def train_step(
    model: Any,
    optimizer: Any,
    loss_fn: Callable[[Any, Any], Any],
    x: np.ndarray,
    y: np.ndarray,
    scale: float | None = None,
) -> tuple[Any, Any, Any]:
    """Forward, backward, update on one batch; returns (per-sample losses, outputs, labels) as tensors.

    The loss is the batch mean, or with `scale` the per-sample sum times `scale`: a data-parallel
    worker's share of the global mean (lenet5.train.distributed)."""
    xt, yt = paddle.to_tensor(x), paddle.to_tensor(y)
    outputs = model(xt)
    per_sample = loss_fn(outputs, yt)
    (per_sample.mean() if scale is None else per_sample.sum() * scale).backward()
    optimizer.step()
    optimizer.clear_grad()
    return per_sample, outputs, yt
