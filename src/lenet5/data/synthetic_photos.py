"""Synthetic "photos of handwritten digits" for testing `predict` on non-MNIST pictures.

Each digit is a few pen strokes (a polyline template per digit), distorted per sample:
rotation, shear, aspect, jittered control points, stroke width, size and position on the
page, then rendered as ink on paper with uneven lighting, sensor noise and optional JPEG
compression. Pictures are dark ink on light paper unless asked otherwise. This is *not*
MNIST's distribution, which is the point: it checks that preprocessing carries a model
trained on MNIST over to pictures made differently.

`render_condition` adds the conditions that broke the first preprocessing in the field,
each on its own so accuracy can be reported per condition (CONDITIONS):

- `lighting`: coloured ink on tinted paper, a strong light gradient and vignetting, rotated;
- `shadow`: a hard-edged shadow across part of the page and the digit;
- `thin`: a 1.5-3 px pen line on a 200-400 px digit;
- `small`: a 40-200 px digit on a page of 800-3000 px, with specks, ruled lines, a table edge;
- `lowres`: a digit digitised at about 8x8 px and enlarged, blocky or blurred.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def _arc(
    cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 24
) -> list[tuple[float, float]]:
    """Points on an ellipse, angles in degrees, 0 = right, 90 = down (image coordinates)."""
    angles = np.radians(np.linspace(start, end, n))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in angles]


# Strokes in a unit box (x right, y down). Each digit: a list of strokes, each a polyline.
STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [_arc(0.5, 0.5, 0.3, 0.45, -90, 270, 40)],
    1: [[(0.35, 0.2), (0.55, 0.03), (0.55, 0.97)]],
    2: [_arc(0.5, 0.3, 0.3, 0.25, 190, 370, 20) + [(0.72, 0.48), (0.2, 0.95), (0.85, 0.95)]],
    3: [_arc(0.48, 0.27, 0.28, 0.23, 210, 450, 24) + _arc(0.48, 0.72, 0.32, 0.23, -90, 150, 24)],
    4: [[(0.62, 0.97), (0.62, 0.03), (0.12, 0.66), (0.88, 0.66)]],
    5: [[(0.8, 0.04), (0.28, 0.04), (0.24, 0.45)] + _arc(0.48, 0.67, 0.32, 0.28, 230, 505, 28)[1:]],
    6: [[(0.72, 0.03)] + _arc(0.72, 0.62, 0.48, 0.58, 270, 180, 12)[1:] + _arc(0.5, 0.7, 0.27, 0.25, 180, 540, 30)],
    7: [[(0.12, 0.05), (0.88, 0.05), (0.42, 0.97)]],
    8: [_arc(0.5, 0.26, 0.22, 0.22, 90, 450, 28), _arc(0.5, 0.71, 0.28, 0.25, -90, 270, 30)],
    9: [_arc(0.48, 0.3, 0.26, 0.26, 0, 360, 30), [(0.74, 0.3), (0.72, 0.97)]],
}


@dataclass(frozen=True)
class PhotoStyle:
    dark_on_light: bool = True
    jpeg: bool = True


def _digit_alpha(
    digit: int,
    rng: np.random.Generator,
    size: tuple[int, int],
    height: float,
    centre: tuple[float, float],
    stroke: float,
    max_angle: float = 12.0,
) -> np.ndarray:
    """Ink coverage 0..1 of one hand-drawn digit on a `size` (width, height) page."""
    width = height * rng.uniform(0.55, 0.85)
    angle = np.radians(rng.uniform(-max_angle, max_angle))
    shear = rng.uniform(-0.2, 0.2)
    transform = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.array(
        [[width, shear * height], [0.0, height]]
    )
    # Drawn at 4x and reduced, so sub-pixel pen widths come out anti-aliased, as a camera sees them.
    scale = 4
    mask = Image.new("L", (size[0] * scale, size[1] * scale), 0)
    draw = ImageDraw.Draw(mask)
    pen = max(1, round(stroke * scale))
    # An unsteady hand, but a smooth one: one gentle random warp for the whole digit (per-point
    # noise would make a large digit's strokes zig-zag, which no pen does).
    amplitude, phase = rng.normal(0, 0.03, 4), rng.uniform(0, 2 * np.pi, 4)
    for polyline in STROKES[digit]:
        points = np.asarray(polyline) - 0.5
        x, y = points[:, 0].copy(), points[:, 1].copy()
        points[:, 0] += amplitude[0] * np.sin(2 * np.pi * y + phase[0]) + amplitude[1] * np.sin(
            4 * np.pi * y + phase[1]
        )
        points[:, 1] += amplitude[2] * np.sin(2 * np.pi * x + phase[2]) + amplitude[3] * np.sin(
            4 * np.pi * x + phase[3]
        )
        path = [tuple(p) for p in (points @ transform.T + np.asarray(centre)) * scale]
        draw.line(path, fill=255, width=pen, joint="curve")
        for x, y in (path[0], path[-1]):
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    mask = mask.resize(size, Image.Resampling.BOX)
    return np.asarray(mask, dtype=np.float32) / 255


CONDITIONS = ("lighting", "shadow", "thin", "small", "lowres")
INKS = ((25, 35, 140), (20, 20, 25), (40, 40, 90), (120, 20, 30), (10, 70, 120))


def _to_jpeg(page: np.ndarray, rng: np.random.Generator, quality: tuple[int, int] = (45, 85)) -> Image.Image:
    image = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(*quality)))
    decoded = Image.open(io.BytesIO(buffer.getvalue()))
    decoded.load()
    return decoded


def _lit_page(alpha: np.ndarray, rng: np.random.Generator, gradient: float, shadow: bool = False) -> np.ndarray:
    """RGB page: tinted paper and coloured ink under light that falls off by up to `gradient`."""
    h, w = alpha.shape
    paper = np.array([rng.uniform(200, 250), rng.uniform(195, 245), rng.uniform(170, 240)], dtype=np.float32)
    ink = np.asarray(INKS[rng.integers(len(INKS))], dtype=np.float32) + rng.uniform(-10, 10, 3)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(direction) * xs / w + np.sin(direction) * ys / h) * 0.7 + 0.5
    light = 1.0 - gradient * np.clip(ramp, 0, 1)
    light *= 1 - 0.25 * (((xs / w - 0.5) ** 2 + (ys / h - 0.5) ** 2) * 2)  # vignetting
    if shadow:
        angle = rng.uniform(0, 2 * np.pi)
        offset = rng.uniform(-0.15, 0.15)
        inside = (np.cos(angle) * (xs / w - 0.5) + np.sin(angle) * (ys / h - 0.5)) > offset
        edge = Image.fromarray((inside * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 3)))
        light *= 1 - rng.uniform(0.4, 0.65) * np.asarray(edge, dtype=np.float32) / 255
    pixels = paper * (1 - alpha[..., None]) + ink * alpha[..., None]
    return pixels * light[..., None] + rng.normal(0, 3, size=(h, w, 1))


def render_condition(digit: int, rng: np.random.Generator, condition: str) -> Image.Image:
    """One picture of `digit` under one of CONDITIONS (an RGB or 'L' image)."""
    if condition in ("lighting", "shadow"):
        w, h = int(rng.integers(500, 1200)), int(rng.integers(500, 1200))
        height = min(w, h) * rng.uniform(0.3, 0.7)
        centre = (w * rng.uniform(0.4, 0.6), h * rng.uniform(0.4, 0.6))
        alpha = _digit_alpha(digit, rng, (w, h), height, centre, height * rng.uniform(0.05, 0.11), 8)
        return _to_jpeg(_lit_page(alpha, rng, rng.uniform(0.4, 0.65), shadow=condition == "shadow"), rng)
    if condition == "thin":
        height = rng.uniform(200, 400)
        w, h = int(height * rng.uniform(1.2, 2.0)), int(height * rng.uniform(1.2, 1.6))
        alpha = _digit_alpha(digit, rng, (w, h), height, (w / 2, h / 2), rng.uniform(1.5, 3.0))
        return _to_jpeg(_lit_page(alpha, rng, rng.uniform(0.0, 0.3)), rng, (70, 95))
    if condition == "small":
        w, h = int(rng.integers(800, 3000)), int(rng.integers(800, 3000))
        height = rng.uniform(40, 200)
        centre = (w * rng.uniform(0.2, 0.8), h * rng.uniform(0.2, 0.8))
        alpha = _digit_alpha(digit, rng, (w, h), height, centre, height * rng.uniform(0.06, 0.13))
        clutter = np.zeros_like(alpha)
        for _ in range(int(rng.integers(5, 40))):  # specks of dust and dirt
            y, x, r = int(rng.integers(h)), int(rng.integers(w)), int(rng.integers(1, 3))
            clutter[max(0, y - r) : y + r, max(0, x - r) : x + r] = rng.uniform(0.3, 0.9)
        if rng.random() < 0.5:  # ruled lines, away from the digit
            for y in range(int(rng.integers(20, 60)), h, int(rng.integers(60, 120))):
                if abs(y - centre[1]) > height * 0.7:
                    clutter[y : y + 2] = np.maximum(clutter[y : y + 2], 0.35)
        if rng.random() < 0.4:  # the dark table beside the sheet
            clutter[:, : int(w * rng.uniform(0.02, 0.08))] = 1.0
        return _to_jpeg(_lit_page(np.maximum(alpha, clutter), rng, rng.uniform(0.0, 0.3)), rng)
    if condition == "lowres":
        small = int(rng.integers(10, 15))
        alpha = _digit_alpha(digit, rng, (small, small), small * rng.uniform(0.6, 0.8), (small / 2, small / 2), 1.4, 6)
        tiny = Image.fromarray(np.clip(235 - 205 * alpha + rng.normal(0, 4, alpha.shape), 0, 255).astype(np.uint8))
        size = small * int(rng.integers(10, 30))
        method = Image.Resampling.NEAREST if rng.random() < 0.5 else Image.Resampling.BILINEAR
        return _to_jpeg(np.asarray(tiny.resize((size, size), method), dtype=np.float32), rng, (60, 90))
    raise ValueError(f"unknown condition {condition!r}; choose from {', '.join(CONDITIONS)}")


def condition_set(condition: str, n: int, seed: int = 0) -> list[tuple[int, Image.Image]]:
    """`n` pictures under `condition`, digits cycling 0-9, reproducible from `seed`."""
    rng = np.random.default_rng([seed, CONDITIONS.index(condition)])
    return [(i % 10, render_condition(i % 10, rng, condition)) for i in range(n)]


def render_digit(digit: int, rng: np.random.Generator, style: PhotoStyle = PhotoStyle()) -> Image.Image:
    """One synthetic picture of `digit` (an 'L' image of random size)."""
    canvas = int(rng.integers(96, 320))
    height = canvas * rng.uniform(0.35, 0.8)
    width = height * rng.uniform(0.55, 0.85)
    angle = np.radians(rng.uniform(-12, 12))
    shear = rng.uniform(-0.2, 0.2)
    transform = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.array(
        [[width, shear * height], [0.0, height]]
    )
    centre = np.array([rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.65)]) * canvas
    stroke = max(2, round(height * rng.uniform(0.06, 0.14)))

    mask = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(mask)
    for polyline in STROKES[digit]:
        points = np.asarray(polyline) - 0.5
        points = points + rng.normal(0, 0.025, size=points.shape)  # an unsteady hand
        xy = points @ transform.T + centre
        path = [tuple(p) for p in xy]
        draw.line(path, fill=255, width=stroke, joint="curve")
        for x, y in (path[0], path[-1]):  # round pen tips
            draw.ellipse((x - stroke / 2, y - stroke / 2, x + stroke / 2, y + stroke / 2), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))

    ink_level, paper_level = rng.uniform(10, 80), rng.uniform(170, 250)
    ys, xs = np.mgrid[0:canvas, 0:canvas] / canvas
    lighting = 1 + rng.uniform(-0.12, 0.12) * xs + rng.uniform(-0.12, 0.12) * ys  # uneven light across the page
    alpha = np.asarray(mask, dtype=np.float32) / 255
    page = (paper_level * (1 - alpha) + ink_level * alpha) * lighting + rng.normal(0, 4, size=alpha.shape)
    if not style.dark_on_light:
        page = 255 - page
    image = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8), "L")
    if style.jpeg:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=int(rng.integers(35, 90)))
        image = Image.open(io.BytesIO(buffer.getvalue()))
        image.load()
    return image


def photo_set(n: int, seed: int = 0, style: PhotoStyle = PhotoStyle()) -> list[tuple[int, Image.Image]]:
    """`n` pictures, digits cycling 0-9, reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    return [(i % 10, render_digit(i % 10, rng, style)) for i in range(n)]
