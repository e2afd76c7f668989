"""`--weight-decay W`: Adam's decoupled weight decay (AdamW). Each step takes learning rate
times W of every weight away, apart from the gradient's own step."""

from __future__ import annotations

import numpy as np
import pytest

from lenet5.errors import UserError
from lenet5.models.registry import create_model
from lenet5.runtime import import_paddle
from lenet5.settings import from_recipe
from lenet5.train.optimizers import build_optimizer

paddle = import_paddle()


def _step_without_gradient(weight_decay: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The seed network's trained weights (not batch norm's running statistics) before and
    after one step whose loss has zero gradient."""
    paddle.seed(0)
    model = create_model("seed")
    trained = [p for p in model.parameters() if not p.stop_gradient]
    before = [p.numpy().copy() for p in trained]
    optimizer = build_optimizer("adam", 0.1, model, weight_decay=weight_decay)
    loss = sum((p * 0.0).sum() for p in trained)
    loss.backward()
    optimizer.step()
    return before, [p.numpy() for p in trained]


def test_decoupled_decay_shrinks_every_weight_by_learning_rate_times_the_decay() -> None:
    # No gradient: Adam's own step is zero, so what is left is the decay, 0.1 * 0.5 of each weight.
    before, after = _step_without_gradient(0.5)
    assert len(before) == 8  # two convolutions, batch norm's scale and shift, the classifier
    for b, a in zip(before, after, strict=True):
        np.testing.assert_allclose(a, b * (1 - 0.1 * 0.5), rtol=1e-6, atol=1e-7)
    assert not np.array_equal(before[0], after[0])
    before, after = _step_without_gradient(0.0)  # off: plain Adam, the weights stay
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


def test_weight_decay_is_adams_only() -> None:
    assert from_recipe("strong", weight_decay=0.05).weight_decay == 0.05
    assert from_recipe("strong").weight_decay == 0.0  # no recipe decays yet
    with pytest.raises(UserError, match="--weight-decay"):
        from_recipe("seed", optimizer="sgd", weight_decay=0.05)
    with pytest.raises(UserError, match=r"weight.decay"):
        from_recipe("strong", weight_decay=-0.1)
    for name in ("sgd", "sdlm"):
        with pytest.raises(UserError, match="--weight-decay"):
            build_optimizer(name, 0.1, create_model("lenet5"), weight_decay=0.05)
