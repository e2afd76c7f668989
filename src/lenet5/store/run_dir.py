"""The layout of a run directory, in one place.

runs/NAME/
  config.json            every setting, versions, seed, command line
  metrics.jsonl          one line per epoch: train/val/test cost and accuracy, seconds
  curves.png             cost and error-rate curves
  checkpoints/last.npz   state after the last completed epoch (what --resume reads)
  checkpoints/best.npz   state after the epoch with the best validation score
  model/                 Paddle Inference model of the best epoch (+ lenet5.json)
  summary.json           the selected epoch, its validation and test numbers, speed
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lenet5 import atomic
from lenet5.errors import UserError


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def curves(self) -> Path:
        return self.root / "curves.png"

    @property
    def last_checkpoint(self) -> Path:
        return self.root / "checkpoints" / "last.npz"

    @property
    def best_checkpoint(self) -> Path:
        return self.root / "checkpoints" / "best.npz"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    def write_metrics(self, history: list[dict[str, Any]]) -> None:
        # Rewritten whole from the checkpointed history, so it never runs ahead of last.npz.
        atomic.write_text(self.metrics, "".join(json.dumps(row) + "\n" for row in history))

    def read_config(self) -> dict[str, Any]:
        try:
            return json.loads(self.config.read_text())
        except FileNotFoundError:
            raise UserError(f"{self.root}: not a run directory (no config.json)") from None
        except (OSError, ValueError) as exc:
            raise UserError(f"{self.config}: unreadable ({type(exc).__name__})") from None

    def read_summary(self) -> dict[str, Any]:
        try:
            return json.loads(self.summary.read_text())
        except FileNotFoundError:
            raise UserError(f"{self.root}: run has no summary.json (not finished?)") from None
        except (OSError, ValueError) as exc:
            raise UserError(f"{self.summary}: unreadable ({type(exc).__name__})") from None
