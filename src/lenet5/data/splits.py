"""Train / validation / test splits. The test set is only ever reported, never used to choose."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet5.data.mnist import Mnist
from lenet5.errors import UserError


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8 [N, 28, 28]
    labels: np.ndarray  # int64 [N]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Splits:
    train: Split
    val: Split
    test: Split


def make_splits(
    mnist: Mnist, val_size: int = 5000, train_limit: int | None = None, test_limit: int | None = None
) -> Splits:
    """Hold out the *last* `val_size` training digits for validation.

    `train_limit` keeps only the first N of the remaining training digits and `test_limit`
    the first N test digits (for quick tests); validation is never truncated so model
    selection sees the same set whatever the limit.
    """
    total = len(mnist.train_labels)
    if not 0 < val_size < total:
        raise UserError(f"--val-size {val_size}: must be between 1 and {total - 1}")
    cut = total - val_size
    train_end = cut if train_limit is None else min(cut, train_limit)
    if train_end <= 0:
        raise UserError(f"--train-limit {train_limit}: must be positive")
    test_end = len(mnist.test_labels) if test_limit is None else min(len(mnist.test_labels), test_limit)
    if test_end <= 0:
        raise UserError(f"--test-limit {test_limit}: must be positive")
    return Splits(
        train=Split(mnist.train_images[:train_end], mnist.train_labels[:train_end]),
        val=Split(mnist.train_images[cut:], mnist.train_labels[cut:]),
        test=Split(mnist.test_images[:test_end], mnist.test_labels[:test_end]),
    )
