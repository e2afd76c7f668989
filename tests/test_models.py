from __future__ import annotations

import numpy as np
import pytest

from lenet5.errors import UserError
from lenet5.models import create_model, get_spec
from lenet5.runtime import import_paddle
from lenet5.store import checkpoint

paddle = import_paddle()


def test_seed_network_shapes_and_parameter_count() -> None:
    net = create_model("seed")
    out = net(paddle.zeros([3, 1, 28, 28]))
    assert out.shape == [3, 10]
    trainable = sum(int(np.prod(p.shape)) for p in net.parameters() if not p.stop_gradient)
    # conv1 20*(25+1) + bn 2*20 + conv2 50*(20*25+1) + fc 800*10+10
    assert trainable == 520 + 40 + 25050 + 8010
    assert get_spec("seed").normalization == "seed"


def test_unknown_model() -> None:
    with pytest.raises(UserError, match="unknown model"):
        create_model("vgg")


def test_checkpoint_restores_optimizer_into_differently_named_parameters(tmp_path) -> None:
    """Paddle keys optimizer state by internal names that change with each model built in a process."""
    paddle.seed(0)
    first = create_model("seed")
    opt_first = paddle.optimizer.Adam(1e-3, parameters=first.parameters())
    x, y = paddle.randn([8, 1, 28, 28]), paddle.randint(0, 10, [8])
    for _ in range(2):
        paddle.nn.functional.cross_entropy(first(x), y).backward()
        opt_first.step()
        opt_first.clear_grad()
    checkpoint.save(tmp_path / "c.npz", first, opt_first, {"note": "x"})

    second = create_model("seed")
    assert [p.name for p in second.parameters()] != [p.name for p in first.parameters()]
    opt_second = paddle.optimizer.Adam(1e-3, parameters=second.parameters())
    assert checkpoint.load(tmp_path / "c.npz", second, opt_second)["note"] == "x"
    for net, opt in ((first, opt_first), (second, opt_second)):
        paddle.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        opt.clear_grad()
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_checkpoint_for_another_model_is_rejected(tmp_path) -> None:
    net = create_model("seed")
    checkpoint.save(tmp_path / "c.npz", net, None, {})
    other = paddle.nn.Linear(3, 3)
    with pytest.raises(UserError, match="does not match"):
        checkpoint.load(tmp_path / "c.npz", other)


@pytest.mark.parametrize(("name", "loss_name", "norm"), [("seed", "cross_entropy", "seed"), ("lenet5", "map", "paper")])
def test_fast_path_equals_textbook_order_and_trains_the_same(
    name: str, loss_name: str, norm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path (seed: bias and ReLU after the pool; both: the fused CPU operators of
    lenet5.kernels) computes the same function as the layer-by-layer textbook order, and
    its training trajectory matches step for step on real digits. Not bit for bit: the
    kernels sum the convolutions in another order (oneDNN's GEMM instead of Paddle's)."""
    import copy

    from conftest import DATA_DIR
    from lenet5.data import mnist
    from lenet5.data.normalize import NORMALIZATIONS
    from lenet5.models.registry import reference_path
    from lenet5.train.losses import get_loss
    from lenet5.train.step import train_step

    data = mnist.load(DATA_DIR)
    x, y = NORMALIZATIONS[norm](data.train_images[:640]), data.train_labels[:640]
    paddle.seed(0)
    fused = create_model(name)
    plain = copy.deepcopy(fused)
    plain.fused = False
    assert fused.fused is True
    from lenet5 import kernels

    # The two paths must really run different code. Their outputs can agree bit for bit
    # (on Intel CPUs both GEMMs sum in the same order), so count the custom-op calls instead.
    calls: list[str] = []
    real_run = kernels._run
    monkeypatch.setattr(kernels, "_run", lambda op, *a, **k: calls.append(op) or real_run(op, *a, **k))
    with paddle.no_grad():
        fused.eval()
        a = fused(paddle.to_tensor(x[:64])).numpy()
        fused_calls = len(calls)
        with reference_path(fused):
            b = fused(paddle.to_tensor(x[:64])).numpy()
    assert fused_calls >= 2 or not _kernels_in_use()
    assert len(calls) == fused_calls  # the textbook order calls no custom operator
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    fused.train()
    plain.train()
    loss_fn = get_loss(loss_name)
    opt_fused = paddle.optimizer.Adam(1e-3, parameters=fused.parameters())
    opt_plain = paddle.optimizer.Adam(1e-3, parameters=plain.parameters())
    losses = []
    for i in range(0, 640, 64):
        pair = []
        for net, opt in ((fused, opt_fused), (plain, opt_plain)):
            per_sample, _, _ = train_step(net, opt, loss_fn, x[i : i + 64], y[i : i + 64])
            pair.append(per_sample.mean().item())
        losses.append(pair)
    losses = np.array(losses)
    assert losses[-1, 0] < losses[0, 0]  # it is learning
    np.testing.assert_allclose(losses[:, 0], losses[:, 1], rtol=1e-4)
    for p, q in zip(fused.parameters(), plain.parameters(), strict=True):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-3, atol=1e-5)


def _kernels_in_use() -> bool:
    from lenet5 import kernels

    return kernels.available()
