"""SDLM's curvature estimates against an independent implementation of Appendix C.

lenet5.train.sdlm back-propagates second derivatives with Paddle's autograd on squared
quantities. Here the same recursion is written out in numpy with explicit sums (float64),
layer by layer, for the real LeNet-5 on two patterns:

    d2E/dx^2 = 2 on F6's outputs;  d2E/da^2 = f'(a)^2 d2E/dx^2;
    d2E/dw^2 = sum over the connections sharing w of d2E/da^2 x^2;
    d2E/dx_j^2 = sum_i w_ij^2 d2E/da_i^2.

The C3 weights outside Table I are set to non-zero values first: they never reach the
output (the mask), so they must not reach the curvature either.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from lenet5.models import create_model
from lenet5.runtime import import_paddle
from lenet5.train.sdlm import SDLM, diagonal_hessian

paddle = import_paddle()

A, S = 1.7159, 2.0 / 3.0  # the squash f(a) = A tanh(S a), Appendix A


def f(a: np.ndarray) -> np.ndarray:
    return A * np.tanh(S * a)


def f_prime(a: np.ndarray) -> np.ndarray:
    return A * S / np.cosh(S * a) ** 2


def conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Valid 5x5 correlation: out[n,o,y,x] = sum_{c,p,q} x[n,c,y+p,x+q] w[o,c,p,q]."""
    return np.einsum("ncyxpq,ocpq->noyx", sliding_window_view(x, w.shape[2:], axis=(2, 3)), w)


def conv_weight_curvature(x: np.ndarray, d2a: np.ndarray, k: int) -> np.ndarray:
    """sum over positions of x^2 under the weight, times d2E/da^2 there."""
    return np.einsum("ncyxpq,noyx->ocpq", sliding_window_view(x * x, (k, k), axis=(2, 3)), d2a)


