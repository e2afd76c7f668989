"""`lenet5.train.distributed` in one process: the world read from the launcher's variables,
the shards, and each collective's part on a stand-in for `paddle.distributed` that plays two
workers (`make mutation` runs these; tests/test_distributed.py runs real workers)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lenet5.errors import UserError
from lenet5.train import distributed
from lenet5.train.distributed import (
    SINGLE,
    World,
    agree,
    all_sum,
    average_batch_norm,
    gather_arrays,
    join,
    launched_world,
    lost_worker,
    my_share,
    refuse_sequential,
    sum_tensors,
)

paddle = distributed.paddle
TWO = World(rank=0, size=2, local_size=2, backend="gloo")
OTHER = World(rank=1, size=2, local_size=2, backend="gloo")


def test_shards_are_contiguous_disjoint_and_even() -> None:
    for size in (1, 2, 3, 5):
        for n in (0, 1, 4, 7, 64):
            shards = [World(rank=r, size=size).shard(n) for r in range(size)]
            assert shards[0][0] == 0 and shards[-1][1] == n
            assert all(a[1] == b[0] for a, b in itertools.pairwise(shards))
            sizes = [stop - start for start, stop in shards]
            assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)
    assert World(rank=1, size=3).shard(7) == (3, 5)
    assert World(rank=2, size=3).shard(7) == (5, 7)


def test_world_roles() -> None:
    assert not SINGLE.parallel and SINGLE.is_writer and World(0, 1, 1, 1, "none") == SINGLE
    assert TWO.parallel and TWO.is_writer and not OTHER.is_writer
    assert World(rank=0, size=3, nnodes=2, backend="nccl").describe() == {
        "processes": 3,
        "nnodes": 2,
        "backend": "nccl",
    }


LAUNCH_VARS = (
    "PADDLE_TRAINERS_NUM",
    "PADDLE_TRAINER_ID",
    "PADDLE_LOCAL_SIZE",
    "PADDLE_NNODES",
    "PADDLE_DISTRI_BACKEND",
)


def test_the_launchers_world(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LAUNCH_VARS:
        monkeypatch.delenv(name, raising=False)
    assert launched_world() is SINGLE
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "1")
    assert launched_world() is SINGLE
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "2")
    assert launched_world() == World(rank=0, size=2, local_size=2, nnodes=1, backend="gloo")
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "4")
    assert launched_world() == World(rank=0, size=4, local_size=4, nnodes=1, backend="gloo")
    monkeypatch.setenv("PADDLE_TRAINER_ID", "3")
    monkeypatch.setenv("PADDLE_LOCAL_SIZE", "2")
    monkeypatch.setenv("PADDLE_NNODES", "2")
    monkeypatch.setenv("PADDLE_DISTRI_BACKEND", "nccl")
    assert launched_world() == World(rank=3, size=4, local_size=2, nnodes=2, backend="nccl")
    monkeypatch.setenv("PADDLE_TRAINER_ID", "x")  # not a number: the default
    monkeypatch.setenv("PADDLE_NNODES", "-2")
    assert launched_world() == World(rank=0, size=4, local_size=2, nnodes=1, backend="nccl")
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "two")
    assert launched_world() is SINGLE


def test_join_shares_the_cores_and_starts_paddles_world(monkeypatch: pytest.MonkeyPatch) -> None:
    started = []
    monkeypatch.setattr(paddle.distributed, "init_parallel_env", lambda: started.append(True))
    monkeypatch.delenv("LENET5_THREADS", raising=False)
    join(SINGLE)
    assert started == [] and "LENET5_THREADS" not in distributed.os.environ
    monkeypatch.setattr(distributed.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    join(World(rank=0, size=3, local_size=3))
    assert started == [True] and distributed.os.environ["LENET5_THREADS"] == "2"
    join(World(rank=0, size=16, local_size=16))
    assert distributed.os.environ["LENET5_THREADS"] == "2"  # set by the user (or before): kept
    monkeypatch.delenv("LENET5_THREADS")
    join(World(rank=0, size=16, local_size=16))
    assert distributed.os.environ["LENET5_THREADS"] == "1"  # at least one


def test_join_without_affinity_counts_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paddle.distributed, "init_parallel_env", lambda: None)
    monkeypatch.delenv("LENET5_THREADS", raising=False)
    monkeypatch.delattr(distributed.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(distributed.os, "cpu_count", lambda: 6)
    join(World(rank=0, size=2, local_size=2))
    assert distributed.os.environ["LENET5_THREADS"] == "3"
    monkeypatch.delenv("LENET5_THREADS")
    monkeypatch.setattr(distributed.os, "cpu_count", lambda: None)
    join(World(rank=0, size=2, local_size=1))  # one worker on this node, cores unknown: one
    assert distributed.os.environ["LENET5_THREADS"] == "1"


def test_join_hides_paddles_banner(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setattr(paddle.distributed, "init_parallel_env", lambda: print("FLAGS banner", file=sys.stderr))
    monkeypatch.setenv("LENET5_THREADS", "1")
    join(TWO)
    assert capsys.readouterr() == ("", "")


def test_sdlm_is_refused_only_over_several_processes() -> None:
    refuse_sequential("sdlm", 1)
    refuse_sequential("adam", 4)
    with pytest.raises(UserError) as excinfo:
        refuse_sequential("sdlm", 2)
    assert str(excinfo.value) == (
        "--nproc 2: the 1998 recipe (SDLM) updates after every single pattern, "
        "which cannot be split over processes; train it with one process"
    )


def test_agree_on_rank_zeros_error(monkeypatch: pytest.MonkeyPatch) -> None:
    agree(SINGLE, None)
    agree(SINGLE, "")
    with pytest.raises(UserError, match=r"^out: not empty$"):
        agree(SINGLE, "out: not empty")
    sent = []

    def broadcast(message: list, src: int) -> None:
        sent.append((list(message), src))
        message[0] = "rank 0 says no"

    monkeypatch.setattr(paddle.distributed, "broadcast_object_list", broadcast)
    with pytest.raises(UserError, match=r"^rank 0 says no$"):
        agree(TWO, None)
    assert sent == [([None], 0)]
    with pytest.raises(SystemExit) as excinfo:
        agree(OTHER, "my own")
    assert excinfo.value.code == 2
    monkeypatch.setattr(paddle.distributed, "broadcast_object_list", lambda message, src: None)
    agree(OTHER, None)


def test_my_share_of_a_global_batch() -> None:
    x, y = np.arange(10).reshape(5, 2), np.arange(5)
    assert my_share(SINGLE, x, y)[2] is None and my_share(SINGLE, x, y)[1] is y
    xs, ys, scale = my_share(TWO, x, y)
    assert ys.tolist() == [0, 1, 2] and xs.tolist() == [[0, 1], [2, 3], [4, 5]] and scale == 2 / 5
    xs, ys, scale = my_share(OTHER, x, y)
    assert ys.tolist() == [3, 4] and scale == 2 / 5
    # a batch of one: the second worker gets a stand-in digit that counts for nothing
    xs, ys, scale = my_share(OTHER, x[:1], y[:1])
    assert ys.tolist() == [0] and xs.tolist() == [[0, 1]] and scale == 0.0
    xs, ys, scale = my_share(World(rank=2, size=3), x[:2], y[:2])
    assert ys.tolist() == [0] and xs.tolist() == [[0, 1]] and scale == 0.0


class _Fake:
    """Paddle's collectives as if a second worker held the same values."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        monkeypatch.setattr(paddle.distributed, "all_reduce", self.all_reduce)
        monkeypatch.setattr(paddle.distributed, "all_gather_object", self.all_gather_object)

    def all_reduce(self, tensor) -> None:
        self.calls.append("all_reduce")
        tensor.set_value(tensor * 2)

    def all_gather_object(self, parts: list, obj) -> None:
        self.calls.append("all_gather")
        parts.extend([obj, obj + 100])


