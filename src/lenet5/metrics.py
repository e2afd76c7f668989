"""The one evaluator: a model's cost and accuracy over a whole set, exactly, whatever runs
the model (an eager network while training, an exported folder on either runtime), and the
tables made from its answers (confusion matrix, per-class scores).

Honesty rules it enforces: costs and accuracies are sample-weighted over the whole set,
never means of batch means; per-sample costs are summed in float64, so the cost is their
mean to 1e-15 whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# A batch of inputs and labels -> (per-sample cost or None, predicted class, class scores
# or None). The scores are kept only when asked for (they cost memory on big sets).
Scorer = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray | None, np.ndarray, np.ndarray | None]]


@dataclass(frozen=True)
class Evaluation:
    n: int
    correct: int
    total_cost: float  # sum of per-sample costs (0 when the scorer gives none)
    predictions: np.ndarray | None = None  # the predicted class of each input, when kept
    scores: np.ndarray | None = None  # each input's class scores, when kept

    @property
    def cost(self) -> float:
        """Mean per-sample cost over the whole set."""
        return self.total_cost / self.n if self.n else 0.0

    @property
    def accuracy(self) -> float:
        """correct / n, not a mean of batch means."""
        return self.correct / self.n if self.n else 0.0


def evaluate(
    scorer: Scorer,
    inputs: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 1000,
    keep_predictions: bool = False,
    keep_scores: bool = False,
) -> Evaluation:
    """Run `scorer` over the set in batches of `batch_size`; the sums are exact."""
    total_cost, correct = 0.0, 0
    predictions: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    for start in range(0, len(labels), batch_size):
        x, y = inputs[start : start + batch_size], labels[start : start + batch_size]
        cost, predicted, score = scorer(x, y)
        if cost is not None:
            total_cost += float(np.asarray(cost, dtype=np.float64).sum())
        correct += int((np.asarray(predicted) == y).sum())
        if keep_predictions:
            predictions.append(np.asarray(predicted))
        if keep_scores and score is not None:
            scores.append(np.asarray(score))
    return Evaluation(
        n=len(labels),
        correct=correct,
        total_cost=total_cost,
        predictions=_joined(predictions, keep_predictions, np.int64),
        scores=_joined(scores, keep_scores and bool(scores), np.float32),
    )


def _joined(parts: list[np.ndarray], kept: bool, dtype: type) -> np.ndarray | None:
    if not kept:
        return None
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Rows are the true class, columns the predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def per_class_accuracy(matrix: np.ndarray) -> list[float | None]:
    """Each class's share of its digits read right; None for a class with no digits (JSON has no NaN)."""
    totals = matrix.sum(axis=1)
    return [float(matrix[i, i] / totals[i]) if totals[i] else None for i in range(len(matrix))]


def precision_recall_f1(matrix: np.ndarray) -> dict[str, list[float]]:
    true_pos = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    precision = np.divide(true_pos, predicted, out=np.zeros_like(true_pos), where=predicted > 0)
    recall = np.divide(true_pos, actual, out=np.zeros_like(true_pos), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(true_pos), where=denom > 0)
    return {"precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist()}
