"""Cost and accuracy per epoch for train, validation and test (the article's Ploter, per epoch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lenet5.report.plotting import plt, save_figure

_SPLITS = (("train", "tab:blue"), ("val", "tab:orange"), ("test", "tab:green"))


def plot_curves(history: Sequence[dict[str, Any]], path: str | Path, best_epoch: int | None = None) -> Path:
    epochs = [row["epoch"] for row in history]
    fig, (ax_cost, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for split, color in _SPLITS:
        ax_cost.plot(epochs, [row[f"{split}_cost"] for row in history], "o-", color=color, label=split)
        ax_acc.plot(epochs, [100 * (1 - row[f"{split}_accuracy"]) for row in history], "o-", color=color, label=split)
    for ax in (ax_cost, ax_acc):
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1, label=f"best (val) = {best_epoch}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    ax_cost.set_ylabel("cost (mean per-sample loss)")
    ax_cost.set_title("Cost")
    ax_acc.set_ylabel("error rate (%)")
    ax_acc.set_yscale("log")
    ax_acc.set_title("Error rate")
    return save_figure(fig, path)
