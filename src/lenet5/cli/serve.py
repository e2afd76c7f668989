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


def add_parser(commands: argparse._SubParsersAction) -> None:
    # The defaults are ServerLimits' own: declared once, shown here.
    limits = ServerLimits()
    parser = commands.add_parser("serve", help="browser demo and HTTP API", description=DESCRIPTION)
    add_model_options(parser, "the shipped seed model; /api/read uses the shipped reader model")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--max-bytes",
        type=positive_int,
        default=limits.max_bytes,
        metavar="N",
        help=f"request body limit (default {limits.max_bytes:,} bytes)",
    )
    parser.add_argument(
        "--max-pixels",
        type=positive_int,
        default=limits.max_pixels,
        metavar="N",
        help=f"largest picture decoded, in pixels (default {limits.max_pixels:,}: a 12 MP photo fits)",
    )
    parser.add_argument(
        "--max-concurrent",
        type=positive_int,
        default=limits.max_concurrent,
        metavar="N",
        help=f"pictures decoded at once (default {limits.max_concurrent}); up to --max-queue more wait, "
        "beyond that 503 with Retry-After",
    )
    parser.add_argument(
        "--max-queue",
        type=int,
        default=limits.max_queue,
        metavar="N",
        help=f"requests that may wait for a decoding slot (default {limits.max_queue})",
    )
    parser.add_argument(
        "--body-timeout",
        type=positive_float,
        default=limits.body_timeout,
        metavar="S",
        help=f"seconds a client may take to send a request body; slower gets 408 (default {limits.body_timeout:g})",
    )
    parser.add_argument(
        "--header-timeout",
        type=positive_float,
        default=limits.header_timeout,
        metavar="S",
        help="seconds a connection may take to send a request's headers; slower is closed "
        f"(default {limits.header_timeout:g})",
    )
    parser.add_argument(
        "--request-timeout",
        type=positive_float,
        default=limits.request_timeout,
        metavar="S",
        help=f"seconds to answer a picture once it is received; slower gets 503 (default {limits.request_timeout:g})",
    )
    parser.add_argument(
        "--max-connections",
        type=positive_int,
        default=limits.max_connections,
        metavar="N",
        help=f"open connections at once; more are closed as they come (default {limits.max_connections})",
    )


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
    limits = ServerLimits(
        max_bytes=args.max_bytes,
        max_pixels=args.max_pixels,
        max_concurrent=args.max_concurrent,
        max_queue=args.max_queue,
        body_timeout=args.body_timeout,
        request_timeout=args.request_timeout,
        header_timeout=args.header_timeout,
        max_connections=args.max_connections,
    )
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
