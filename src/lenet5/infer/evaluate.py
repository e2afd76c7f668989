"""Scoring a model folder on the MNIST test set (Fashion-MNIST's, for a model trained on
it): accuracy, per class, confusion (the counting is lenet5.metrics.evaluate, the same as in
training)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lenet5 import metrics
from lenet5.data import fashion, mnist
from lenet5.infer.backends import Backend, load_backend
from lenet5.store.model_folder import ModelMeta


@dataclass(frozen=True)
class TestReport:
    accuracy: float
    per_class: list[float | None]  # None: no test digit of that class (with --limit)
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


def backend_scorer(runner: Backend) -> metrics.Scorer:
    """The ten digits' probabilities of a model folder, and the likeliest digit."""

    def score(x: np.ndarray, _y: np.ndarray) -> tuple[None, np.ndarray, np.ndarray]:
        probabilities = runner.probabilities(x)
        return None, probabilities.argmax(axis=1), probabilities

    return score


def test_data(meta: ModelMeta, data_dir: str | Path | None = None) -> mnist.Mnist:
    """The dataset a model is scored on: Fashion-MNIST's for a model trained on it (its
    `lenet5.json` says so), else MNIST's (a model trained on your own digits is still a
    digit model)."""
    if (meta.training or {}).get("dataset") == fashion.NAME:
        return fashion.load(data_dir)
    return mnist.load(data_dir)


def evaluate_model(
    model_path: str | Path, data_dir: str | Path | None = None, backend: str = "paddle", limit: int | None = None
) -> TestReport:
    runner = load_backend(model_path, backend)
    data = test_data(runner.meta, data_dir)
    images, labels = data.test_images[:limit], data.test_labels[:limit]
    result = metrics.evaluate(
        backend_scorer(runner), runner.meta.normalize(images), labels, keep_predictions=True, keep_scores=True
    )
    matrix = metrics.confusion_matrix(labels, result.predictions)
    return TestReport(
        accuracy=result.accuracy,
        per_class=metrics.per_class_accuracy(matrix),
        confusion=matrix,
        n=result.n,
        total=len(data.test_labels),
        predictions=result.predictions,
        probabilities=result.scores,
    )
