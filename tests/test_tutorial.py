"""The tutorial notebook runs, in quick mode, from top to bottom; and the notebook kept in
the repository (with a full run's outputs) is its percent-format source, cell for cell."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO

SOURCE = REPO / "docs" / "tutorial" / "lenet5_tutorial.py"
NOTEBOOK = REPO / "docs" / "tutorial" / "lenet5_tutorial.ipynb"


def test_notebook_matches_its_source() -> None:
    import jupytext
    import nbformat

    kept = nbformat.read(NOTEBOOK, as_version=4)
    source = jupytext.read(SOURCE)
    assert [(c.cell_type, c.source) for c in kept.cells] == [(c.cell_type, c.source) for c in source.cells]
    # Kept with a full run's outputs, so it reads well on a code host.
    code = [c for c in kept.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code)
    assert sum(1 for c in code for out in c.outputs if "image/png" in out.get("data", {})) >= 6


def test_notebook_runs_in_quick_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LENET5_QUICK=1: a small subset, under two minutes on 2 cores. Any error fails the test;
    outputs that differ from the kept ones do not."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("LENET5_QUICK", "1")  # the kernel inherits this process's environment
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    printed = "".join(
        out.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )
    assert "快速模式" in printed and "加载后的模型与原模型输出一致： True" in printed
