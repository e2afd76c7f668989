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
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import digit_pngs, percentiles, running_server, write_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--backend", default="paddle")
    args = parser.parse_args()
    with running_server(args.model, "--backend", args.backend) as (port, _server):
        pngs = digit_pngs(100)
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
