"""The report's pictures beyond curves and confusion: per-class scores, mistakes, filters, maps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lenet5.plots.plotting import plt, save_figure


def plot_class_scores(scores: dict[str, list[float]], path: Path) -> Path:
    return save_figure(class_scores_figure(scores), path)


def class_scores_figure(scores: dict[str, list[float]]) -> Any:
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.27
    digits = np.arange(10)
    for i, (name, values) in enumerate(scores.items()):
        ax.bar(digits + (i - 1) * width, [100 * v for v in values], width, label=name)
    lowest = min(min(v) for v in scores.values())
    ax.set_ylim(max(0.0, 100 * lowest - 2), 100.2)
    ax.set_xticks(digits)
    ax.set_xlabel("digit")
    ax.set_ylabel("%")
    ax.set_title("Per-class precision, recall and F1 on the test set")
    # Beside the axes, never over them: any corner of the plot can hold a bar.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_confident_mistakes(
    images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, path: Path, count: int = 36
) -> tuple[Path, int]:
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")][:count]
    cols = 6
    rows = max(1, int(np.ceil(len(order) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 1.85))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, index in zip(np.atleast_1d(axes).ravel(), order, strict=False):
        ax.imshow(images[index], cmap="gray_r")
        guess = predicted[index]
        confidence = 100 * probabilities[index, guess]
        ax.set_title(f"#{index} true {labels[index]}\npred {guess} ({confidence:.0f}%)", fontsize=8)
    fig.suptitle(f"The {len(order)} most confidently wrong test digits")
    return save_figure(fig, path), len(order)


def plot_maps(maps: np.ndarray, path: Path, title: str, cols: int = 8, cmap: str = "gray") -> Path:
    """A grid of 2-D maps, each scaled on its own (filters or feature maps)."""
    count = len(maps)
    cols = min(cols, count)
    rows = int(np.ceil(count / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.3 + 0.4))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i < count:
            ax.imshow(maps[i], cmap=cmap)
            ax.set_title(str(i), fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_input(image: np.ndarray, path: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(2.4, 2.6))
    ax.imshow(image, cmap="gray")
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def table_html(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def plot_distortions(rows: Sequence[np.ndarray], path: Path) -> Path:
    """Training digits (first row) and random distortions of them (the rows below)."""
    columns = len(rows[0])
    fig, axes = plt.subplots(len(rows), columns, figsize=(columns * 0.9, len(rows) * 0.95 + 0.5), squeeze=False)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            axes[r][c].imshow(image, cmap="gray", vmin=0, vmax=255)
            axes[r][c].set_xticks([])
            axes[r][c].set_yticks([])
        axes[r][0].set_ylabel("original" if r == 0 else f"distorted {r}", fontsize=7)
    fig.suptitle("Training digits and random affine distortions (train --distort)")
    return save_figure(fig, path)
