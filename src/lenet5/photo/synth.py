"""Synthetic phone photos of a sheet on a desk, with the truth, for tests and benchmarks.

A flat page (paper with handwriting-like text, ruled lines, boxes, specks) is drawn first,
recording where each mark lies; then it is photographed: placed turned and in perspective
(a pinhole camera with a phone's focal length, FOCAL, pitched toward the desk) on a desk
(wood, grey, black, white laminate or a random texture) with its soft shadow, under a light
gradient and vignetting, sometimes a hand's soft shadow, with sensor noise and JPEG. The
homography from page to frame is kept, so each mark's box is known in the frame too.
Nothing here is a real photo: it is the geometry and the lighting that the sheet and
writing finders must survive, with answers to check them against.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1; x1, y1 exclusive

DESKS = ("wood", "grey", "black", "white", "textured")  # also "pale": a white desk barely darker than the paper
SCRIPT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX
FOCAL = 0.7  # the camera's focal length, a share of the frame's diagonal (a phone's main camera)


@dataclass
class Page:
    """A flat page: grey levels (float32, 0..255) and the box of each mark drawn on it."""

    image: np.ndarray
    marks: dict[str, list[Box]] = field(default_factory=dict)

    def add(self, kind: str, box: Box) -> Box:
        self.marks.setdefault(kind, []).append(box)
        return box


def blank_page(width: int = 600, height: int = 800, paper: float = 232.0, seed: int = 0) -> Page:
    """Paper with a faint fibre texture."""
    rng = np.random.default_rng(seed)
    grain = cv2.GaussianBlur(rng.normal(0, 3, (height, width)).astype(np.float32), (0, 0), 1.2)
    return Page(np.float32(paper) + grain)


def _ink(page: Page, layer: np.ndarray, ink: float) -> Box | None:
    """Lay an 8-bit coverage layer on the page as ink; the box of its solid part."""
    alpha = layer.astype(np.float32) / 255.0
    page.image[:] = page.image * (1 - alpha) + np.float32(ink) * alpha
    rows, cols = np.nonzero(layer > 48)  # the visible ink, soft edges included
    if rows.size == 0:
        return None
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def write(page: Page, text: str, x: int, baseline: int, height: int = 40, thickness: int = 3, ink: float = 45.0) -> Box:
    """Handwriting-like text (OpenCV's script font) with its digits `height` px tall."""
    scale = height / cv2.getTextSize("0", SCRIPT, 1.0, thickness)[0][1]
    layer = np.zeros(page.image.shape, np.uint8)
    cv2.putText(layer, text, (x, baseline), SCRIPT, scale, 255, thickness, cv2.LINE_AA)
    box = _ink(page, layer, ink)
    assert box is not None, "text drawn outside the page"
    return page.add("text", box)


def print_text(page: Page, text: str, x: int, baseline: int, height: int = 20, ink: float = 30.0) -> Box:
    """A printed label (OpenCV's plain font)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = height / cv2.getTextSize("A", font, 1.0, 2)[0][1]
    layer = np.zeros(page.image.shape, np.uint8)
    cv2.putText(layer, text, (x, baseline), font, scale, 255, 2, cv2.LINE_AA)
    return page.add("print", _ink(page, layer, ink) or (x, baseline, x, baseline))


def line(page: Page, p: tuple[int, int], q: tuple[int, int], kind: str, thickness: int = 2, ink: float = 120.0) -> Box:
    """A straight line (a ruling, an underline, a box's side)."""
    layer = np.zeros(page.image.shape, np.uint8)
    cv2.line(layer, p, q, 255, thickness, cv2.LINE_AA)
    return page.add(kind, _ink(page, layer, ink) or (0, 0, 0, 0))


def rectangle(page: Page, box: Box, thickness: int = 2, ink: float = 60.0) -> Box:
    """A printed box's border."""
    layer = np.zeros(page.image.shape, np.uint8)
    cv2.rectangle(layer, box[:2], (box[2] - 1, box[3] - 1), 255, thickness, cv2.LINE_AA)
    return page.add("box", _ink(page, layer, ink) or box)


def ruled(page: Page, spacing: int = 48, top: int = 60, ink: float = 150.0) -> None:
    """Ruled paper: faint lines across the page every `spacing` px."""
    height, width = page.image.shape
    for y in range(top, height - 10, spacing):
        line(page, (0, y), (width - 1, y), "rule", 2, ink)


def fold(page: Page, y: int, depth: float = 0.1) -> None:
    """A fold across the page at row y: the paper just above it catches the light, just
    below it is shaded, each by `depth` of the paper's level."""
    height, width = page.image.shape
    crease = np.zeros((height, width), np.float32)
    crease[max(0, y - 2) : y] = 1.0
    crease[y : y + 2] = -1.0
    page.image *= 1 + depth * cv2.GaussianBlur(crease, (0, 0), 1.0) / 0.6
    page.add("fold", (0, max(0, y - 2), width, min(height, y + 2)))


def specks(page: Page, count: int = 30, seed: int = 0, ink: float = 90.0, clearance: int = 12) -> None:
    """Dust: dots 1 to 4 px across, none within `clearance` px of the text drawn so far (a
    speck touching a digit is part of it for any reader)."""
    rng = np.random.default_rng(seed)
    height, width = page.image.shape
    layer = np.zeros(page.image.shape, np.uint8)
    placed = 0
    for _ in range(100 * count):  # bounded: a page full of text takes fewer specks
        if placed == count:
            break
        x, y = int(rng.integers(5, width - 5)), int(rng.integers(5, height - 5))
        radius = int(rng.integers(1, 3))
        near = [b for b in page.marks.get("text", []) if b[0] - clearance <= x < b[2] + clearance]
        if any(b[1] - clearance <= y < b[3] + clearance for b in near):
            continue
        cv2.circle(layer, (x, y), radius, 255, -1, cv2.LINE_AA)
        placed += 1
    _ink(page, layer, ink)


@dataclass(frozen=True, eq=False)
class Photo:
    """A synthetic frame and its truth."""

    frame: np.ndarray  # uint8 grey
    corners: np.ndarray  # (4, 2) TL, TR, BR, BL: the sheet's corners, pixel centres
    homography: np.ndarray  # page pixel centres -> frame pixel centres

    def to_frame(self, box: Box) -> Box:
        """A page box mapped into the frame (the box around its mapped corners)."""
        x0, y0, x1, y1 = box
        corners = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], np.float64) - 0.5
        mapped = cv2.perspectiveTransform(corners, self.homography)[0] + 0.5
        low, high = np.floor(mapped.min(axis=0)), np.ceil(mapped.max(axis=0))
        return int(low[0]), int(low[1]), int(high[0]), int(high[1])


