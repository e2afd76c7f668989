"""The drawing page in a real browser: Playwright driving Debian's Chromium against `lenet5 serve`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import DATA_DIR, serve_in_thread

CHROMIUM = "/usr/bin/chromium"

if not Path(CHROMIUM).exists():
    if os.environ.get("LENET5_REQUIRE_BROWSER"):
        pytest.fail(f"{CHROMIUM} is missing; `make test` installs Debian's chromium", pytrace=False)
    pytest.skip(f"{CHROMIUM} not installed (make test installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(trained_run: Path) -> Iterator[str]:
    from lenet5.serve.app import create_app

    with serve_in_thread(create_app(trained_run)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser, server: str) -> Iterator[object]:
    tab = browser.new_page(viewport={"width": 390, "height": 844})  # a phone-size screen
    tab.goto(server + "/")
    yield tab
    tab.close()


def _stroke(page, points: list[tuple[float, float]]) -> None:
    box = page.locator("#pad").bounding_box()
    to_page = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    page.mouse.move(*to_page[0])
    page.mouse.down()
    for x, y in to_page[1:]:
        page.mouse.move(x, y, steps=3)
    page.mouse.up()


def _wait_for_digit(page, expected: str) -> None:
    page.wait_for_function(
        "expected => document.getElementById('digit').textContent === expected", arg=expected, timeout=15000
    )


def _bar_fractions(page) -> list[float]:
    """Each row's drawn bar width as a fraction of its track, as laid out by the browser."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#bars li')].map(li =>
            li.querySelector('.fill').getBoundingClientRect().width /
            li.querySelector('.bar').getBoundingClientRect().width)"""
    )


def test_draw_one_then_zero_then_upload(page, tmp_path: Path) -> None:
    assert page.locator("#pad").bounding_box()["width"] <= 390  # fits the phone-size viewport
    # Empty state before any drawing: a message, never a broken-image icon.
    assert page.locator("#seen-empty").is_visible()
    assert "draw a digit" in page.locator("#seen-empty").inner_text().lower()
    assert not page.locator("#seen").is_visible()
    _stroke(page, [(0.5, 0.15 + 0.7 * t / 20) for t in range(21)])
    _wait_for_digit(page, "1")
    assert page.locator("#bars li").count() == 10
    assert page.locator("#seen").is_visible() and not page.locator("#seen-empty").is_visible()
    # The bars are drawn at their probabilities' widths (after the .15 s transition).
    page.wait_for_timeout(400)
    shown = [float(t.rstrip("%")) / 100 for t in page.locator("#bars li > span:last-child").all_inner_texts()]
    drawn = _bar_fractions(page)
    assert max(shown) > 0.5 and drawn[shown.index(max(shown))] > 0.5
    assert np.allclose(drawn, shown, atol=0.02), (drawn, shown)
    assert page.locator("#seen").get_attribute("src").startswith("data:image/png;base64,")
    page.screenshot(path=str(tmp_path / "one.png"))

    page.click("#clear")
    _wait_for_digit(page, "?")
    angles = np.linspace(0, 2 * np.pi, 40)
    _stroke(page, [(0.5 + 0.22 * np.sin(a), 0.5 - 0.33 * np.cos(a)) for a in angles])
    _wait_for_digit(page, "0")
    page.screenshot(path=str(tmp_path / "zero.png"))

    from lenet5.data import mnist

    data = mnist.load(DATA_DIR)
    index = int(np.flatnonzero(data.test_labels == 7)[0])
    photo = Image.new("L", (300, 220), 250)
    photo.paste(Image.fromarray(255 - data.test_images[index]).resize((140, 140)), (90, 40))
    photo.save(tmp_path / "seven.png")
    page.set_input_files("#file", str(tmp_path / "seven.png"))
    _wait_for_digit(page, "7")
    page.screenshot(path=str(tmp_path / "upload.png"), full_page=True)
    assert (tmp_path / "upload.png").stat().st_size > 5000


def test_api_docs_work_offline(browser, server: str) -> None:
    """/docs renders with every request outside this server refused, and "Try it out" on
    /api/predict offers a file upload."""
    outside: list[str] = []

    def only_local(route) -> None:
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    tab = browser.new_page()
    tab.route("**/*", only_local)
    tab.goto(server + "/docs")
    operation = tab.locator(".opblock-post", has_text="/api/predict")
    operation.wait_for(timeout=15000)
    operation.locator(".opblock-summary").click()
    tab.locator("button.try-out__btn").first.click()
    tab.locator(".opblock-post input[type=file]").first.wait_for(timeout=5000)
    tab.screenshot(path="/tmp/docs.png", full_page=True)
    tab.close()
    assert outside == []


def test_number_mode_reads_a_written_number(browser, server: str, tmp_path: Path) -> None:
    """/api/read behind the page uses the shipped reader model (create_app's default)."""
    tab = browser.new_page(viewport={"width": 1100, "height": 900})
    tab.goto(server + "/")
    tab.click("#mode-number")
    box = tab.locator("#pad").bounding_box()
    assert box["width"] > 2.5 * box["height"]  # a wide pad for several digits
    assert not tab.locator("#bars").is_visible()
    # "1", "0", "7" written side by side, each a third of the pad's height or more.
    _stroke(tab, [(0.15, 0.2 + 0.6 * t / 20) for t in range(21)])
    angles = np.linspace(0, 2 * np.pi, 40)
    _stroke(tab, [(0.42 + 0.07 * np.sin(a), 0.5 - 0.3 * np.cos(a)) for a in angles])
    _stroke(tab, [(0.65, 0.22), (0.8, 0.22), (0.72, 0.8)])
    tab.wait_for_function("document.getElementById('number').textContent === '107'", timeout=15000)
    assert tab.locator("#number-digits li").count() == 3
    # Each digit's box is drawn over the ink: the overlay has coloured pixels on each box's edge.
    drawn = tab.evaluate(
        """() => {
            const c = document.getElementById('overlay');
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
            return painted;
        }"""
    )
    assert drawn > 500
    tab.screenshot(path=str(tmp_path / "number.png"), full_page=True)
    # Back to one digit: the bars return, the number goes.
    tab.click("#mode-digit")
    assert tab.locator("#digit").is_visible() and not tab.locator("#number").is_visible()
    tab.close()
