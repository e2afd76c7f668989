"""Load test of `lenet5 serve`: N concurrent clients POST real digit PNGs to /api/predict on
127.0.0.1 for a bounded time.

    python bench/serve_load.py --model runs/NAME [--clients 8] [--seconds 30]

Starts the server as a separate process (as a user would run it), waits for /healthz,
then each client keeps one HTTP/1.1 connection and posts as fast as answers come back.
Reports requests/s, p50/p99 latency (client side) and the error count; stops the server.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import percentiles, write_result

from lenet5.data import mnist


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pngs(count: int) -> list[bytes]:
    from PIL import Image

    data = mnist.load()
    out = []
    for image in data.test_images[:count]:
        page = Image.new("L", (160, 160), 255)
        page.paste(Image.fromarray(255 - image).resize((112, 112)), (24, 24))
        buffer = io.BytesIO()
        page.save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--backend", default="paddle")
    args = parser.parse_args()
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lenet5",
            "serve",
            "--model",
            args.model,
            "--port",
            str(port),
            "--backend",
            args.backend,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        pngs = _pngs(100)
        latencies: list[float] = []
        errors = [0]
        lock = threading.Lock()
        stop_at = time.time() + args.seconds

        def client(index: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            i = index
            while time.time() < stop_at:
                body = pngs[i % len(pngs)]
                i += args.clients
                started = time.perf_counter()
                try:
                    conn.request("POST", "/api/predict", body=body, headers={"Content-Type": "image/png"})
                    response = conn.getresponse()
                    payload = response.read()
                    ok = response.status == 200 and "digit" in json.loads(payload)
                except (OSError, http.client.HTTPException, ValueError):
                    ok = False
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                elapsed = 1000 * (time.perf_counter() - started)
                with lock:
                    latencies.append(elapsed)
                    errors[0] += 0 if ok else 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        began = time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.time() - began
    finally:
        server.terminate()
        server.wait(timeout=10)
    stats = percentiles(latencies)
    result = {
        "model": args.model,
        "backend": args.backend,
        "clients": args.clients,
        "seconds": wall,
        "requests": len(latencies),
        "requests_per_s": len(latencies) / wall,
        "errors": errors[0],
        **stats,
    }
    print(
        f"{args.clients} clients, {wall:.1f} s: {len(latencies)} requests, {result['requests_per_s']:.1f} req/s, "
        f"p50 {stats['p50_ms']:.1f} ms, p99 {stats['p99_ms']:.1f} ms, errors {errors[0]}"
    )
    print(f"wrote {write_result(f'serve_load_{args.backend}', result)}")


if __name__ == "__main__":
    main()
