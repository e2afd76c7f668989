from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import DATA_DIR
from lenet5.cli import main
from lenet5.metrics import precision_recall_f1


def test_report_files_exist_and_links_resolve(trained_run: Path) -> None:
    assert main(["report", str(trained_run), "--digit", "7"]) == 0
    page = trained_run / "report" / "index.html"
    text = page.read_text()
    sources = re.findall(r"src='([^']+)'", text)
    assert {"curves.png", "confusion.png", "per_class.png", "mistakes.png", "filters.png", "digit.png"} <= set(sources)
    assert "maps_conv1.png" in sources and "maps_conv2.png" in sources
    for source in sources:
        target = page.parent / source
        assert target.is_file() and target.stat().st_size > 1000, source
    assert not re.search(r"(src|href)=['\"](https?:)?//", text)  # opens from disk, nothing external


def test_precision_recall_f1() -> None:
    import numpy as np

    matrix = np.zeros((10, 10), dtype=int)
    matrix[0, 0], matrix[0, 1], matrix[1, 1] = 8, 2, 10
    scores = precision_recall_f1(matrix)
    assert scores["recall"][0] == 0.8 and scores["precision"][0] == 1.0
    assert abs(scores["precision"][1] - 10 / 12) < 1e-12
    assert abs(scores["f1"][0] - 2 * 0.8 / 1.8) < 1e-12


def _history(epochs: int) -> list[dict[str, float]]:
    rows = []
    for epoch in range(epochs):
        error = 0.06 / (1 + epoch)  # error rates from 6% down to well under 1%: spans a decade
        row: dict[str, float] = {"epoch": epoch}
        for split in ("train", "val", "test"):
            row[f"{split}_cost"] = 3 * error
            row[f"{split}_accuracy"] = 1 - error
        rows.append(row)
    return rows


def test_error_rate_axis_reads_as_plain_numbers_clear_of_its_label() -> None:
    from lenet5.plots.curves import curves_figure
    from lenet5.plots.plotting import plt

    fig = curves_figure(_history(12), best_epoch=5)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    errors = fig.axes[1]
    labels = [t for t in errors.get_yticklabels(minor=False) + errors.get_yticklabels(minor=True) if t.get_text()]
    low, high = errors.get_ylim()
    visible = [t for t in labels if low <= t.get_position()[1] <= high]
    assert len(visible) >= 3
    for tick in visible:
        text = tick.get_text()
        assert re.fullmatch(r"[0-9.]+", text), text  # "0.5", "1", "2", never "6x10^0" in mathtext
    ylabel = errors.yaxis.label.get_window_extent(renderer)
    assert not any(ylabel.overlaps(t.get_window_extent(renderer)) for t in visible)
    plt.close(fig)


def test_a_split_scored_only_at_the_epoch_kept_is_one_point_there() -> None:
    """--no-test-each-epoch: the test digits have a score only at the epoch kept; the curves
    draw that one point there (not a line through missing values), named as such."""
    from lenet5.plots.curves import curves_figure
    from lenet5.plots.plotting import plt

    history = _history(6)
    for row in history:
        if row["epoch"] != 4:
            row["test_cost"] = row["test_accuracy"] = None
    fig = curves_figure(history, best_epoch=4)
    cost, errors = fig.axes
    for ax, value in ((cost, 3 * 0.06 / 5), (errors, 100 * 0.06 / 5)):
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert list(lines["test (epochs scored)"].get_xdata()) == [4]
        assert list(lines["test (epochs scored)"].get_ydata()) == pytest.approx([value])
        assert list(lines["val"].get_xdata()) == [0, 1, 2, 3, 4, 5]
    plt.close(fig)


def test_per_class_legend_covers_no_bar() -> None:
    from lenet5.plots.figures import class_scores_figure
    from lenet5.plots.plotting import plt

    high = [0.999] * 10  # full-height bars everywhere: any legend inside the axes would cover some
    fig = class_scores_figure({"precision": high, "recall": high, "f1": [0.95] * 9 + [0.999]})
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    bars = [patch.get_window_extent(renderer) for patch in ax.patches]
    assert len(bars) == 30
    assert not any(legend.overlaps(bar) for bar in bars)
    plt.close(fig)


def test_a_shipped_model_has_a_report_of_its_own(tmp_path: Path, monkeypatch, capsys) -> None:
    """`lenet5 report seed` works as `lenet5 evaluate seed` does: no run, so no curves, but
    the card, the confusion matrix, per-class scores and the worst mistakes."""
    import json

    from lenet5.store.model_folder import shipped_models

    monkeypatch.chdir(tmp_path)
    assert main(["report", "seed", "--data-dir", str(DATA_DIR)]) == 0
    out = tmp_path / "report-seed"
    page = (out / "index.html").read_text()
    assert {p.name for p in out.iterdir()} == {"index.html", "confusion.png", "per_class.png", "mistakes.png",
                                               "lenet5-report.json"}  # fmt: skip
    meta = json.loads((shipped_models()["seed"] / "lenet5.json").read_text())
    measured = float(re.findall(r">([\d.]+)%<", page)[0])  # the facts table's test accuracy
    # The accuracy its lenet5.json states, measured again (ONNX here, Paddle at export): equal
    # but for a near tie or two that another CPU's rounding may flip (0.01% each).
    assert abs(measured - 100 * meta["test_accuracy"]) <= 0.02
    assert "Model card" in page and "curves" not in page.lower()
    for src in re.findall(r"src='([^']+)'", page):
        assert (out / src).is_file()
    assert main(["report", "seed", "--data-dir", str(DATA_DIR)]) == 0  # its own earlier report: replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    capsys.readouterr()
    assert main(["report", "seed", "--out", str(mine)]) == 2
    assert "not written by lenet5" in capsys.readouterr().err and (mine / "notes.txt").read_text() == "keep"
