"""The custom CPU operators of lenet5.kernels against Paddle's own ops, forward and backward."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lenet5 import kernels
from lenet5.runtime import import_paddle

paddle = import_paddle()
F = paddle.nn.functional
A, S = 1.7159, 2.0 / 3.0


@pytest.fixture(autouse=True)
def several_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kernel test runs on at least two threads, whatever the machine: a bug in how
    threads' shares of a batch are combined shows only when there are several."""
    from lenet5.kernels import thread_count

    if thread_count() < 2:
        monkeypatch.setenv("LENET5_THREADS", "2")


@pytest.fixture(autouse=True)
def require_kernels() -> None:
    if not kernels.available():
        if os.environ.get("LENET5_REQUIRE_KERNELS") == "1":
            pytest.fail(f"fast kernels required but unavailable: {kernels.unavailable_reason()}")
        pytest.skip(f"fast kernels unavailable: {kernels.unavailable_reason()}")


def _reference_conv_pool_relu(x, w, b):
    return F.relu(F.max_pool2d(F.conv2d(x, w, b), 2, 2))  # the textbook order


def _reference_conv_bias_squash(x, w, b):
    return A * paddle.tanh(S * F.conv2d(x, w, b))


def _reference_subsample_squash(x, c, b):
    summed = F.avg_pool2d(x, 2, 2) * 4.0
    return A * paddle.tanh(S * (summed * c.reshape([1, -1, 1, 1]) + b.reshape([1, -1, 1, 1])))


def _values_and_grads(fn, inputs: list[np.ndarray], needs_grad: list[bool], upstream: np.ndarray):
    tensors = []
    for array, grad in zip(inputs, needs_grad, strict=True):
        t = paddle.to_tensor(array)
        t.stop_gradient = not grad
        tensors.append(t)
    out = fn(*tensors)
    paddle.autograd.backward([out], [paddle.to_tensor(upstream)])
    return out.numpy(), [t.grad.numpy() if grad else None for t, grad in zip(tensors, needs_grad, strict=True)]


def _compare(fast, reference, inputs, needs_grad, out_shape, seed: int = 0) -> None:
    upstream = np.random.default_rng(seed).standard_normal(out_shape).astype(np.float32)
    got, got_grads = _values_and_grads(fast, inputs, needs_grad, upstream)
    want, want_grads = _values_and_grads(reference, inputs, needs_grad, upstream)
    assert got.shape == want.shape == tuple(out_shape)
    # Relative to each tensor's largest entry: a few float32 roundings of sums of up to 500 terms.
    for g, w in zip([got, *got_grads], [want, *want_grads], strict=True):
        if w is not None:
            scale = np.abs(w).max()
            assert scale > 0
            np.testing.assert_allclose(g / scale, w / scale, atol=2e-6)


def _rng_arrays(seed: int, *shapes: tuple[int, ...], scale: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * scale).astype(np.float32) for s in shapes]


@pytest.mark.parametrize(
    ("n", "c", "h", "w", "o", "input_grad"),
    [(1, 3, 9, 11, 4, True), (2, 2, 7, 8, 3, True), (2, 2, 9, 8, 3, False)],
)
def test_convolution_matches_paddle_on_any_shape(n, c, h, w, o, input_grad) -> None:
    """The shared convolution on non-square and odd planes, single images, with and without
    an input gradient (through conv_bias_squash). The networks' own shapes are in the tests
    of each operator below."""
    x, wt, b = _rng_arrays(n + c, (n, c, h, w), (o, c, 5, 5), (o,), scale=0.3)
    fast = lambda x, w, b: kernels.conv_bias_squash(x, w, b, A, S)  # noqa: E731
    _compare(fast, _reference_conv_bias_squash, [x, wt, b], [input_grad, True, True], (n, o, h - 4, w - 4))


@pytest.mark.parametrize(
    ("n", "c", "h", "o", "input_grad"),
    [(4, 1, 28, 20, False), (3, 20, 12, 50, True), (2, 3, 11, 5, True)],  # 11 -> conv 7 -> pool 3 (floor)
)
def test_conv_pool_relu_matches_textbook_order(n, c, h, o, input_grad) -> None:
    x, wt, b = _rng_arrays(n * h, (n, c, h, h), (o, c, 5, 5), (o,))
    pooled = (h - 4) // 2
    _compare(
        kernels.conv_pool_relu, _reference_conv_pool_relu, [x, wt, b], [input_grad, True, True], (n, o, pooled, pooled)
    )


