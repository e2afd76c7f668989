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


# The MAP criterion's constant j (Eq. 9). The paper leaves it open; 10 means a wrong class
# whose penalty is already more than 10 above zero (about 2.5 bitmap pixels of the 84 away
# from being a perfect match) is no longer pushed further up.
MAP_J = 10.0


def _penalty_of_label(penalties: Any, labels: Any) -> Any:
    return paddle.take_along_axis(penalties, labels.reshape([-1, 1]), axis=1).reshape([-1])


def rbf_mse(penalties: Any, labels: Any) -> Any:
    """Eq. 8: the penalty y_D of the correct class (RBF outputs are squared distances)."""
    return _penalty_of_label(penalties, labels)


def rbf_map(penalties: Any, labels: Any, j: float = MAP_J) -> Any:
    """Eq. 9: y_D + log(exp(-j) + sum_i exp(-y_i)), computed as a stable log-sum-exp."""
    rubbish = paddle.full([penalties.shape[0], 1], -j, dtype=penalties.dtype)
    return _penalty_of_label(penalties, labels) + paddle.logsumexp(paddle.concat([-penalties, rubbish], 1), axis=1)


LOSSES: dict[str, Callable[[Any, Any], Any]] = {"cross_entropy": cross_entropy, "mse": rbf_mse, "map": rbf_map}


def smoothed_cross_entropy(smoothing: float) -> Callable[[Any, Any], Any]:
    """Cross-entropy against targets of 1 - smoothing + smoothing/K on the label and
    smoothing/K elsewhere (K classes): the network is not pushed towards certainty."""

    def criterion(outputs: Any, labels: Any) -> Any:
        return F.cross_entropy(outputs, labels, reduction="none", label_smoothing=smoothing).reshape([-1])

    return criterion


def get_loss(name: str, label_smoothing: float = 0.0) -> Callable[[Any, Any], Any]:
    if name not in LOSSES:
        raise UserError(f"unknown loss {name!r}; choose from {', '.join(sorted(LOSSES))}")
    if label_smoothing > 0:
        if name != "cross_entropy":
            raise UserError(f"label smoothing applies to cross_entropy, not {name}")
        return smoothed_cross_entropy(label_smoothing)
    return LOSSES[name]
