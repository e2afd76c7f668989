"""Per-sample training criteria, by name. Each returns one loss per sample, so that epoch
costs can be weighted by sample count exactly instead of averaged over batch means."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lenet5.errors import UserError
from lenet5.runtime import import_paddle

paddle = import_paddle()
F = paddle.nn.functional


def cross_entropy(outputs: Any, labels: Any) -> Any:
    """Softmax cross-entropy on logits."""
    return F.cross_entropy(outputs, labels, reduction="none").reshape([-1])


LOSSES: dict[str, Callable[[Any, Any], Any]] = {"cross_entropy": cross_entropy}


def get_loss(name: str) -> Callable[[Any, Any], Any]:
    if name not in LOSSES:
        raise UserError(f"unknown loss {name!r}; choose from {', '.join(sorted(LOSSES))}")
    return LOSSES[name]
