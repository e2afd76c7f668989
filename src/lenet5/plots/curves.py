"""Cost and accuracy per epoch for train, validation and test (the article's Ploter, per epoch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from lenet5.plots.plotting import plt, save_figure

_SPLITS = (("train", "tab:blue"), ("val", "tab:orange"), ("test", "tab:green"))


def plot_curves(history: Sequence[dict[str, Any]], path: str | Path, best_epoch: int | None = None) -> Path:
    return save_figure(curves_figure(history, best_epoch), path)


def curves_figure(history: Sequence[dict[str, Any]], best_epoch: int | None = None) -> Any:
    fig, (ax_cost, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for split, color in _SPLITS:
        # Epochs a split was not scored (the test digits with --no-test-each-epoch: only the
        # epoch kept) are left out of its line.
        scored = [row for row in history if row.get(f"{split}_accuracy") is not None]
        if not scored:
            continue
        at = [row["epoch"] for row in scored]
        label = split if len(scored) == len(history) else f"{split} (epochs scored)"
        ax_cost.plot(at, [row[f"{split}_cost"] for row in scored], "o-", color=color, label=label)
        ax_acc.plot(at, [100 * (1 - row[f"{split}_accuracy"]) for row in scored], "o-", color=color, label=label)
    # Line passes (lenet5.reader.line_training) train on whole lines, with the pieces beside them
    # undistorted: their train numbers are not comparable with the epochs before, so they
    # are shaded.
    lines = [row["epoch"] for row in history if "train_line_cost" in row]
    for ax in (ax_cost, ax_acc):
        if lines:
            ax.axvspan(min(lines) - 0.5, max(lines) + 0.5, color="tab:purple", alpha=0.12, label="line passes")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1, label=f"best (val) = {best_epoch}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    ax_cost.set_ylabel("cost (mean per-sample loss)")
    ax_cost.set_title("Cost")
    ax_acc.set_ylabel("error rate (%)")
    ax_acc.set_yscale("log")
    # Plain numbers at 1-2-5 steps ("0.5", "1", "2"), not matplotlib's "6x10^0" minor labels,
    # which are wide enough to run into the axis label.
    ax_acc.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax_acc.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    ax_acc.yaxis.set_minor_formatter(NullFormatter())
    ax_acc.set_title("Error rate")
    fig.tight_layout()
    return fig
