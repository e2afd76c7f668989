"""Soak test of `lenet5 serve` under a hostile mix, on 127.0.0.1 only, bounded in time.

    python bench/soak.py --model runs/NAME [--clients 8] [--seconds 60]

Each of the N clients loops over a mix of requests: good digit PNGs (most of them),
garbage bytes, bad JSON, "bombs" (pictures just under the server's pixel budget, which
compress to a few KB but cost a full decode), and stalled bodies (a Content-Length that is
never sent, which the server must time out with 408). A separate prober calls /healthz
every 50 ms. Reported: the 5xx count (must be 0), the status counts per kind, good-request
p50/p99, /healthz p50/p99, and the server's peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import digit_pngs, percentiles, running_server, write_result

KINDS = ["good"] * 6 + ["garbage", "bad_json", "bomb", "stalled"]


def _bomb(max_pixels: int) -> bytes:
    """A white RGBA page of just under `max_pixels` with one dark bar: a few KB of PNG."""
    from PIL import Image

    side = int(max_pixels**0.5) - 1
    page = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    page.paste((0, 0, 0, 255), (side // 2 - side // 40, side // 4, side // 2 + side // 40, 3 * side // 4))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--backend", default="paddle")
    parser.add_argument("--max-pixels", type=int, default=16_000_000, help="the server's budget (its default)")
    parser.add_argument("--body-timeout", type=float, default=10.0, help="the server's (its default)")
    args = parser.parse_args()
    goods = digit_pngs(100)
    bomb = _bomb(args.max_pixels)
    flags = ("--backend", args.backend, "--max-pixels", str(args.max_pixels), "--body-timeout", str(args.body_timeout))
    with running_server(args.model, *flags) as (port, server):
        statuses: dict[str, Counter[int]] = {kind: Counter() for kind in set(KINDS)}
        good_ms: list[float] = []
        health_ms: list[float] = []
        lock = threading.Lock()
        stop_at = time.time() + args.seconds

        def post(conn: http.client.HTTPConnection, body: bytes, content_type: str) -> int:
            conn.request("POST", "/api/predict", body=body, headers={"Content-Type": content_type})
            response = conn.getresponse()
            response.read()
            return response.status

        def client(index: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            i = index
            while time.time() < stop_at:
                kind = KINDS[i % len(KINDS)]
                i += 1
                started = time.perf_counter()
                try:
                    if kind == "good":
                        status = post(conn, goods[i % len(goods)], "image/png")
                    elif kind == "garbage":
                        status = post(conn, bytes(range(256)) * 40, "image/png")
                    elif kind == "bad_json":
                        status = post(conn, b'{"image": ' * 500 + b"1" + b"}" * 500, "application/json")
                    elif kind == "bomb":
                        status = post(conn, bomb, "image/png")
                    else:
                        status = _stalled(port, args.body_timeout)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    # The server closed this idle keep-alive connection (uvicorn does after 5 s,
                    # e.g. while this client sat on a stalled upload): reconnect and retry once,
                    # as HTTP client libraries do.
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    i -= 1
                    continue
                except (OSError, http.client.HTTPException):
                    status = 0  # connection-level failure, counted apart from HTTP statuses
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                elapsed = 1000 * (time.perf_counter() - started)
                with lock:
                    statuses[kind][status] += 1
                    if kind == "good" and status == 200:
                        good_ms.append(elapsed)

        def prober() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while time.time() < stop_at:
                started = time.perf_counter()
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                health_ms.append(1000 * (time.perf_counter() - started))
                time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        threads.append(threading.Thread(target=prober))
        began = time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.time() - began
        peak_rss = _peak_rss_mb(server.pid)
    server_errors = sum(n for counts in statuses.values() for code, n in counts.items() if code >= 500 and code != 503)
    result = {
        "model": args.model,
        "backend": args.backend,
        "clients": args.clients,
        "seconds": wall,
        "max_pixels": args.max_pixels,
        "bomb_bytes": len(bomb),
        "statuses": {kind: dict(sorted(counts.items())) for kind, counts in sorted(statuses.items())},
        "server_errors_5xx_not_503": server_errors,
        "refused_503": sum(counts[503] for counts in statuses.values()),
        "connection_failures": sum(counts[0] for counts in statuses.values()),
        "good": percentiles(good_ms),
        "healthz": percentiles(health_ms),
        "peak_rss_mb": peak_rss,
    }
    print(json.dumps(result["statuses"]))
    print(
        f"{args.clients} clients, {wall:.0f} s: 5xx (other than 503) {server_errors}, 503 {result['refused_503']}, "
        f"good p50 {result['good']['p50_ms']:.1f} ms p99 {result['good']['p99_ms']:.1f} ms (n={len(good_ms)}), "
        f"healthz p50 {result['healthz']['p50_ms']:.1f} ms p99 {result['healthz']['p99_ms']:.1f} ms, "
        f"peak RSS {peak_rss:.0f} MB"
    )
    print(f"wrote {write_result(f'soak_{args.backend}', result)}")


if __name__ == "__main__":
    main()
