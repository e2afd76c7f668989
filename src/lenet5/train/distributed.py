"""Data-parallel training inside one worker: who am I, which digits are mine, and the few
collective operations the loop needs. All communication is Paddle's own
(`paddle.distributed`: gloo on CPUs, NCCL on GPUs); the processes are started by
`paddle.distributed.launch` (lenet5/train/launcher.py does that for `--nproc N`).

The semantics, the same for any number of workers:
- the global batch (`--batch-size`) is the single-process batch, cut into one contiguous
  shard per worker out of the same seeded permutation, so workers see disjoint digits;
- each worker's loss is its per-sample sum scaled by world/global_batch, so the gradient
  `paddle.DataParallel` averages is exactly the single-process mean gradient, even when
  the batch does not split evenly;
- batch-norm statistics are per worker during an epoch (as PyTorch DDP without
  SyncBatchNorm: Paddle's SyncBatchNorm is GPU-only); at the end of each epoch the running
  mean and variance are averaged over the workers, so every worker holds the model that
  rank 0 evaluates, checkpoints and exports.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from lenet5.errors import UserError
from lenet5.runtime import import_paddle

paddle = import_paddle()


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_size: int = 1  # workers on this node
    nnodes: int = 1
    backend: str = "none"

    @property
    def parallel(self) -> bool:
        return self.size > 1

    @property
    def is_writer(self) -> bool:
        """Rank 0 alone writes the run directory and prints."""
        return self.rank == 0

    def shard(self, n: int) -> tuple[int, int]:
        """This worker's [start, stop) of n items: contiguous, sizes differ by at most one."""
        base, extra = divmod(n, self.size)
        start = self.rank * base + min(self.rank, extra)
        return start, start + base + (self.rank < extra)

    def describe(self) -> dict[str, Any]:
        return {"processes": self.size, "nnodes": self.nnodes, "backend": self.backend}


SINGLE = World()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else default


def launched_world() -> World:
    """The world paddle.distributed.launch describes in this process's environment
    (a single process when there is no launcher)."""
    size = _env_int("PADDLE_TRAINERS_NUM", 1)
    if size <= 1:
        return SINGLE
    return World(
        rank=_env_int("PADDLE_TRAINER_ID", 0),
        size=size,
        local_size=_env_int("PADDLE_LOCAL_SIZE", size),
        nnodes=_env_int("PADDLE_NNODES", 1),
        backend=os.environ.get("PADDLE_DISTRI_BACKEND", "gloo"),
    )


def join(world: World) -> None:
    """Join the other workers (blocks until all of them are up). The CPU kernels get this
    worker's share of the cores, unless LENET5_THREADS says otherwise."""
    if not world.parallel:
        return
    if not os.environ.get("LENET5_THREADS"):
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        os.environ["LENET5_THREADS"] = str(max(1, cpus // world.local_size))
    # init_parallel_env lists every non-default Paddle flag on stderr, in a banner per worker.
    with contextlib.redirect_stderr(io.StringIO()):
        paddle.distributed.init_parallel_env()


def refuse_sequential(optimizer: str, world_size: int) -> None:
    if optimizer == "sdlm" and world_size > 1:
        raise UserError(
            f"--nproc {world_size}: the 1998 recipe (SDLM) updates after every single pattern, "
            "which cannot be split over processes; train it with one process"
        )


def agree(world: World, error: str | None) -> None:
    """Every worker raises rank 0's error, or none does: a refusal on rank 0 (say, a
    non-empty --out) must not leave the others waiting for it in a collective."""
    if not world.parallel:
        if error:
            raise UserError(error)
        return
    message = [error]
    paddle.distributed.broadcast_object_list(message, src=0)
    if message[0]:
        if world.is_writer:
            raise UserError(message[0])
        raise SystemExit(2)  # rank 0 says why; the others leave quietly


def my_share(world: World, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float | None]:
    """This worker's shard of a global batch and its loss scale (None: one process, the mean).

    A batch shorter than the world leaves some workers nothing; they still take part in the
    gradient all-reduce, with one stand-in digit and scale 0, so it contributes nothing."""
    if not world.parallel:
        return x, y, None
    start, stop = world.shard(len(y))
    if start == stop:
        return x[:1], y[:1], 0.0
    return x[start:stop], y[start:stop], world.size / len(y)


def all_sum(world: World, *values: float) -> list[float]:
    """Sums of plain numbers over the workers (in float64: counts stay exact)."""
    if not world.parallel:
        return list(values)
    tensor = paddle.to_tensor(np.array(values, dtype=np.float64))
    paddle.distributed.all_reduce(tensor)
    return tensor.numpy().tolist()


def sum_tensors(world: World, *tensors: Any) -> None:
    """Sum tensors over the workers, in place."""
    if world.parallel:
        for tensor in tensors:
            paddle.distributed.all_reduce(tensor)


def gather_arrays(world: World, array: np.ndarray) -> np.ndarray:
    """Concatenate each worker's array in rank order (their shards, put back together)."""
    if not world.parallel:
        return array
    parts: list[Any] = []
    paddle.distributed.all_gather_object(parts, array)
    return np.concatenate(parts)


def average_batch_norm(world: World, model: Any) -> None:
    """Replace every batch-norm layer's running mean and variance with the workers' average."""
    if not world.parallel:
        return
    for layer in model.sublayers():
        if isinstance(layer, paddle.nn.layer.norm._BatchNormBase):
            for buffer in (layer._mean, layer._variance):
                paddle.distributed.all_reduce(buffer)
                buffer.set_value(buffer / world.size)


def lost_worker(exc: BaseException) -> str | None:
    """If `exc` is a collective failing because a peer went away, a one-line account of it."""
    text = str(exc)
    if "gloo" not in text and "NCCL" not in text and "nccl" not in text:
        return None
    peer = re.search(r"pair_rank\s*=\s*(\d+)", text)
    who = f"worker rank {peer.group(1)}" if peer else "another worker"
    return f"lost contact with {who} during training ({text.strip().splitlines()[-1][:160]})"
