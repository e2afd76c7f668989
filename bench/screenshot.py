"""Screenshot of the drawing page for the README: starts `lenet5 serve` in process, draws a 3
with the mouse in headless Chromium, saves the page; with --number, writes "1073" in the
page's number mode instead.

    python bench/screenshot.py --model runs/NAME --out docs/demo.png
    python bench/screenshot.py --model reader --number --out docs/demo-number.png
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
    parser.add_argument("--number", action="store_true", help="write a number in the number mode")
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
        if args.number:
            _number(browser, port, args.out)
            browser.close()
            server.should_exit = True
            return
        page = browser.new_page(viewport={"width": 760, "height": 620})
        page.goto(f"http://127.0.0.1:{port}/")
        top = [(0.45 + 0.2 * np.cos(t), 0.3 + 0.16 * np.sin(t)) for t in np.radians(np.linspace(-160, 90, 14))]
        bottom = [(0.45 + 0.22 * np.cos(t), 0.65 + 0.19 * np.sin(t)) for t in np.radians(np.linspace(-90, 160, 16))]
        _stroke(page, page.locator("#pad").bounding_box(), top + bottom)  # a 3
        page.wait_for_function("document.getElementById('digit').textContent !== '?'")
        page.wait_for_timeout(300)
        page.screenshot(path=args.out, full_page=True)
        print(f"page reads {page.locator('#digit').text_content()}; wrote {args.out}")
        browser.close()
    server.should_exit = True


def _stroke(page, box: dict, points: list[tuple[float, float]]) -> None:
    """One pen stroke through points given as fractions of the pad's width and height."""
    xy = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=3)
    page.mouse.up()


def _number(browser, port: int, out: str) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 780})
    page.goto(f"http://127.0.0.1:{port}/")
    page.click("#mode-number")
    box = page.locator("#pad").bounding_box()
    _stroke(page, box, [(0.15, 0.2 + 0.6 * t / 20) for t in range(21)])  # 1
    angles = np.linspace(0, 2 * np.pi, 40)
    _stroke(page, box, [(0.3 + 0.07 * np.sin(a), 0.5 - 0.3 * np.cos(a)) for a in angles])  # 0
    _stroke(page, box, [(0.42, 0.23), (0.56, 0.23), (0.47, 0.8)])  # 7
    top = [(0.66 + 0.05 * np.cos(t), 0.33 + 0.13 * np.sin(t)) for t in np.radians(np.linspace(-150, 90, 14))]
    low = [(0.66 + 0.06 * np.cos(t), 0.64 + 0.15 * np.sin(t)) for t in np.radians(np.linspace(-90, 150, 16))]
    _stroke(page, box, top + low)  # 3
    page.wait_for_function("document.getElementById('number').textContent.length >= 4", timeout=15000)
    page.wait_for_timeout(300)
    page.screenshot(path=out, full_page=True)
    print(f"page reads {page.locator('#number').text_content()}; wrote {out}")


if __name__ == "__main__":
    main()