def conv_input_curvature(d2a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """d2E/dx^2[n,c,Y,X] = sum_{o,p,q} w[o,c,p,q]^2 d2E/da^2[n,o,Y-p,X-q]."""
    k = w.shape[2]
    padded = np.pad(d2a, ((0, 0), (0, 0), (k - 1, k - 1), (k - 1, k - 1)))
    flipped = (w * w)[:, :, ::-1, ::-1]
    return np.einsum("noyxpq,ocpq->ncyx", sliding_window_view(padded, (k, k), axis=(2, 3)), flipped)


def block_sum(x: np.ndarray) -> np.ndarray:
    """Each non-overlapping 2x2 block summed (the subsampling layers' input)."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).sum(axis=(3, 5))


def reference_curvature(p: dict[str, np.ndarray], mask: np.ndarray, x0: np.ndarray) -> dict[str, np.ndarray]:
    w3 = p["c3.weight"] * mask
    a1 = conv(x0, p["c1.weight"]) + p["c1.bias"][None, :, None, None]
    x1 = f(a1)
    a2 = block_sum(x1) * p["s2.coefficient"][None, :, None, None] + p["s2.bias"][None, :, None, None]
    x2 = f(a2)
    a3 = conv(x2, w3) + p["c3.bias"][None, :, None, None]
    x3 = f(a3)
    a4 = block_sum(x3) * p["s4.coefficient"][None, :, None, None] + p["s4.bias"][None, :, None, None]
    x4 = f(a4)
    a5 = conv(x4, p["c5.weight"]) + p["c5.bias"][None, :, None, None]
    x5 = f(a5).reshape(len(x0), -1)
    a6 = x5 @ p["f6.weight"] + p["f6.bias"]

    n = len(x0)
    h = {}
    d2a6 = f_prime(a6) ** 2 * 2.0
    h["f6.weight"] = np.einsum("nj,ni->ji", x5 * x5, d2a6) / n
    h["f6.bias"] = d2a6.sum(axis=0) / n
    d2a5 = (f_prime(a5.reshape(n, -1)) ** 2 * (d2a6 @ (p["f6.weight"] ** 2).T)).reshape(a5.shape)
    h["c5.weight"] = conv_weight_curvature(x4, d2a5, 5) / n
    h["c5.bias"] = d2a5.sum(axis=(0, 2, 3)) / n
    d2a4 = f_prime(a4) ** 2 * conv_input_curvature(d2a5, p["c5.weight"])
    h["s4.coefficient"] = (d2a4 * block_sum(x3 * x3)).sum(axis=(0, 2, 3)) / n
    h["s4.bias"] = d2a4.sum(axis=(0, 2, 3)) / n
    d2x3 = np.repeat(np.repeat(d2a4 * p["s4.coefficient"][None, :, None, None] ** 2, 2, axis=2), 2, axis=3)
    d2a3 = f_prime(a3) ** 2 * d2x3
    h["c3.weight"] = conv_weight_curvature(x2, d2a3, 5) * mask / n
    h["c3.bias"] = d2a3.sum(axis=(0, 2, 3)) / n
    d2a2 = f_prime(a2) ** 2 * conv_input_curvature(d2a3, w3)
    h["s2.coefficient"] = (d2a2 * block_sum(x1 * x1)).sum(axis=(0, 2, 3)) / n
    h["s2.bias"] = d2a2.sum(axis=(0, 2, 3)) / n
    d2x1 = np.repeat(np.repeat(d2a2 * p["s2.coefficient"][None, :, None, None] ** 2, 2, axis=2), 2, axis=3)
    d2a1 = f_prime(a1) ** 2 * d2x1
    h["c1.weight"] = conv_weight_curvature(x0, d2a1, 5) / n
    h["c1.bias"] = d2a1.sum(axis=(0, 2, 3)) / n
    return h


def test_diagonal_hessian_matches_appendix_c_written_out() -> None:
    paddle.seed(3)
    net = create_model("lenet5", init="sqrt")  # larger weights: every layer's curvature matters
    mask = net.c3.mask.numpy().astype(np.float64)
    outside = np.random.default_rng(1).uniform(-0.5, 0.5, mask.shape) * (1 - mask)
    net.c3.weight.set_value((net.c3.weight.numpy() + outside).astype(np.float32))
    patterns = np.random.default_rng(2).uniform(-0.1, 1.175, (2, 1, 32, 32)).astype(np.float32)

    got = diagonal_hessian(net, patterns)
    params = {name: param.numpy().astype(np.float64) for name, param in net.named_parameters()}
    expected = reference_curvature(params, mask, patterns.astype(np.float64))
    names = {name: param.name for name, param in net.named_parameters() if not param.stop_gradient}
    assert set(names) == set(expected)
    for name, internal in names.items():
        value = got[internal].numpy()
        assert value.shape == expected[name].shape, name
        scale = np.abs(expected[name]).max()
        assert scale > 0, name
        np.testing.assert_allclose(value, expected[name], rtol=2e-3, atol=1e-4 * scale, err_msg=name)
    assert np.all(got[names["c3.weight"]].numpy()[mask == 0] == 0)


@pytest.mark.parametrize("layer", ["s2", "s4"])
def test_the_reference_itself_sees_a_subsampling_coefficient(layer: str) -> None:
    """Guard on the reference: doubling a subsampling coefficient changes the curvature of
    everything below it (it enters squared), so the comparison above is not vacuous."""
    paddle.seed(3)
    net = create_model("lenet5", init="sqrt")
    mask = net.c3.mask.numpy().astype(np.float64)
    params = {name: param.numpy().astype(np.float64) for name, param in net.named_parameters()}
    patterns = np.random.default_rng(2).uniform(-0.1, 1.175, (2, 1, 32, 32))
    before = reference_curvature(params, mask, patterns)["c1.bias"]
    params[f"{layer}.coefficient"] = params[f"{layer}.coefficient"] * 2
    after = reference_curvature(params, mask, patterns)["c1.bias"]
    assert not np.allclose(before, after, rtol=0.05)


def test_diagonal_hessian_leaves_the_mode_as_it_found_it() -> None:
    paddle.seed(0)
    net = create_model("lenet5")
    patterns = np.zeros((1, 1, 32, 32), dtype=np.float32)
    net.train()
    diagonal_hessian(net, patterns)
    assert net.training
    net.eval()
    diagonal_hessian(net, patterns)
    assert not net.training


def test_a_layer_without_a_second_derivative_rule_is_named() -> None:
    class WithBatchNorm(paddle.nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.conv = paddle.nn.Conv2D(1, 2, 3)
            self.norm = paddle.nn.BatchNorm2D(2)

        def squashed_layers(self) -> list[object]:
            return [self.conv, self.norm]

    with pytest.raises(TypeError, match="no second-derivative rule for BatchNorm2D"):
        diagonal_hessian(WithBatchNorm(), np.ones((1, 1, 8, 8), dtype=np.float32))


def test_a_fresh_sdlm_steps_with_eta_over_mu_before_its_first_pass() -> None:
    """Before the first curvature estimate h = 0: the step is the first pass's eta (0.0005 in
    the paper, scaled) over mu (0.02), and the state has every parameter's shape."""
    paddle.seed(0)
    net = create_model("lenet5")
    optimizer = SDLM(net.parameters(), eta_scale=0.3)
    assert optimizer.eta == pytest.approx(0.0005 * 0.3)
    state = optimizer.state_dict()
    for p in net.parameters():
        if not p.stop_gradient:
            assert list(state[f"{p.name}_hkk_0"].shape) == list(p.shape)
    before = {p.name: p.numpy().copy() for p in net.parameters()}
    net(paddle.to_tensor(np.ones((1, 1, 32, 32), dtype=np.float32))).sum().backward()
    grads = {p.name: p.grad.numpy().copy() for p in net.parameters() if p.grad is not None}
    optimizer.step()
    for p in net.parameters():
        if p.name in grads:
            expected = before[p.name] - (0.0005 * 0.3 / 0.02) * grads[p.name]
            np.testing.assert_allclose(p.numpy(), expected, rtol=1e-5, atol=1e-8)


