"""Stochastic diagonal Levenberg-Marquardt (LeCun et al. 1998, Appendix C), as an optimizer.

Each parameter k gets its own step  eta / (mu + h_kk),  where h_kk estimates the second
derivative of the criterion with respect to that parameter, re-estimated on a sample of
training patterns (500) before every pass, and eta follows the paper's schedule over passes.

How h_kk is computed (the paper's Appendix C, after Becker & LeCun 1989). Second
derivatives are back-propagated like gradients, with two approximations: the Hessian is
taken to be diagonal (cross terms between units are dropped) and the terms in f'' are
dropped (the Gauss-Newton, or Levenberg-Marquardt, approximation), which keeps every
estimate non-negative. For a unit a_i = sum_j w_ij x_j with x_i = f(a_i):

    d2E/da_i^2  = f'(a_i)^2 * d2E/dx_i^2
    d2E/dx_j^2  = sum_i w_ij^2 * d2E/da_i^2
    d2E/dw_ij^2 = d2E/da_i^2 * x_j^2                 summed over every connection sharing w

starting from d2E/dx^2 = 2 on the 84 F6 outputs: the MSE criterion E = sum_j (x_j - w_Dj)^2
against the RBF bitmap. The same h_kk is used for the MAP criterion, whose curvature with
respect to F6 is dominated by that term. A subsampling coefficient is shared by the four
connections of each unit, so its h sums the four inputs' squares.

Each backward step is itself a linear map, so it is run with Paddle's autograd on the layer
applied to squared quantities: the parameter "gradient" of layer(x^2) with upstream
d2E/da gives d2E/dw, and the input "gradient" of the layer with squared weights gives
d2E/dx. All 500 patterns go through in one batch; h_kk is their average.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lenet5.models.lenet1998 import SQUASH_A, SQUASH_S, MaskedConv2D, Subsampling, squash
from lenet5.runtime import import_paddle

paddle = import_paddle()

# (passes, eta): 0.0005 for passes 1-2, 0.0002 for 3-5, 0.0001 for 6-8, 0.00005 for 9-12,
# 0.00001 for 13-20 (Appendix C / Section III-C).
PAPER_ETA_SCHEDULE: tuple[tuple[int, float], ...] = ((2, 5e-4), (3, 2e-4), (3, 1e-4), (4, 5e-5), (8, 1e-5))
MU = 0.02
HESSIAN_SAMPLES = 500


def eta_for_pass(epoch: int, schedule: Sequence[tuple[int, float]] = PAPER_ETA_SCHEDULE) -> float:
    """eta for 0-based pass `epoch`; passes beyond the schedule keep its last value."""
    end = 0
    for passes, eta in schedule:
        end += passes
        if epoch < end:
            return eta
    return schedule[-1][1]


def _squash_derivative(a: Any) -> Any:
    t = paddle.tanh(SQUASH_S * a)
    return SQUASH_A * SQUASH_S * (1 - t * t)


def _with_squared_weights(layer: Any, z: Any) -> Any:
    """The layer's linear map with every weight squared and no bias (d2E/dx propagation)."""
    F = paddle.nn.functional
    if isinstance(layer, MaskedConv2D):
        weight = layer.weight * layer.mask
        return F.conv2d(z, weight * weight)
    if isinstance(layer, paddle.nn.Conv2D):
        return F.conv2d(z, layer.weight * layer.weight)
    if isinstance(layer, paddle.nn.Linear):
        return paddle.matmul(z, layer.weight * layer.weight)
    if isinstance(layer, Subsampling):
        summed = F.avg_pool2d(z, layer.window, layer.window) * float(layer.window**2)
        return summed * (layer.coefficient * layer.coefficient).reshape([1, -1, 1, 1])
    raise TypeError(f"no second-derivative rule for {type(layer).__name__}")


