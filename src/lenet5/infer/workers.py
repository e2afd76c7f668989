"""Working through many files on every core: worker processes, each with the model loaded
once, results handed back in the input's order as soon as they and all before them are done.

Why processes and not threads: reading a picture (decoding, finding the sheet, its writing,
the digit) is mostly Python and numpy in small steps, so threads would queue on the GIL;
the model call itself is a small share of a picture's time (bench/folder_throughput.py).
Workers are started with `spawn`, never `fork`: this process may already hold ONNX
Runtime's or Paddle's threads, which a forked child would inherit in an unknown state.

Memory stays bounded whatever the folder's size: each worker reads one picture at a time,
and at most IN_FLIGHT chunks per worker are handed out ahead of the results printed.
"""

from __future__ import annotations

import math
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from lenet5.errors import UserError
from lenet5.infer.backends import Backend, load_backend

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

IN_FLIGHT = 2  # chunks per worker: one being read, one waiting, so no worker idles between chunks
CHUNK_FILES = 16  # files per chunk at most: small pictures share one hand-over (and one model call)
CHUNK_BYTES = 1 << 20  # ... up to about this many bytes of files; a phone photo goes alone


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to open the same model the main process opened."""

    model: str | Path | None
    backend: str

    def load(self) -> Backend:
        return load_backend(self.model, self.backend)


@dataclass(frozen=True)
class Task(Generic[S, T, R]):
    """A worker's job, as module-level functions (a spawned worker imports them by name):
    `setup` runs once per worker, `work` turns a chunk of items into one result per item."""

    setup: Callable[[], S]
    work: Callable[[S, list[T]], list[R]]


def chunks(files: Sequence[Path], workers: int) -> list[list[int]]:
    """Indices of `files`, grouped: up to CHUNK_FILES files or about CHUNK_BYTES of them, and
    fewer when there are few files, so that every worker gets some."""
    most = max(1, min(CHUNK_FILES, math.ceil(len(files) / (workers * IN_FLIGHT))))
    groups: list[list[int]] = []
    chunk: list[int] = []
    size = 0
    for i, path in enumerate(files):
        try:
            nbytes = path.stat().st_size
        except OSError:  # a missing file is reported by the worker that reads it
            nbytes = 0
        if chunk and (len(chunk) >= most or size + nbytes > CHUNK_BYTES):
            groups.append(chunk)
            chunk, size = [], 0
        chunk.append(i)
        size += nbytes
    if chunk:
        groups.append(chunk)
    return groups


_state: list[Any] = []  # in a worker: what its task's setup made (the model, loaded once)


def _start(task: Task[Any, Any, Any], parent: int) -> None:
    # Ctrl-C reaches every process of the terminal's group; the main process alone decides
    # what it means (stop handing out work), so a worker never prints a traceback for it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(parent)
    _state[:] = [task.setup()]


def _die_with(parent: int) -> None:
    """A worker whose main process was killed (kill -9, `timeout`'s SIGTERM) would wait for
    work forever: on Linux the kernel is asked to end it with its parent."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before that was asked
        os._exit(1)


def _run(task: Task[Any, T, R], items: list[T]) -> list[R]:
    return task.work(_state[0], items)


def on_workers(
    work: Callable[[Any, list[T]], list[R]],
    items: Sequence[T],
    files: Sequence[Path],
    workers: int,
    model: ModelSpec | None,
) -> Iterator[R] | None:
    """`work(backend, chunk of items)` over `items` (one per file of `files`) on `workers`
    processes, each opening `model` once, results in the items' order (ordered_map); None
    when one process is asked for or the files make fewer than two chunks: the caller's
    plain loop, the reference, runs instead."""
    groups = chunks(files, workers) if workers > 1 else []
    if min(workers, len(groups)) <= 1:
        return None
    if model is None:
        raise ValueError("workers > 1 needs the model's ModelSpec")
    return ordered_map(Task(model.load, work), items, groups, min(workers, len(groups)))


def ordered_map(task: Task[Any, T, R], items: Sequence[T], groups: Sequence[list[int]], workers: int) -> Iterator[R]:
    """`task.work` over `items` on `workers` processes, chunked as `groups` says (lists of
    indices, in order); one result per item, in the items' order, each yielded as soon as
    it and all before it are done."""
    # Imported here: `lenet5 predict one.png` never starts a pool and should not pay for it.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(task, os.getpid()),
    )
    pending: deque[Future[list[R]]] = deque()
    todo = iter(groups)

    def hand_out() -> None:
        group = next(todo, None)
        if group is not None:
            pending.append(pool.submit(_run, task, [items[i] for i in group]))

    try:
        # Workers are started by these first submissions; SIGINT is blocked meanwhile so a
        # spawned interpreter begins life with it blocked (it inherits the mask) and a
        # Ctrl-C while it imports never reaches it; this process gets it when unblocked.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for _ in range(workers * IN_FLIGHT):
                hand_out()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        while pending:
            results = pending.popleft().result()
            hand_out()
            yield from results
    except BrokenProcessPool:
        raise UserError("a worker process stopped unexpectedly (out of memory?); try --workers 1") from None
    finally:
        # Ctrl-C, a closed pipe or an error: nothing more is started, and the chunks being
        # read (a few pictures) are let finish so no worker is killed while writing a file.
        pool.shutdown(wait=True, cancel_futures=True)