@pytest.mark.parametrize(
    ("n", "c", "h", "o", "input_grad"), [(3, 1, 32, 6, False), (2, 6, 14, 16, True), (4, 16, 5, 120, True)]
)
def test_conv_bias_squash_matches_paddle(n, c, h, o, input_grad) -> None:
    x, wt, b = _rng_arrays(o, (n, c, h, h), (o, c, 5, 5), (o,), scale=0.3)
    fast = lambda x, w, b: kernels.conv_bias_squash(x, w, b, A, S)  # noqa: E731
    _compare(fast, _reference_conv_bias_squash, [x, wt, b], [input_grad, True, True], (n, o, h - 4, h - 4))


@pytest.mark.parametrize(("n", "c", "h", "input_grad"), [(3, 6, 28, True), (2, 16, 10, True), (2, 4, 9, False)])
def test_subsample_squash_matches_paddle(n, c, h, input_grad) -> None:
    x, coef, b = _rng_arrays(h, (n, c, h, h), (c,), (c,), scale=0.5)
    fast = lambda x, c, b: kernels.subsample_squash(x, c, b, A, S)  # noqa: E731
    _compare(fast, _reference_subsample_squash, [x, coef, b], [input_grad, True, True], (n, c, h // 2, h // 2))


def test_masked_c3_weights_still_get_exactly_zero_gradient() -> None:
    """C3's partial connections survive the fused path: masked weights get no gradient at all."""
    from lenet5.models import create_model

    net = create_model("lenet5")
    net.train()
    out = net(paddle.to_tensor(_rng_arrays(1, (4, 1, 32, 32))[0]))
    out.sum().backward()
    grad = net.c3.weight.grad.numpy()
    mask = net.c3.mask.numpy()
    assert np.all(grad[mask == 0] == 0.0)
    assert np.abs(grad[mask == 1]).max() > 0


def test_results_do_not_depend_on_thread_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Weight gradients are summed per thread and then in a fixed order: repeat runs with the
    same thread count are bit-identical (what resume-equivalence relies on)."""
    monkeypatch.setenv("LENET5_THREADS", "2")
    x, wt, b = _rng_arrays(3, (16, 20, 12, 12), (50, 20, 5, 5), (50,))
    upstream = _rng_arrays(4, (16, 50, 4, 4))[0]
    first = _values_and_grads(kernels.conv_pool_relu, [x, wt, b], [True, True, True], upstream)
    for _ in range(3):
        again = _values_and_grads(kernels.conv_pool_relu, [x, wt, b], [True, True, True], upstream)
        np.testing.assert_array_equal(again[0], first[0])
        np.testing.assert_array_equal(again[1][1], first[1][1])


def test_static_graphs_and_exports_use_paddle_ops_only(trained_run) -> None:
    """The exported model must load anywhere Paddle does, without this project's library."""
    graph = (trained_run / "model" / "inference.json").read_text()
    assert "lenet5_" not in graph
    assert "conv2d" in graph


def test_disabled_by_environment_falls_back_to_paddle() -> None:
    code = "from lenet5 import kernels; import json; print(json.dumps(kernels.describe()))"
    env = {**os.environ, "LENET5_KERNELS": "0"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["conv2d"] == "paddle"
    assert "LENET5_KERNELS" in info["reason"]


def test_a_failed_build_is_reported_not_fatal(tmp_path) -> None:
    """No compiler: one line on stderr, and the model still trains on Paddle's ops."""
    code = (
        "from lenet5 import kernels\n"
        "from lenet5.runtime import import_paddle\n"
        "paddle = import_paddle()\n"
        "x = paddle.ones([2, 1, 8, 8]); w = paddle.ones([3, 1, 5, 5]); b = paddle.zeros([3])\n"
        "print(list(kernels.conv_bias_squash(x, w, b, 1.0, 1.0).shape), kernels.available())\n"
    )
    env = {**os.environ, "CXX": str(tmp_path / "no-such-compiler"), "LENET5_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[2, 3, 4, 4] False"
    assert "fast CPU kernels unavailable" in done.stderr
    assert "Traceback" not in done.stderr
    assert not any((tmp_path / "cache").rglob("*.so"))  # nothing half-built left behind
