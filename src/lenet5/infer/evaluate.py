"""Scoring an exported model on the MNIST test set: accuracy, per class, confusion."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lenet5.data import mnist
from lenet5.infer.backends import load_backend, predict_batched
from lenet5.plots.confusion import confusion_matrix, per_class_accuracy


@dataclass(frozen=True)
class TestReport:
    accuracy: float
    per_class: list[float]
    confusion: np.ndarray
    n: int
    total: int  # test digits available; n < total after --limit
    predictions: np.ndarray
    probabilities: np.ndarray

    def to_json(self) -> dict[str, object]:
        return {
            "accuracy": self.accuracy,
            "per_class": self.per_class,
            "n": self.n,
            "total": self.total,
            "confusion": self.confusion.tolist(),
        }


def evaluate_model(
    model_path: str | Path, data_dir: str | Path | None = None, backend: str = "paddle", limit: int | None = None
) -> TestReport:
    runner = load_backend(model_path, backend)
    data = mnist.load(data_dir)
    images, labels = data.test_images[:limit], data.test_labels[:limit]
    probabilities = predict_batched(runner, runner.meta["normalization"](images))
    predictions = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predictions)
    return TestReport(
        accuracy=float((predictions == labels).mean()),
        per_class=per_class_accuracy(matrix),
        confusion=matrix,
        n=len(labels),
        total=len(data.test_labels),
        predictions=predictions,
        probabilities=probabilities,
    )
