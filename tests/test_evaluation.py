"""Fast, exact tests of what scores a run: evaluation (lenet5.train.evaluation) and the choice
of the kept epoch (lenet5.train.selection). No training: a fixed linear model whose costs
are worked out independently in numpy. `make mutation` leans on these."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lenet5.runtime import import_paddle
from lenet5.train import distributed, evaluation
from lenet5.train.distributed import World
from lenet5.train.evaluation import evaluate
from lenet5.train.losses import cross_entropy
from lenet5.train.selection import is_better

paddle = import_paddle()

WEIGHTS = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, -1.0], [2.0, 0.5, 0.0], [-1.0, 0.0, 3.0]], dtype=np.float32)
INPUTS = np.array(
    [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0], [0, 1, 1, 1], [2, 0, 0, 1]],
    dtype=np.float32,
)
LABELS = np.array([2, 1, 0, 2, 0, 1, 2], dtype=np.int64)
# logits = INPUTS @ WEIGHTS, worked out by hand: rows 0..6 predict 0, 1, 0, 2, 0, 2, 2
PREDICTED = np.array([0, 1, 0, 2, 0, 2, 2])


class Linear(paddle.nn.Layer):
    """logits = x @ WEIGHTS; in training mode class 1 gets +100 (evaluation must switch it off)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = paddle.create_parameter([4, 3], "float32")
        self.weight.set_value(paddle.to_tensor(WEIGHTS))

    def forward(self, x: Any) -> Any:
        logits = paddle.matmul(x, self.weight)
        if self.training:
            logits = logits + paddle.to_tensor([0.0, 100.0, 0.0])
        return logits

    def predictions(self, logits: Any) -> Any:
        return logits.argmax(axis=1)


def _reference(inputs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    logits = inputs.astype(np.float64) @ WEIGHTS.astype(np.float64)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    cost = -log_softmax[np.arange(len(labels)), labels].mean()
    return float(cost), float((logits.argmax(axis=1) == labels).mean())


def test_reference_predictions_are_the_hand_worked_ones() -> None:
    assert (INPUTS @ WEIGHTS).argmax(axis=1).tolist() == PREDICTED.tolist()
    assert _reference(INPUTS, LABELS)[1] == pytest.approx(5 / 7)  # rows 1, 2, 3, 4 and 6 are right


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 1000])
def test_cost_and_accuracy_over_the_whole_set_whatever_the_batches(batch_size: int) -> None:
    model = Linear()
    model.eval()
    result = evaluate(model, cross_entropy, INPUTS, LABELS, batch_size=batch_size)
    cost, accuracy = _reference(INPUTS, LABELS)
    assert result.n == 7 and result.correct == 5
    assert result.accuracy == pytest.approx(5 / 7, abs=0) and result.accuracy == pytest.approx(accuracy)
    assert result.cost == pytest.approx(cost, rel=1e-6)
    assert result.total_cost == pytest.approx(cost * 7, rel=1e-6)
    assert result.predictions is None


def test_predictions_are_kept_in_order_on_request() -> None:
    result = evaluate(Linear(), cross_entropy, INPUTS, LABELS, batch_size=3, keep_predictions=True)
    assert result.predictions.tolist() == PREDICTED.tolist()


def test_evaluation_runs_in_eval_mode_and_restores_the_mode() -> None:
    model = Linear()
    model.train()
    result = evaluate(model, cross_entropy, INPUTS, LABELS, keep_predictions=True)
    assert result.predictions.tolist() == PREDICTED.tolist()  # the +100 of training mode is off
    assert model.training
    model.eval()
    evaluate(model, cross_entropy, INPUTS, LABELS)
    assert not model.training


def test_an_empty_set_scores_zero_not_a_crash() -> None:
    result = evaluate(Linear(), cross_entropy, INPUTS[:0], LABELS[:0], keep_predictions=True)
    assert (result.n, result.cost, result.accuracy, result.correct) == (0, 0.0, 0.0, 0)
    assert result.predictions.tolist() == [] and result.predictions.dtype == np.int64


def test_sharded_evaluation_adds_up_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rank 0 of 2 scores rows 0-3 and rank 1 rows 4-6; the collectives are played here by
    adding rank 1's own (separately computed) share, as gloo would."""
    model = Linear()
    other = evaluate(model, cross_entropy, INPUTS[4:], LABELS[4:], keep_predictions=True)
    sums: list[tuple[float, ...]] = []

    def all_sum(given: World, *values: float) -> list[float]:
        assert given is world
        sums.append(values)
        return [values[0] + other.total_cost, values[1] + other.correct]

    def gather(given: World, array: np.ndarray) -> np.ndarray:
        assert given is world and array is not None
        return np.concatenate([array, other.predictions])

    monkeypatch.setattr(distributed, "all_sum", all_sum)
    monkeypatch.setattr(distributed, "gather_arrays", gather)
    world = World(rank=0, size=2)
    result = evaluation.evaluate(model, cross_entropy, INPUTS, LABELS, batch_size=2, keep_predictions=True, world=world)
    cost, accuracy = _reference(INPUTS, LABELS)
    assert result.n == 7 and result.correct == 5
    assert result.cost == pytest.approx(cost, rel=1e-6) and result.accuracy == pytest.approx(accuracy)
    assert result.predictions.tolist() == PREDICTED.tolist()
    mine = _reference(INPUTS[:4], LABELS[:4])
    assert sums[0][0] == pytest.approx(mine[0] * 4, rel=1e-6) and sums[0][1] == 3  # rows 1, 2 and 3
    # Without kept predictions nothing is gathered.
    assert evaluation.evaluate(model, cross_entropy, INPUTS, LABELS, batch_size=2, world=world).predictions is None


def _row(val_cost: float, val_accuracy: float, test_cost: float = 1.0, test_accuracy: float = 0.5) -> dict:
    return {"val_cost": val_cost, "val_accuracy": val_accuracy, "test_cost": test_cost, "test_accuracy": test_accuracy}


@pytest.mark.parametrize("select_by", ["cost", "accuracy"])
def test_the_first_epoch_is_always_kept(select_by: str) -> None:
    assert is_better(_row(9.0, 0.1), None, select_by)


def test_by_cost_lower_validation_cost_wins_and_a_tie_keeps_the_earlier() -> None:
    best = _row(0.50, 0.90)
    assert is_better(_row(0.49, 0.10), best, "cost")
    assert not is_better(_row(0.50, 0.99), best, "cost")
    assert not is_better(_row(0.51, 0.99), best, "cost")
    # the test split never decides
    assert not is_better(_row(0.51, 0.90, test_cost=0.0, test_accuracy=1.0), best, "cost")


def test_by_accuracy_higher_validation_accuracy_wins_then_lower_cost() -> None:
    best = _row(0.30, 0.95)
    assert is_better(_row(0.90, 0.96), best, "accuracy")  # higher accuracy, even at a higher cost
    assert not is_better(_row(0.01, 0.94), best, "accuracy")  # lower accuracy, even at a lower cost
    assert is_better(_row(0.29, 0.95), best, "accuracy")  # tie on accuracy: lower cost
    assert not is_better(_row(0.31, 0.95), best, "accuracy")
    assert not is_better(_row(0.30, 0.95), best, "accuracy")  # a full tie keeps the earlier
    assert not is_better(_row(0.40, 0.94, test_cost=0.0, test_accuracy=1.0), best, "accuracy")