def test_all_sum_in_float64(monkeypatch: pytest.MonkeyPatch) -> None:
    assert all_sum(SINGLE, 1.5, 2) == [1.5, 2]
    fake = _Fake(monkeypatch)
    big = 2.0**40 + 1  # exact in float64, not in float32
    assert all_sum(TWO, big, 3) == [2 * big, 6]
    assert fake.calls == ["all_reduce"]


def test_all_sum_keeps_float32_counts_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    # the other worker counted one more: 2**24 + 1 is exact in float64, not in float32
    monkeypatch.setattr(paddle.distributed, "all_reduce", lambda tensor: tensor.set_value(tensor + 1))
    assert all_sum(TWO, np.float32(2**24)) == [2**24 + 1]


def test_sum_tensors_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = paddle.to_tensor([1.0, 2.0]), paddle.to_tensor([3.0])
    sum_tensors(SINGLE, a, b)
    assert a.numpy().tolist() == [1.0, 2.0]
    fake = _Fake(monkeypatch)
    sum_tensors(TWO, a, b)
    assert a.numpy().tolist() == [2.0, 4.0] and b.numpy().tolist() == [6.0]
    assert fake.calls == ["all_reduce", "all_reduce"]


def test_gather_arrays_in_rank_order(monkeypatch: pytest.MonkeyPatch) -> None:
    part = np.array([1, 2])
    assert gather_arrays(SINGLE, part) is part
    _Fake(monkeypatch)
    assert gather_arrays(TWO, part).tolist() == [1, 2, 101, 102]


