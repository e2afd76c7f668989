"""Everything one training run holds while it runs, in one object the loop's steps share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lenet5.settings import TrainSettings
from lenet5.store.run_dir import RunDir
from lenet5.train.data import TrainingData
from lenet5.train.distributed import World


@dataclass
class Session:
    settings: TrainSettings
    run: RunDir
    world: World
    data: TrainingData
    model: Any  # the network being trained (evaluated, kept and exported unless --ema: see `kept`)
    optimizer: Any
    loss_fn: Callable[[Any, Any], Any]
    train_model: Any  # `model`, or its DataParallel wrapper: what the updates go through
    echo: Callable[[str], None]
    progress: bool | None
    visualdl: bool = False  # --visualdl: every worker keeps its validation predictions for the dashboard
    dashboard: Any = None  # rank 0's lenet5.train.visualdl_log.VisualDLLog with --visualdl
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per completed epoch
    best: dict[str, Any] | None = None  # the epoch kept so far (BEST_KEYS of its row)
    wall_before: float = 0.0  # seconds the run had taken before this process resumed it
    started: float = 0.0  # perf_counter when this process started its epochs
    plotted: float = float("-inf")  # perf_counter of the last curves.png
    saved: int = 0  # epochs whose state is in last.npz: what --resume would continue after
    next_inputs: Any = None  # (epoch, wait for its inputs): a pass's distortions made ahead (train.epochs)
    # --label-smoothing: the criterion the updates follow; `loss_fn` (plain) scores every set.
    update_loss_fn: Callable[[Any, Any], Any] | None = None
    average: Any = None  # --ema: lenet5.train.averaging.WeightAverage of `model`

    @property
    def average_network(self) -> Any:
        """The network holding the weight average (--ema), else None."""
        return self.average.network if self.average is not None else None

    @property
    def kept(self) -> Any:
        """The network that is evaluated, kept as the best epoch and exported: the average
        of the weights with --ema, else the network being trained."""
        return self.average_network if self.average is not None else self.model

    @property
    def update_loss(self) -> Callable[[Any, Any], Any]:
        return self.update_loss_fn or self.loss_fn

    @property
    def steps(self) -> int:
        return sum(row["steps"] for row in self.history)
