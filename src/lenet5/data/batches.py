"""Mini-batches sliced from in-memory arrays: no per-sample Python work in the hot loop."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The generator for one epoch, derived from (seed, epoch) alone.

    Deriving it instead of carrying one generator through the run means a resumed run
    needs no saved generator state to shuffle exactly as an uninterrupted one.
    """
    return np.random.default_rng([seed, epoch])


def shuffled_order(n: int, rng: np.random.Generator) -> np.ndarray:
    """The order an epoch visits its n samples in (also the fused SDLM pass's order)."""
    return rng.permutation(n)


def batches(
    inputs: np.ndarray, labels: np.ndarray, batch_size: int, rng: np.random.Generator | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (inputs, labels) batches, shuffled by `rng` if given; the last batch may be short."""
    n = len(labels)
    order = shuffled_order(n, rng) if rng is not None else None
    for start in range(0, n, batch_size):
        if order is None:
            yield inputs[start : start + batch_size], labels[start : start + batch_size]
        else:
            index = order[start : start + batch_size]
            yield inputs[index], labels[index]


def num_batches(n: int, batch_size: int) -> int:
    return (n + batch_size - 1) // batch_size