def test_batch_norm_statistics_are_averaged(monkeypatch: pytest.MonkeyPatch) -> None:
    from lenet5.models import create_model

    model = create_model("seed")
    norms = [layer for layer in model.sublayers() if isinstance(layer, paddle.nn.layer.norm._BatchNormBase)]
    assert norms
    for layer in norms:
        layer._mean.set_value(paddle.full(layer._mean.shape, 3.0))
        layer._variance.set_value(paddle.full(layer._variance.shape, 5.0))
    weights = {name: p.numpy().copy() for name, p in model.named_parameters()}
    average_batch_norm(SINGLE, model)
    assert float(norms[0]._mean.numpy()[0]) == 3.0
    fake = _Fake(monkeypatch)
    average_batch_norm(World(rank=0, size=2), model)  # both workers hold 3 and 5: the mean is that
    assert all(np.allclose(layer._mean.numpy(), 3.0) and np.allclose(layer._variance.numpy(), 5.0) for layer in norms)
    assert fake.calls == ["all_reduce"] * 2 * len(norms)
    assert all(np.array_equal(p.numpy(), weights[name]) for name, p in model.named_parameters())


def test_a_lost_worker_is_one_line() -> None:
    assert lost_worker(RuntimeError("out of memory")) is None
    text = "Traceback...\n[enforce fail] gloo: Connection closed by peer [pair_rank = 1]\n"
    assert lost_worker(RuntimeError(text)) == (
        "lost contact with worker rank 1 during training "
        "([enforce fail] gloo: Connection closed by peer [pair_rank = 1])"
    )
    assert lost_worker(RuntimeError("NCCL error: unhandled system error")) == (
        "lost contact with another worker during training (NCCL error: unhandled system error)"
    )
    assert lost_worker(RuntimeError("nccl timeout")).startswith("lost contact with another worker")
    long = "gloo " + "x" * 300
    assert lost_worker(RuntimeError(long)) == f"lost contact with another worker during training ({long[:160]})"
    assert lost_worker(RuntimeError("gloo pair_rank=12 closed")).startswith("lost contact with worker rank 12 ")
