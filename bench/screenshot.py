"""Screenshot of the drawing page for the README: starts `lenet5 serve` in process, draws a 3
with the mouse in headless Chromium, saves the page.

    python bench/screenshot.py --model runs/NAME --out docs/demo.png
"""

from __future__ import annotations

import argparse
import socket
import threading
import time

import numpy as np
import uvicorn
from playwright.sync_api import sync_playwright

from lenet5.serve.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", default="docs/demo.png")
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(args.model), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": 760, "height": 620})
        page.goto(f"http://127.0.0.1:{port}/")
        box = page.locator("#pad").bounding_box()
        top = [(0.45 + 0.2 * np.cos(t), 0.3 + 0.16 * np.sin(t)) for t in np.radians(np.linspace(-160, 90, 14))]
        bottom = [(0.45 + 0.22 * np.cos(t), 0.65 + 0.19 * np.sin(t)) for t in np.radians(np.linspace(-90, 160, 16))]
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in top + bottom]
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y, steps=3)
        page.mouse.up()
        page.wait_for_function("document.getElementById('digit').textContent !== '?'")
        page.wait_for_timeout(300)
        page.screenshot(path=args.out, full_page=True)
        print(f"page reads {page.locator('#digit').text_content()}; wrote {args.out}")
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
