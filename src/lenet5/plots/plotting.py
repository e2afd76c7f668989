"""Matplotlib set-up shared by every plot: a headless backend and atomic PNG output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from lenet5 import atomic
from lenet5.store.outputs import PNG_SOFTWARE, replaceable


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    # The Software chunk marks the PNG as ours, so a later run may replace it (lenet5.store.outputs);
    # whatever else stands at `path` when the picture is ready is left alone.
    with atomic.atomic_path(path, suffix=".png", may_replace=replaceable("png")) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png", metadata={"Software": PNG_SOFTWARE})
    plt.close(fig)
    return Path(path)


__all__ = ["plt", "save_figure"]
