"""Confusion matrix: counts, per-class accuracy and the picture of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lenet5.plots.plotting import plt, save_figure


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Rows are the true class, columns the predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def per_class_accuracy(matrix: np.ndarray) -> list[float]:
    totals = matrix.sum(axis=1)
    return [float(matrix[i, i] / totals[i]) if totals[i] else float("nan") for i in range(len(matrix))]


def plot_confusion(matrix: np.ndarray, path: str | Path, title: str = "Confusion matrix") -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    # Log colour scale: the diagonal holds ~1000 per class and the errors a handful each.
    shown = ax.imshow(np.log1p(matrix), cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            color = "white" if row == col else "black"
            ax.text(col, row, str(count), ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(len(matrix)))
    ax.set_yticks(range(len(matrix)))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    fig.colorbar(shown, ax=ax, label="log(1 + count)")
    return save_figure(fig, path)
