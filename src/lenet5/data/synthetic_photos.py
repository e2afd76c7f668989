"""Synthetic "photos of handwritten digits" for testing `predict` on non-MNIST pictures.

Each digit is a few pen strokes (a polyline template per digit), distorted per sample:
rotation, shear, aspect, jittered control points, stroke width, size and position on the
page, then rendered as ink on paper with uneven lighting, sensor noise and optional JPEG
compression. Pictures are dark ink on light paper unless asked otherwise. This is *not*
MNIST's distribution, which is the point: it checks that preprocessing carries a model
trained on MNIST over to pictures made differently.
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
