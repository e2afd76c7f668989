from __future__ import annotations

import re
from pathlib import Path

from lenet5.cli import main
from lenet5.report.figures import precision_recall_f1


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
