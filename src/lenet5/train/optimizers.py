"""Optimizers by name."""

from __future__ import annotations

from typing import Any

from lenet5.errors import UserError
from lenet5.runtime import import_paddle

paddle = import_paddle()

OPTIMIZERS = ("adam", "sgd", "sdlm")


def build_optimizer(name: str, lr: float, model: Any, batch_size: int = 1, weight_decay: float = 0.0) -> Any:
    """`lr` is the learning rate; for SDLM it is the first pass's eta (the paper: 0.0005) and
    later passes keep the paper's schedule scaled by the same factor. `weight_decay`: Adam's
    decoupled decay (AdamW, Loshchilov and Hutter 2019): every step also takes learning rate
    times `weight_decay` of each weight away, apart from the gradient's adaptive step."""
    if lr <= 0:
        raise UserError(f"--lr {lr}: must be positive")
    if weight_decay and name != "adam":
        raise UserError(f"--weight-decay with --optimizer {name}: decoupled decay is Adam's (AdamW) here")
    if name == "sdlm":
        from lenet5.train.sdlm import PAPER_ETA_SCHEDULE, SDLM

        if not hasattr(model, "features"):
            raise UserError("--optimizer sdlm needs a model with an RBF output (--model lenet5)")
        return SDLM(model.parameters(), eta_scale=lr / PAPER_ETA_SCHEDULE[0][1], batch_size=batch_size)
    if name == "adam" and weight_decay:
        return paddle.optimizer.AdamW(learning_rate=lr, parameters=model.parameters(), weight_decay=weight_decay)
    if name == "adam":
        return paddle.optimizer.Adam(learning_rate=lr, parameters=model.parameters())
    if name == "sgd":
        return paddle.optimizer.SGD(learning_rate=lr, parameters=model.parameters())
    raise UserError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
