"""`lenet5 serve`: the drawing page and the HTTP API (lenet5.serve)."""

from __future__ import annotations

import argparse
import errno
import socket

from lenet5.cli.common import add_model_options, positive_float, positive_int
from lenet5.errors import UserError
from lenet5.serve.limits import ServerLimits

DESCRIPTION = (
    "Serve the drawing page at / and the API (POST /api/predict, POST /api/read, GET /api/model, GET /healthz; "
    "OpenAPI docs at /docs). Binds to 127.0.0.1 unless told otherwise."
)


# (flag, ServerLimits field, type, metavar, help with {} for the default)
LIMIT_FLAGS = [
    ("--max-bytes", "max_bytes", positive_int, "N", "request body limit (default {:,} bytes)"),
    (
        "--max-pixels",
        "max_pixels",
        positive_int,
        "N",
        "largest picture decoded, in pixels (default {:,}: a 12 MP photo fits)",
    ),
    (
        "--max-concurrent",
        "max_concurrent",
        positive_int,
        "N",
        "pictures decoded at once (default {}: one fewer than the cores); up to --max-queue more wait, "
        "beyond that 503 with Retry-After",
    ),
    ("--max-queue", "max_queue", int, "N", "requests that may wait for a decoding slot (default {})"),
    (
        "--body-timeout",
        "body_timeout",
        positive_float,
        "S",
        "seconds a client may take to send a request body; slower gets 408 (default {:g})",
    ),
    (
        "--header-timeout",
        "header_timeout",
        positive_float,
        "S",
        "seconds a connection may take to send a request's headers; slower is closed (default {:g})",
    ),
    (
        "--request-timeout",
        "request_timeout",
        positive_float,
        "S",
        "seconds to answer a picture once it is received; slower gets 503 (default {:g})",
    ),
    (
        "--max-connections",
        "max_connections",
        positive_int,
        "N",
        "open connections at once; more are closed as they come (default {})",
    ),
]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("serve", help="browser demo and HTTP API", description=DESCRIPTION)
    add_model_options(parser, "the shipped seed model; /api/read uses the shipped reader model")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    limits = ServerLimits()  # the defaults are ServerLimits' own: declared once, shown here
    for flag, field, kind, metavar, text in LIMIT_FLAGS:
        default = getattr(limits, field)
        parser.add_argument(flag, type=kind, default=default, metavar=metavar, help=text.format(default))


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is announced, so a taken port is one
    clear line and not a "Serving on ..." followed by uvicorn's error."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"port {port} on {host} is already in use; choose another with --port") from None
        if exc.errno == errno.EACCES:
            raise UserError(f"no permission to listen on port {port}; use a port above 1023") from None
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from lenet5.serve.app import create_app
    from lenet5.serve.protocol import raise_file_limit, server_config

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1-65535, got {args.port}")
    listener = _bind(args.host, args.port)  # before loading the model: a taken port costs nothing
    limits = ServerLimits(**{field: getattr(args, field) for _, field, *_ in LIMIT_FLAGS})
    raise_file_limit()
    app = create_app(args.model, args.backend, limits)
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"Serving model {app.state.service.info['model']} ({app.state.service.folder}) on "
        f"http://{shown_host}:{args.port}/  (API docs: /docs)",
        flush=True,
    )
    server = uvicorn.Server(server_config(app))
    server.run(sockets=[listener])
    return 0
