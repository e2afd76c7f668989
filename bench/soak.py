"""Soak test of `lenet5 serve` under a hostile mix, on 127.0.0.1 only, bounded in time.

    python bench/soak.py --model NAME_OR_PATH [--clients 8] [--seconds 60] [--incomplete 1000]

Each of the N clients loops over a mix of requests: good digit PNGs (most of them),
garbage bytes, bad JSON, "bombs" (pictures just under the server's pixel budget, which
compress to a few KB but cost a full decode), stalled bodies (a Content-Length that is
never sent, which the server must time out with 408), and "speckle" pictures sent to
/api/read (white pages with a 3x3 black dot every 8 px, 256 and 512 px square: a few
hundred bytes of PNG, thousands of would-be digits, whose reading the server must bound).

Meanwhile `--incomplete` slowloris connections stay open: each sends the start of a request
("GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n") and then nothing; the server must close them after
its `--header-timeout`, and each one it closes is opened again at once. A separate prober
calls /healthz every 50 ms.

Reported: the 5xx count (must be 0), the status counts and latencies per kind, good-request
p50/p99, /healthz p50/p99/max, the slowloris connections opened and closed by the server
(and after how long), the "Traceback" lines in the server's log (must be 0), the server's
peak resident memory (VmHWM), and the load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import digit_pngs, percentiles, running_server, write_result

# Interleaved, so that every kind comes up within a client's first few requests (a stalled
# body holds its client for --body-timeout seconds).
KINDS = ["good", "speckle", "good", "garbage", "good", "bad_json", "good", "bomb", "good", "speckle", "good", "stalled"]
SPECKLE_SIDES = (256, 512)
INCOMPLETE_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"


def _bomb(max_pixels: int) -> bytes:
    """A white RGBA page of just under `max_pixels` with one dark bar: a few KB of PNG."""
    from PIL import Image

    side = int(max_pixels**0.5) - 1
    page = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    page.paste((0, 0, 0, 255), (side // 2 - side // 40, side // 4, side // 2 + side // 40, 3 * side // 4))
    buffer = io.BytesIO()
    page.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _speckle(side: int) -> bytes:
    """A white `side`-px square with a 3x3 black dot every 8 px, as a PNG (a few hundred bytes)."""
    from PIL import Image

    page = Image.new("L", (side, side), 255)
    for y in range(2, side - 2, 8):
        for x in range(2, side - 2, 8):
            page.paste(0, (x, y, x + 3, y + 3))
    buffer = io.BytesIO()
    page.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _stalled(port: int, body_timeout: float) -> int:
    """Send headers and a few bytes of a 50 KB body, then nothing; return the status line's code."""
    with socket.create_connection(("127.0.0.1", port), timeout=body_timeout + 10) as sock:
        sock.sendall(
            b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/png\r\n"
            b"Content-Length: 50000\r\n\r\n\x89PNG\r\n"
        )
        reply = sock.recv(4096)
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def _uncommitted_src() -> list[str]:
    """`git status --porcelain -- src` lines: what the server runs that HEAD does not hold."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        ).stdout
    except OSError:
        return ["(git not available)"]
    return out.splitlines()


def _raise_file_limit() -> tuple[int, int]:
    """This process's open-file limit raised to its hard limit: (soft, hard) now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard or (hard == resource.RLIM_INFINITY and soft != hard):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def _stats(samples_ms: list[float]) -> dict[str, float]:
    """percentiles() plus the maximum; empty when there are no samples."""
    if not samples_ms:
        return {"n": 0}
    return {**percentiles(samples_ms), "max_ms": max(samples_ms)}


