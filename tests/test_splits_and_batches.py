from __future__ import annotations

import numpy as np
import pytest

from lenet5.data.batches import batches, epoch_rng
from lenet5.data.mnist import Mnist
from lenet5.data.normalize import NORMALIZATIONS
from lenet5.data.splits import make_splits
from lenet5.errors import UserError


def _indexed_mnist(n_train: int = 600, n_test: int = 100) -> Mnist:
    """Fake MNIST whose image i carries i in its first two pixels, so splits can be traced."""

    def images(n: int) -> np.ndarray:
        out = np.zeros((n, 28, 28), dtype=np.uint8)
        out[:, 0, 0], out[:, 0, 1] = np.arange(n) // 256, np.arange(n) % 256
        return out

    return Mnist(images(n_train), np.arange(n_train) % 10, images(n_test), np.arange(n_test) % 10)


def _ids(images: np.ndarray) -> set[int]:
    return set((images[:, 0, 0].astype(int) * 256 + images[:, 0, 1]).tolist())


def test_validation_is_held_out_and_disjoint() -> None:
    splits = make_splits(_indexed_mnist(), val_size=100)
    train, val = _ids(splits.train.images), _ids(splits.val.images)
    assert val == set(range(500, 600))  # the last 100 training digits
    assert train == set(range(500))
    assert not train & val
    assert len(splits.test) == 100


def test_train_limit_does_not_touch_validation() -> None:
    full = make_splits(_indexed_mnist(), val_size=100)
    limited = make_splits(_indexed_mnist(), val_size=100, train_limit=50, test_limit=10)
    assert _ids(limited.train.images) == set(range(50))
    assert _ids(limited.val.images) == _ids(full.val.images)
    assert len(limited.test) == 10


@pytest.mark.parametrize("val_size", [0, 600, 10_000])
def test_bad_validation_size(val_size: int) -> None:
    with pytest.raises(UserError, match="--val-size"):
        make_splits(_indexed_mnist(), val_size=val_size)


def test_seed_normalisation_values() -> None:
    x = NORMALIZATIONS["seed"](np.array([[[0, 255] + [0] * 26] * 28], dtype=np.uint8))
    assert x.shape == (1, 1, 28, 28) and x.dtype == np.float32
    assert x[0, 0, 0, 0] == -1.0 and x[0, 0, 0, 1] == 1.0


def test_paper_normalisation_values_and_padding() -> None:
    image = np.full((1, 28, 28), 255, dtype=np.uint8)
    image[0, 0, 0] = 0
    x = NORMALIZATIONS["paper"](image)
    assert x.shape == (1, 1, 32, 32)
    assert x[0, 0, 2, 2] == pytest.approx(-0.1)  # the digit's own background pixel
    assert x[0, 0, 2, 3] == pytest.approx(1.175)  # ink
    border = np.concatenate(
        [x[0, 0, :2].ravel(), x[0, 0, -2:].ravel(), x[0, 0, :, :2].ravel(), x[0, 0, :, -2:].ravel()]
    )
    assert np.allclose(border, -0.1)


def test_batches_cover_everything_once_and_shuffle_by_seed() -> None:
    inputs, labels = np.arange(10)[:, None], np.arange(10)
    seen = [y for _, ys in batches(inputs, labels, 4, epoch_rng(0, 0)) for y in ys.tolist()]
    assert sorted(seen) == list(range(10)) and seen != list(range(10))
    again = [y for _, ys in batches(inputs, labels, 4, epoch_rng(0, 0)) for y in ys.tolist()]
    other_epoch = [y for _, ys in batches(inputs, labels, 4, epoch_rng(0, 1)) for y in ys.tolist()]
    assert again == seen and other_epoch != seen
    sizes = [len(ys) for _, ys in batches(inputs, labels, 4)]
    assert sizes == [4, 4, 2]
    for x, y in batches(inputs, labels, 3, epoch_rng(5, 2)):
        np.testing.assert_array_equal(x[:, 0], y)  # inputs stay paired with their labels
