"""The server's connections, bounded: what uvicorn's HTTP/1.1 protocol leaves open.

uvicorn closes an idle keep-alive connection after a response, but a connection that never
finishes its first request's headers (slowloris: "GET / HTTP/1.1\\r\\nHost: x\\r\\n" and
then silence) stays open for ever, and enough of them exhaust the process's file
descriptors: the server then accepts nothing, and asyncio logs a traceback per refused
connection. So:

- a connection must deliver a request's headers within `header_timeout` seconds, from when
  it opens or its last response ends; otherwise it is closed;
- at most `max_connections` are open at once; one more is closed as soon as it is accepted;
- the file-descriptor limit is raised to the hard limit, so that cap is reached first;
- asyncio's own errors (a refused accept, a broken transport) are logged as one line, at
  most once a second, never as a traceback per connection.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("lenet5.serve")


class GuardedH11Protocol(H11Protocol):
    """H11Protocol with a time limit on headers and a cap on open connections."""

    header_timeout = 10.0
    max_connections = 2048

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        if len(self.connections) > self.max_connections:
            transport.abort()  # one too many: closed at once, nothing read or written
            return
        self._await_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # a request's headers have arrived
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_headers()  # the next request's headers are held to the same limit

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if getattr(self, "_header_timer", None) is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.abort()


def guarded_protocol(header_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """The protocol class for uvicorn.Config(http=...), with these limits."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout": header_timeout, "max_connections": max_connections},
    )


def server_config(app: Any, **where: Any) -> Any:
    """uvicorn's configuration for `app`, with the connection limits of `app.state.limits`:
    the one place the CLI and the tests take it from."""
    import uvicorn

    limits = app.state.limits
    protocol = guarded_protocol(limits.header_timeout, limits.max_connections)
    return uvicorn.Config(app, log_level="warning", http=protocol, timeout_keep_alive=5, **where)


def raise_file_limit() -> int:
    """Raise this process's open-file limit to its hard limit; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


class OneLineErrors:
    """An asyncio exception handler: each error as one log line, at most one a second."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.last = 0.0
        self.dropped = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            self.dropped += 1
            return
        error = context.get("exception")
        reason = f"{type(error).__name__}: {error}" if error is not None else ""
        more = f" ({self.dropped} more since the last line)" if self.dropped else ""
        log.warning("%s %s%s", context.get("message", "event loop error"), reason, more)
        self.last, self.dropped = now, 0