class Slowloris:
    """`count` connections that send the start of a request's headers and then nothing; each
    one the server closes is opened again, until stop()."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.opened = 0
        self.closed_by_server = 0  # reset or end-of-file from the server
        self.answered = 0  # the server sent bytes (a status line) before closing
        self.connect_failures = 0
        self.most_open = 0
        self.lifetimes_s: list[float] = []  # from our connect to seeing the server's close
        self.closed_at: list[float] = []  # time.monotonic() when each was seen closed
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _open_one(self, selector: selectors.BaseSelector) -> bool:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(INCOMPLETE_REQUEST)
        except OSError:
            self.connect_failures += 1
            return False
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, time.monotonic())
        self.opened += 1
        return True

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        try:
            while not self._stop.is_set():
                while len(selector.get_map()) < self.count and not self._stop.is_set():
                    if not self._open_one(selector):
                        time.sleep(0.05)
                        break
                self.most_open = max(self.most_open, len(selector.get_map()))
                if len(selector.get_map()) >= self.count:
                    self.ready.set()
                for key, _ in selector.select(timeout=0.1):
                    sock = key.fileobj
                    try:
                        data = sock.recv(4096)  # type: ignore[union-attr]
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""  # reset: the server aborted the connection
                    if data:
                        self.answered += 1
                        continue  # read on until the server closes it
                    self.closed_by_server += 1
                    self.lifetimes_s.append(time.monotonic() - key.data)
                    self.closed_at.append(time.monotonic())
                    selector.unregister(sock)
                    sock.close()  # type: ignore[union-attr]
        finally:
            for key in list(selector.get_map().values()):
                key.fileobj.close()  # type: ignore[union-attr]
            selector.close()
            self.ready.set()

    def summary(self, since: float) -> dict[str, Any]:
        """`since`: a time.monotonic(); the closes are counted per second after it."""
        import numpy as np

        lifetimes = np.asarray(self.lifetimes_s)
        return {
            "target_open": self.count,
            "opened": self.opened,
            "closed_by_server": self.closed_by_server,
            "answered_before_close": self.answered,
            "connect_failures": self.connect_failures,
            "most_open_at_once": self.most_open,
            "closed_after_s": {
                "min": float(lifetimes.min()),
                "p50": float(np.percentile(lifetimes, 50)),
                "p99": float(np.percentile(lifetimes, 99)),
                "max": float(lifetimes.max()),
            }
            if len(lifetimes)
            else {},
            "closed_per_second": dict(sorted(Counter(int(at - since) for at in self.closed_at).items())),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a shipped model name (e.g. seed) or a run folder")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--backend", default="paddle")
    parser.add_argument("--incomplete", type=int, default=1000, help="slowloris connections kept open (default 1000)")
    parser.add_argument("--max-pixels", type=int, default=16_000_000, help="the server's budget (its default)")
    parser.add_argument("--body-timeout", type=float, default=10.0, help="the server's (its default)")
    parser.add_argument("--header-timeout", type=float, default=10.0, help="the server's (its default)")
    parser.add_argument("--max-connections", type=int, default=2048, help="the server's (its default)")
    parser.add_argument("--max-concurrent", type=int, default=None, help="the server's decode slots (default: its own)")
    parser.add_argument("--name", default=None, help="result file bench/results/NAME.json (default soak_BACKEND)")
    parser.add_argument(
        "--server-log", type=Path, default=None, help="keep the server's log here (default: a temp file)"
    )
    args = parser.parse_args()
    name = args.name or f"soak_{args.backend}"
    if not name.startswith("soak"):
        parser.error("--name must start with 'soak'")
    file_limit = _raise_file_limit()
    if args.incomplete + 4 * args.clients + 64 > file_limit[0]:
        parser.error(f"--incomplete {args.incomplete} needs more open files than this process may have ({file_limit})")
    goods = digit_pngs(100)
    bomb = _bomb(args.max_pixels)
    speckles = [_speckle(side) for side in SPECKLE_SIDES]
    log_dir = tempfile.mkdtemp(prefix="soak-")
    log_path = args.server_log or Path(log_dir) / "server.log"
    flags = (
        "--backend", args.backend,
        "--max-pixels", str(args.max_pixels),
        "--body-timeout", str(args.body_timeout),
        "--header-timeout", str(args.header_timeout),
        "--max-connections", str(args.max_connections),
        *(("--max-concurrent", str(args.max_concurrent)) if args.max_concurrent else ()),
    )  # fmt: skip
    load_before = _loadavg()
    uncommitted = _uncommitted_src()
    began_all = time.time()
    with running_server(args.model, *flags, log_path=Path(log_path)) as (port, server):
        statuses: dict[str, Counter[int]] = {kind: Counter() for kind in set(KINDS)}
        kind_ms: dict[str, list[float]] = {kind: [] for kind in set(KINDS)}
        speckle_ms: dict[int, list[float]] = {side: [] for side in SPECKLE_SIDES}
        speckle_statuses: dict[int, Counter[int]] = {side: Counter() for side in SPECKLE_SIDES}
        good_ms: list[float] = []
        health_ms: list[float] = []
        health_at: list[float] = []  # when each probe started, seconds after the clients started
        health_failures = [0]
        lock = threading.Lock()

        slowloris = Slowloris(port, args.incomplete)
        opening = time.time()
        if args.incomplete:
            slowloris.start()
            slowloris.ready.wait(timeout=60)
        open_took = time.time() - opening
        stop_at = time.time() + args.seconds

        def post(conn: http.client.HTTPConnection, path: str, body: bytes, content_type: str) -> int:
            conn.request("POST", path, body=body, headers={"Content-Type": content_type})
            response = conn.getresponse()
            response.read()
            return response.status

        def client(index: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            i = index
            speckles_sent = index
            while time.time() < stop_at:
                kind = KINDS[i % len(KINDS)]
                i += 1
                side = SPECKLE_SIDES[speckles_sent % len(SPECKLE_SIDES)]
                started = time.perf_counter()
                try:
                    if kind == "good":
                        status = post(conn, "/api/predict", goods[i % len(goods)], "image/png")
                    elif kind == "garbage":
                        status = post(conn, "/api/predict", bytes(range(256)) * 40, "image/png")
                    elif kind == "bad_json":
                        status = post(conn, "/api/predict", b'{"image": ' * 500 + b"1" + b"}" * 500, "application/json")
                    elif kind == "bomb":
                        status = post(conn, "/api/predict", bomb, "image/png")
                    elif kind == "speckle":
                        status = post(conn, "/api/read", speckles[SPECKLE_SIDES.index(side)], "image/png")
                        speckles_sent += 1
                    else:
                        status = _stalled(port, args.body_timeout)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    # The server closed this idle keep-alive connection (uvicorn does after 5 s,
                    # e.g. while this client sat on a stalled upload): reconnect and retry once,
                    # as HTTP client libraries do.
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    i -= 1
                    continue
                except (OSError, http.client.HTTPException):
                    status = 0  # connection-level failure, counted apart from HTTP statuses
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                elapsed = 1000 * (time.perf_counter() - started)
                with lock:
                    statuses[kind][status] += 1
                    kind_ms[kind].append(elapsed)
                    if kind == "good" and status == 200:
                        good_ms.append(elapsed)
                    if kind == "speckle":
                        speckle_statuses[side][status] += 1
                        speckle_ms[side].append(elapsed)

        def prober() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while time.time() < stop_at:
                started = time.perf_counter()
                try:
                    conn.request("GET", "/healthz")
                    response = conn.getresponse()
                    response.read()
                    ok = response.status == 200
                except (OSError, http.client.HTTPException):
                    ok = False
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                if ok:
                    health_ms.append(1000 * (time.perf_counter() - started))
                    health_at.append(started - began_clock)
                else:
                    health_failures[0] += 1
                time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        threads.append(threading.Thread(target=prober))
        load_start = _loadavg()
        began = time.time()
        began_clock = time.perf_counter()
        began_monotonic = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.time() - began
        load_end = _loadavg()
        if args.incomplete:
            slowloris.stop()
        peak_rss = _peak_rss_mb(server.pid)
    wall_all = time.time() - began_all
    log_lines = log_path.read_text(errors="replace").splitlines()
    tracebacks = sum("Traceback" in line for line in log_lines)
    every_code = [(code, n) for counts in statuses.values() for code, n in counts.items()]
    server_errors = sum(n for code, n in every_code if code >= 500 and code != 503)
    result = {
        "model": args.model,
        "backend": args.backend,
        "clients": args.clients,
        "seconds": wall,
        "seconds_with_startup": wall_all,
        "slowloris_open_took_s": open_took,
        "max_pixels": args.max_pixels,
        "header_timeout": args.header_timeout,
        "max_connections": args.max_connections,
        "max_concurrent": args.max_concurrent,
        "bomb_bytes": len(bomb),
        "speckle_bytes": {str(side): len(png) for side, png in zip(SPECKLE_SIDES, speckles, strict=True)},
        "statuses": {kind: dict(sorted(counts.items())) for kind, counts in sorted(statuses.items())},
        "server_errors_5xx": sum(n for code, n in every_code if code >= 500),
        "server_errors_5xx_not_503": server_errors,
        "refused_503": sum(counts[503] for counts in statuses.values()),
        "connection_failures": sum(counts[0] for counts in statuses.values()),
        "good": percentiles(good_ms) if good_ms else {"n": 0},
        "latency_per_kind": {kind: _stats(samples) for kind, samples in sorted(kind_ms.items())},
        "speckle": {
            str(side): {"statuses": dict(sorted(speckle_statuses[side].items())), **_stats(speckle_ms[side])}
            for side in SPECKLE_SIDES
        },
        "healthz": _stats(health_ms),
        "healthz_failures": health_failures[0],
        "healthz_slowest": [  # [seconds after the clients started, ms]: when the slow probes were
            [round(at, 2), round(ms, 1)] for ms, at in sorted(zip(health_ms, health_at, strict=True))[-10:][::-1]
        ],
        "healthz_over_50ms": sum(ms > 50 for ms in health_ms),
        "incomplete": slowloris.summary(began_monotonic) if args.incomplete else {"target_open": 0},
        "server_log_lines": len(log_lines),
        "server_log_tracebacks": tracebacks,
        "server_log_tail": log_lines[-20:],
        "peak_rss_mb": peak_rss,
        "uncommitted_src_at_start": uncommitted,
        "file_limit": list(file_limit),
        "loadavg_before_server": load_before,
        "loadavg_start": load_start,
        "loadavg_end": load_end,
    }
    print(json.dumps(result["statuses"]))
    print(json.dumps({"speckle": result["speckle"], "incomplete": result["incomplete"]}))
    health = result["healthz"]
    print(
        f"{args.clients} clients + {args.incomplete} incomplete connections, {wall:.0f} s: "
        f"5xx {result['server_errors_5xx']} (other than 503: {server_errors}), 503 {result['refused_503']}, "
        f"healthz p50 {health.get('p50_ms', float('nan')):.1f} ms p99 {health.get('p99_ms', float('nan')):.1f} ms "
        f"max {health.get('max_ms', float('nan')):.1f} ms (n={health['n']}, failed {health_failures[0]}), "
        f"tracebacks in the server log {tracebacks}, peak RSS {peak_rss:.0f} MB, "
        f"load {load_start[0]:.2f} -> {load_end[0]:.2f}"
    )
    print(f"server log: {log_path}")
    print(f"wrote {write_result(name, result)}")


if __name__ == "__main__":
    main()
