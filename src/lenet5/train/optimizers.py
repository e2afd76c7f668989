"""Optimizers by name."""

from __future__ import annotations

from typing import Any

from lenet5.errors import UserError
from lenet5.runtime import import_paddle

paddle = import_paddle()

OPTIMIZERS = ("adam", "sgd")


def build_optimizer(name: str, lr: float, model: Any) -> Any:
    if lr <= 0:
        raise UserError(f"--lr {lr}: must be positive")
    if name == "adam":
        return paddle.optimizer.Adam(learning_rate=lr, parameters=model.parameters())
    if name == "sgd":
        return paddle.optimizer.SGD(learning_rate=lr, parameters=model.parameters())
    raise UserError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
