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
from lenet5.train.sdlm import diagonal_hessian

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