def test_eta_follows_the_given_schedule_and_scale() -> None:
    paddle.seed(0)
    net = create_model("lenet5")
    schedule = ((1, 0.25), (2, 0.125))
    optimizer = SDLM(net.parameters(), schedule=schedule, eta_scale=0.5)
    assert optimizer.eta == pytest.approx(0.125)
    sample = np.zeros((2, 1, 32, 32), dtype=np.float32)
    for epoch, eta in ((0, 0.25), (1, 0.125), (2, 0.125), (7, 0.125)):
        optimizer.begin_pass(epoch, net, sample)
        assert optimizer.eta == pytest.approx(eta * 0.5), epoch


def test_state_restores_from_plain_arrays() -> None:
    """A checkpoint hands the curvature back as numpy arrays, not tensors."""
    paddle.seed(0)
    net = create_model("lenet5")
    first = SDLM(net.parameters())
    first.begin_pass(4, net, np.random.default_rng(0).normal(0, 0.5, (3, 1, 32, 32)).astype(np.float32))
    arrays = {k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in first.state_dict().items()}
    second = SDLM(net.parameters())
    second.set_state_dict(arrays)
    assert second.eta == first.eta
    for name, h in first.hessian.items():
        np.testing.assert_array_equal(second.hessian[name].numpy(), h.numpy())


def test_sdlm_keeps_the_networks_float32_when_paddles_default_dtype_is_float64() -> None:
    """A user's `paddle.set_default_dtype("float64")` (set for their own tensors) must not
    change the SDLM state or the curvature of a float32 network: every tensor SDLM makes takes
    the network's dtype, and the curvature is the same as under the float32 default."""
    paddle.seed(3)
    net = create_model("lenet5", init="sqrt")
    patterns = np.random.default_rng(2).uniform(-0.1, 1.175, (2, 1, 32, 32)).astype(np.float32)
    plain = {name: h.numpy() for name, h in diagonal_hessian(net, patterns).items()}
    before = paddle.get_default_dtype()
    paddle.set_default_dtype("float64")
    try:
        optimizer = SDLM(net.parameters())
        curvature = diagonal_hessian(net, patterns)
    finally:
        paddle.set_default_dtype(before)
    for p in net.parameters():
        if not p.stop_gradient:
            assert optimizer.hessian[p.name].dtype == paddle.float32, p.name
            assert optimizer.step_size(p).dtype == np.float32, p.name
            assert curvature[p.name].dtype == paddle.float32, p.name
            np.testing.assert_array_equal(curvature[p.name].numpy(), plain[p.name], err_msg=p.name)
