"""The picture of a confusion matrix (the counts themselves: lenet5.metrics)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lenet5.plots.plotting import plt, save_figure


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