def _desk(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    height, width = shape
    noise = rng.normal(0, 1, shape).astype(np.float32)
    if kind == "wood":
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        wobble = cv2.GaussianBlur(noise, (0, 0), 25) * 400
        grain = np.sin((ys * 0.97 + xs * 0.24 + wobble) / 5.5)
        return 118 + 22 * grain + 6 * cv2.GaussianBlur(noise, (0, 0), 1.0)
    base, spread, blur = {
        "grey": (110, 4, 1),
        "black": (38, 3, 1),
        "white": (208, 3, 1),
        "pale": (222, 3, 1),
        "textured": (135, 60, 2.5),
    }[kind]
    return base + spread * cv2.GaussianBlur(noise, (0, 0), blur) * (3 if kind == "textured" else 1)


def _project(page_shape: tuple[int, int], frame_shape: tuple[int, int], angle: float, tilt: float,
             distance: float) -> np.ndarray:  # fmt: skip
    """The page's corners (pixel edges) seen by a pinhole camera at `distance` (in page
    pixels) pitched by `tilt` degrees, the page turned by `angle` in its plane."""
    ph, pw = page_shape
    fh, fw = frame_shape
    focal = FOCAL * np.hypot(fw, fh)
    corners = np.array([[-pw, -ph], [pw, -ph], [pw, ph], [-pw, ph]], np.float64) / 2
    theta, pitch = np.radians(angle), np.radians(tilt)
    turned = corners @ np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    x, y = turned[:, 0], turned[:, 1]
    depth = distance + y * np.sin(pitch)
    return np.stack([focal * x / depth + fw / 2, focal * y * np.cos(pitch) / depth + fh / 2], axis=1)


def _placement(page_shape: tuple[int, int], frame_shape: tuple[int, int], angle: float, tilt: float, cover: float,
               shift: tuple[float, float]) -> np.ndarray:  # fmt: skip
    """The sheet's corners in the frame (pixel edges): seen in perspective (`_project`), at
    the distance where it covers `cover` of the frame, then moved by `shift` (fractions of
    the frame)."""
    fh, fw = frame_shape
    distance = FOCAL * np.hypot(fw, fh)
    for _ in range(3):  # the apparent size is nearly inverse to the distance
        corners = _project(page_shape, frame_shape, angle, tilt, distance)
        span = corners.max(axis=0) - corners.min(axis=0)
        distance *= max(span[0] / (cover * fw), span[1] / (cover * fh))
    return corners + np.array([shift[0] * fw, shift[1] * fh])


def _light(shape: tuple[int, int], rng: np.random.Generator, gradient: float, vignette: float) -> np.ndarray:
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    along = ((xs / width - 0.5) * np.cos(theta) + (ys / height - 0.5) * np.sin(theta)).astype(np.float32)
    radius2 = ((xs - width / 2) ** 2 + (ys - height / 2) ** 2) / ((width / 2) ** 2 + (height / 2) ** 2)
    return (1 + gradient * along) * (1 - vignette * radius2)


def _hand(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A hand's soft shadow: a blurred ellipse reaching in from a side, darkening by a quarter."""
    height, width = shape
    layer = np.zeros(shape, np.float32)
    centre = (int(rng.uniform(0.6, 1.0) * width), int(rng.uniform(0.5, 0.9) * height))
    axes = (int(0.25 * width), int(0.12 * height))
    cv2.ellipse(layer, centre, axes, float(rng.uniform(-40, 40)), 0, 360, 1.0, -1)
    return 1 - 0.25 * cv2.GaussianBlur(layer, (0, 0), 0.04 * max(shape))


def photograph(page: Page, frame: tuple[int, int] = (800, 600), angle: float = 4.0, tilt: float = 12.0,
               cover: float = 0.75, shift: tuple[float, float] = (0.0, 0.0), desk: str = "wood",
               gradient: float = 0.25, vignette: float = 0.3, hand: bool = False, noise: float = 2.0,
               jpeg: int | None = 85, seed: int = 0) -> Photo:  # fmt: skip
    """Photograph the page on a desk: a `frame` (width, height) picture and its truth. The
    sheet is turned by `angle` degrees, the camera pitched toward it by `tilt` degrees."""
    rng = np.random.default_rng(seed)
    shape = (frame[1], frame[0])
    corners = _placement(page.image.shape, shape, angle, tilt, cover, shift)
    ph, pw = page.image.shape
    rect = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    edges = cv2.getPerspectiveTransform(rect, corners.astype(np.float32))
    # The same map between pixel centres: centre c lies at edge coordinate c + 0.5.
    to_edges, to_centres = np.eye(3), np.eye(3)
    to_edges[:2, 2], to_centres[:2, 2] = 0.5, -0.5
    homography = to_centres @ edges @ to_edges
    paper = cv2.warpPerspective(page.image, homography, frame, flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(np.ones_like(page.image), homography, frame, flags=cv2.INTER_LINEAR)
    table = _desk(desk, shape, rng)
    offset = np.float32([[1, 0, 0.012 * frame[0]], [0, 1, 0.015 * frame[1]]])
    shadow = cv2.GaussianBlur(cv2.warpAffine(alpha, offset, frame), (0, 0), 0.01 * max(frame))
    table *= 1 - 0.45 * shadow
    picture = table * (1 - alpha) + paper * alpha
    picture *= _light(shape, rng, gradient, vignette)
    if hand:
        picture *= _hand(shape, rng)
    picture += rng.normal(0, noise, shape).astype(np.float32)
    out = np.clip(picture, 0, 255).astype(np.uint8)
    if jpeg:
        out = cv2.imdecode(cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg])[1], cv2.IMREAD_GRAYSCALE)
    return Photo(out, corners - 0.5, homography)