def diagonal_hessian(model: Any, inputs: np.ndarray) -> dict[str, Any]:
    """{param.name: h_kk} by the paper's diagonal Gauss-Newton back-propagation, averaged
    over the patterns in `inputs`. The model provides `squashed_layers()`: its layers in
    order, each followed by the squash (a flatten is implied before a fully connected one)."""
    layers = model.squashed_layers()
    was_training = model.training
    model.eval()
    with paddle.no_grad():
        units_in, pre = [], []
        x = paddle.to_tensor(inputs)
        for layer in layers:
            if isinstance(layer, paddle.nn.Linear):
                x = paddle.flatten(x, start_axis=1)
            units_in.append(x)
            a = layer(x)
            pre.append(a)
            x = squash(a)
    d2_x = paddle.full(pre[-1].shape, 2.0)  # d2E/dx^2 of the MSE criterion on the F6 outputs
    h: dict[str, Any] = {}
    for i in reversed(range(len(layers))):
        layer, u, a = layers[i], units_in[i], pre[i]
        d2_a = (_squash_derivative(a) ** 2 * d2_x).detach()
        params = [p for p in layer.parameters() if not p.stop_gradient]
        square_in = (u * u).detach()
        grads = paddle.grad(layer(square_in), params, grad_outputs=d2_a)
        for p, g in zip(params, grads, strict=True):
            h[p.name] = (g / float(len(inputs))).detach()
        if i > 0:
            z = paddle.zeros(u.shape, dtype=u.dtype)
            z.stop_gradient = False
            (d2_u,) = paddle.grad(_with_squared_weights(layer, z), [z], grad_outputs=d2_a)
            d2_x = d2_u.reshape(pre[i - 1].shape).detach()
    if was_training:
        model.train()
    return h


class SDLM:
    """A Paddle optimizer: `step()` applies  theta_k -= eta / (mu + h_kk) * grad_k.

    Call `begin_pass(epoch, model, sample)` before each pass to set eta from the schedule
    and re-estimate h_kk on `sample` (the training loop does this).
    """

    def __init__(
        self,
        parameters: Sequence[Any],
        schedule: Sequence[tuple[int, float]] = PAPER_ETA_SCHEDULE,
        mu: float = MU,
        eta_scale: float = 1.0,
        batch_size: int = 1,
    ) -> None:
        self._params = [p for p in parameters if not p.stop_gradient]
        # The loop averages the loss over a batch; a mini-batch update of B patterns moves as
        # far as B per-pattern updates would (to first order) when the step is scaled by B.
        self.batch_size = batch_size
        self.schedule = tuple(schedule)
        self.mu = mu
        self.eta_scale = eta_scale
        self.eta = eta_for_pass(0, self.schedule) * eta_scale
        self.hessian = {p.name: paddle.zeros(p.shape, dtype=p.dtype) for p in self._params}
        self._steps = {p.name: paddle.full(p.shape, self.eta / mu, dtype=p.dtype) for p in self._params}

    def begin_pass(self, epoch: int, model: Any, sample: np.ndarray) -> None:
        self.eta = eta_for_pass(epoch, self.schedule) * self.eta_scale
        self.hessian = diagonal_hessian(model, sample)
        self._refresh_steps()

    def _refresh_steps(self) -> None:
        self._steps = {name: (self.eta * self.batch_size) / (self.mu + h) for name, h in self.hessian.items()}

    def step_size(self, param: Any) -> np.ndarray:
        """eta / (mu + h_kk) for each element of `param` this pass: what `step()` multiplies
        its gradient by (the fused pass, lenet5.train.sdlm_fused, applies the same values)."""
        return self._steps[param.name].numpy()

    @paddle.no_grad()
    def step(self) -> None:
        for p in self._params:
            if p.grad is not None:
                p.subtract_(self._steps[p.name] * p.grad)

    def clear_grad(self) -> None:
        for p in self._params:
            p.clear_gradient(set_to_zero=False)

    def get_lr(self) -> float:
        return self.eta

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {f"{name}_hkk_0": h for name, h in self.hessian.items()}
        state["eta"] = self.eta
        return state

    def set_state_dict(self, state: dict[str, Any]) -> None:
        self.eta = float(state["eta"])
        for p in self._params:
            value = state[f"{p.name}_hkk_0"]
            self.hessian[p.name] = value.clone() if isinstance(value, paddle.Tensor) else paddle.to_tensor(value)
        self._refresh_steps()
