"""Training logs for VisualDL, Paddle's own dashboard (`lenet5 train --visualdl`).

Per epoch: the train, validation and test cost and accuracy, the learning rate, and an
image panel of validation digits the model misreads, each titled "true -> read". Open with
`visualdl --logdir RUN/visualdl` and go to http://127.0.0.1:8040/.

VisualDL appends to its own record file as training goes (that is what lets the dashboard
follow a live run); the file is new for each start or resume and lives in RUN/visualdl,
a folder lenet5 itself made inside its run directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lenet5.errors import UserError
from lenet5.store.run_dir import RunDir

PANEL_DIGITS = 24  # misread validation digits shown per epoch


class VisualDLLog:
    def __init__(self, run_root: Path) -> None:
        try:
            from visualdl import LogWriter
        except ImportError:
            raise UserError("--visualdl needs the visualdl package: pip install visualdl") from None
        self.logdir = RunDir(run_root).visualdl
        self._writer = LogWriter(logdir=str(self.logdir))

    def epoch(self, row: dict[str, Any], lr: float) -> None:
        epoch = int(row["epoch"])
        for split in ("train", "val", "test"):
            if row.get(f"{split}_accuracy") is None:  # the test digits, with --no-test-each-epoch
                continue
            self._writer.add_scalar(tag=f"cost/{split}", value=float(row[f"{split}_cost"]), step=epoch)
            self._writer.add_scalar(tag=f"accuracy/{split}", value=float(row[f"{split}_accuracy"]), step=epoch)
        self._writer.add_scalar(tag="learning_rate", value=float(lr), step=epoch)
        self._writer.add_scalar(tag="images_per_second", value=float(row["images_per_second"]), step=epoch)

    def misread(self, epoch: int, images: np.ndarray, labels: np.ndarray, predicted: np.ndarray) -> None:
        wrong = np.flatnonzero(predicted != labels)[:PANEL_DIGITS]
        if len(wrong):
            self._writer.add_image(
                tag="misread validation digits",
                img=misread_panel(images[wrong], labels[wrong], predicted[wrong]),
                step=epoch,
                dataformats="HWC",
            )

    def close(self) -> None:
        self._writer.close()


def misread_panel(images: np.ndarray, labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """A grid of digits, each titled "true -> read", as an RGB uint8 array."""
    from lenet5.plots.plotting import plt

    cols = 8
    rows = max(1, -(-len(images) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.3), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, label, guess in zip(axes.ravel(), images, labels, predicted, strict=False):
        ax.imshow(image, cmap="gray_r")
        ax.set_title(f"{label} -> {guess}", fontsize=9, color="tab:red")
    fig.suptitle("misread validation digits: true -> read", fontsize=10)
    fig.tight_layout()
    fig.canvas.draw()
    panel = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return panel
