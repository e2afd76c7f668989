"""An exponential moving average of the weights (Polyak averaging), kept beside the network.

With a learning rate that is still moving, the weights after any one step carry that step's
noise; their running average over the last few hundred steps is a smoother point of the
same valley, and it usually scores a little better on new digits. The average lives in a
second copy of the network, so it can be evaluated, checkpointed and exported like any
network, and training itself never sees it (the updates are the same with or without it).

Batch norm's running mean and variance are averaged too: they belong to the weights they
were measured with.
"""

from __future__ import annotations

from typing import Any

from lenet5.runtime import import_paddle

paddle = import_paddle()

# The first updates start from random weights: averaging them with a decay of 0.999 would
# keep the average near the initial weights for thousands of steps. The effective decay
# grows as (1 + t) / (10 + t) until it reaches the one asked for (the warm-up used by
# TensorFlow's ExponentialMovingAverage with num_updates).
WARMUP_OFFSET = 10


def effective_decay(decay: float, step: int) -> float:
    """The decay applied at global step `step` (0 for the first update)."""
    return min(decay, (1 + step) / (WARMUP_OFFSET + step))


class WeightAverage:
    """`network` holds the average of `model`'s parameters and buffers; `update` after
    every optimiser step moves it towards them."""

    def __init__(self, model: Any, network: Any, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.network = network
        network.set_state_dict(model.state_dict())
        network.eval()
        averaged, live = network.state_dict(), model.state_dict()
        if list(averaged) != list(live):
            raise ValueError("the averaged network's layers differ from the model's")
        # The tensors themselves (state_dict hands out the live parameters and buffers), so
        # an update is one in-place op per tensor.
        self._pairs = [(averaged[name], live[name]) for name in live]

    def update(self, step: int) -> None:
        weight = 1.0 - effective_decay(self.decay, step)
        with paddle.no_grad():
            for average, current in self._pairs:
                average.lerp_(current, weight)
