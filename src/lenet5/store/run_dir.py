"""The layout of a run directory: every file a run holds is named here and nowhere else.

runs/NAME/
  config.json            every setting (lenet5.settings.TrainSettings), versions, command line
  metrics.jsonl          one line per epoch: train/val/test cost and accuracy, seconds
  curves.png             cost and error-rate curves
  checkpoints/last.npz   state after the last completed epoch (what --resume reads)
  checkpoints/best.npz   state after the epoch with the best validation score
  model/                 Paddle Inference model of the best epoch (+ lenet5.json, README.md)
  summary.json           the selected epoch, its validation and test numbers, speed
  report/                `lenet5 report`'s HTML report
  confusion.png          `lenet5 evaluate`'s confusion matrix (confusion-first-N.png with --limit N)
  visualdl/              VisualDL logs (train --visualdl)

Everything read back is checked first (a regular file of bounded size, then its schema),
so a hand-edited or damaged file is one line naming it, never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lenet5 import atomic
from lenet5.errors import UserError
from lenet5.store.files import read_bytes, read_json

if TYPE_CHECKING:
    from lenet5.settings import TrainSettings

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CURVES = "curves.png"
CHECKPOINTS = "checkpoints"
LAST = "last.npz"
BEST = "best.npz"
MODEL = "model"
SUMMARY = "summary.json"
REPORT = "report"
VISUALDL = "visualdl"
MAX_JSON_BYTES = 16 * 1024 * 1024  # a long run's files are a few hundred KB


def is_run_dir(path: Path) -> bool:
    """Whether `path` looks like a training run (so that no output ever replaces one)."""
    return (path / CONFIG).is_file() or (path / CHECKPOINTS).is_dir()


@dataclass(frozen=True)
class RunConfig:
    """A run's config.json: its settings, validated, and the rest as written."""

    settings: TrainSettings
    raw: dict[str, Any]


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG

    @property
    def metrics(self) -> Path:
        return self.root / METRICS

    @property
    def curves(self) -> Path:
        return self.root / CURVES

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / LAST

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / BEST

    @property
    def model(self) -> Path:
        return self.root / MODEL

    @property
    def summary(self) -> Path:
        return self.root / SUMMARY

    @property
    def report(self) -> Path:
        return self.root / REPORT

    @property
    def visualdl(self) -> Path:
        return self.root / VISUALDL

    def confusion(self, limit: int | None) -> Path:
        """`evaluate`'s plot: a partial evaluation (--limit) never replaces the full one."""
        return self.root / ("confusion.png" if limit is None else f"confusion-first-{limit}.png")

    def write_config(self, settings: TrainSettings, **extra: Any) -> None:
        atomic.write_json(self.config, {"train": settings.model_dump(), **extra})

    def read_config(self) -> RunConfig:
        if not self.config.exists() and not self.config.is_symlink():
            raise UserError(f"{self.root}: not a run directory (no {CONFIG})")
        raw = read_json(self.config, MAX_JSON_BYTES, "lenet5 run config")
        if not isinstance(raw, dict) or not isinstance(raw.get("train"), dict):
            raise UserError(f'{self.config}: not a lenet5 training config (no "train" settings)')
        # Imported here: the settings' declarations (pydantic) cost every command's start, and
        # most commands that know about run directories (predict's outputs) never read one.
        from lenet5.settings import validated

        return RunConfig(validated(raw["train"], str(self.config), strict=True), raw)

    def read_settings(self) -> TrainSettings:
        return self.read_config().settings

    def read_summary(self) -> dict[str, Any]:
        if not self.summary.exists():
            raise UserError(f"{self.root}: run has no {SUMMARY} (not finished?)")
        summary = read_json(self.summary, MAX_JSON_BYTES, "lenet5 run summary")
        if not isinstance(summary, dict):
            raise UserError(f"{self.summary}: not a lenet5 run summary")
        # What every reader of a summary relies on (the card, the report, an export): checked
        # here, so a hand-edited file is one line, never a KeyError.
        for key, kind in (("best_epoch", int), ("val_accuracy", float), ("test_accuracy", float)):
            value = summary.get(key)
            if not isinstance(value, (kind, int)) or isinstance(value, bool):
                raise UserError(f'{self.summary}: not a lenet5 run summary ("{key}" missing or not a number)')
        return summary

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic.write_json(self.summary, summary)

    def write_metrics(self, history: list[dict[str, Any]]) -> None:
        # Rewritten whole from the checkpointed history, so it never runs ahead of last.npz.
        atomic.write_text(self.metrics, "".join(json.dumps(row) + "\n" for row in history))

    def read_metrics(self) -> list[dict[str, Any]]:
        text = read_bytes(self.metrics, MAX_JSON_BYTES, "lenet5 metrics file").decode("utf-8", "replace")
        try:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            raise UserError(f"{self.metrics}: not a lenet5 metrics file (a line is not JSON)") from None
        if not all(isinstance(row, dict) for row in rows):
            raise UserError(f"{self.metrics}: not a lenet5 metrics file")
        return rows

    def is_finished(self) -> bool:
        return self.summary.is_file()
