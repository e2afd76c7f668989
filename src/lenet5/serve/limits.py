"""What one request may cost: body size and time, decoded pixels, and how many pictures are
decoded at once or may wait for it (beyond that, 503 with Retry-After)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class ServerLimits:
    """What one request may cost. `lenet5 serve --help` lists the flags for each."""

    max_bytes: int = DEFAULT_MAX_BYTES  # request body
    max_pixels: int = 16_000_000  # decoded picture (a 12 MP phone photo fits; the CLI allows 50 MP)
    # Pictures decoded at once: decoding is CPU-bound, and one core is left to the event loop
    # (on 2 cores, 2 slots let hostile pictures push /healthz's p99 to 75 ms; 1 slot: 37 ms).
    max_concurrent: int = field(default_factory=lambda: max(1, (os.cpu_count() or 2) - 1))
    max_queue: int = 16  # requests waiting for a decoding slot; beyond: 503
    body_timeout: float = 10.0  # seconds to receive a whole body; beyond: 408
    request_timeout: float = 30.0  # seconds to answer once the body is in; beyond: 503 (the work itself is bounded)
    header_timeout: float = 10.0  # seconds a connection may take to send a request's headers; beyond: closed
    max_connections: int = 2048  # open connections; one more is closed at once


class Busy(Exception):
    """Every decoding slot and every queue place is taken."""


class DecodeSlots:
    """At most `running` decodes at once, at most `queued` more waiting; others are refused.

    Thread-based (a counter under a lock, a semaphore taken in the worker thread), so it
    works whatever event loop runs the app, including a test client's."""

    def __init__(self, running: int, queued: int) -> None:
        self._running = threading.BoundedSemaphore(running)
        self._limit = running + queued
        self._admitted = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        with self._lock:
            if self._admitted >= self._limit:
                raise Busy
            self._admitted += 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    def run(self, work: Any, *args: Any) -> Any:
        """Called in a worker thread: wait for a slot, then do the work."""
        with self._running:
            return work(*args)
