"""Full-frame phone photos of a sheet of paper lying on a desk, with handwritten numbers.

    .venv/bin/python bench/desk_photos.py --out DIR [--kinds K ...] [--count 20] [--seed 1]
                                          [--preview DIR]

What users send: the whole camera frame, the sheet slightly crooked, the desk around it.
The handwriting is MNIST **test** digits only (no model trained here saw them), redrawn as
ballpoint, gel-pen or marker strokes. Kinds (answers are digit strings):

- desk_digit: one digit on a sheet, often near the middle, sometimes off-centre;
- desk_number: one number of 2-8 digits (mostly separated, some close), maybe on ruled paper;
- form_line: a number in a printed form: after a label ("Amount:", "Tel", ...) on an
  underline, in a table cell, in comb boxes, or on ruled/squared notebook paper; the answer
  is only the handwritten number (a few forms also hold printed digits: meta printed_digits);
- small_digit_page: one small digit (1.5-5% of the frame's height) on a page that fills most
  of the frame, with dust, maybe a printed header and ruled lines;
- desk_numbers_multi: 2-3 numbers at different heights; answer: the numbers top to bottom,
  separated by spaces.

Realism, drawn per picture: frame 1.5-12 MP (portrait or landscape, 3:2, 4:3, 16:9), some
stored sideways with an EXIF orientation tag; sheet (A4/letter/A5, index card, sticky note)
covering 50-90% of the frame (some cut by the frame's edge), rotated up to 6 degrees with a
keystone warp; wooden, grey, black, light or white desks with texture; the sheet's soft
shadow; light gradient, vignetting, a lamp's hot spot, sometimes a hand's or phone's blurry
shadow; paper tint, unevenness, fold creases, show-through; white balance; specks and hairs;
defocus, sharpening halos, sensor noise; JPEG quality 60-92.

The background (desk, paper, light) is rendered at about 1024 px and enlarged; the printed
and handwritten marks are drawn at full resolution, each in a small window of the frame, so
a 12 MP frame takes a fraction of a second. Picture i of a kind depends only on (seed, kind,
i): a smaller --count gives the first pictures of a larger one. Seed 1 is the tuning set;
seed 0 is reserved as the report set (tune nothing on it).
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lenet5.reader.lines import compose_line, crop, vary
from lenet5.vision.pen import thin

KINDS = ("desk_digit", "desk_number", "form_line", "small_digit_page", "desk_numbers_multi")
_KIND_CODE = {"desk_digit": 11, "desk_number": 12, "form_line": 13, "small_digit_page": 14, "desk_numbers_multi": 15}
# Which CLI command reads each kind.
COMMAND = {
    "desk_digit": "predict",
    "small_digit_page": "predict",
    "desk_number": "read",
    "form_line": "read",
    "desk_numbers_multi": "read",
}
FRAME_SIZES = (
    (1500, 1000),
    (1600, 1200),
    (1920, 1080),
    (2048, 1536),
    (2560, 1440),
    (2592, 1944),
    (3000, 2000),
    (3264, 2448),
    (3840, 2160),
    (4000, 3000),
)
LOW_RES = 1024  # longer side of the background render

Sample = tuple[Image.Image, str, dict[str, Any]]

# ---------------------------------------------------------------------------------------
# Data and fonts


@functools.lru_cache(maxsize=1)
def _test_digits() -> tuple[np.ndarray, np.ndarray]:
    from lenet5.data import mnist

    data = mnist.load()
    return data.test_images, data.test_labels


_FONT_NAMES = (
    "dejavu/DejaVuSans.ttf",
    "dejavu/DejaVuSans-Bold.ttf",
    "dejavu/DejaVuSansCondensed.ttf",
    "dejavu/DejaVuSerif.ttf",
    "dejavu/DejaVuSansMono.ttf",
    "liberation/LiberationSans-Regular.ttf",
    "liberation/LiberationSans-Bold.ttf",
    "liberation/LiberationSerif-Regular.ttf",
    "liberation/LiberationSerif-Bold.ttf",
    "liberation/LiberationSansNarrow-Regular.ttf",
    "liberation/LiberationMono-Regular.ttf",
)


@functools.lru_cache(maxsize=1)
def _fonts() -> tuple[str, ...]:
    root = Path("/usr/share/fonts/truetype")
    found = tuple(str(root / name) for name in _FONT_NAMES if (root / name).exists())
    return found or tuple(str(p) for p in sorted(Path("/usr/share/fonts").rglob("*.ttf"))[:8])


@functools.lru_cache(maxsize=256)
def _font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)


LABELS = (
    "Amount:",
    "Amount (EUR):",
    "Tel",
    "Tel.:",
    "No.",
    "Total",
    "Total:",
    "Date",
    "Date:",
    "Phone",
    "Phone number:",
    "ID",
    "ID:",
    "Customer ID:",
    "Account No.",
    "Invoice #",
    "Order no.",
    "Qty",
    "Zip code",
    "Postcode:",
    "Room",
    "Ref.",
    "Code:",
    "Member no.",
    "Price",
    "Mobile:",
)
OTHER_LABELS = ("Name:", "Signature", "Address:", "City", "Email:", "Company", "Comments", "Surname:", "Street")
TITLES = (
    "Order form",
    "Registration",
    "Delivery note",
    "Invoice",
    "Receipt",
    "Contact details",
    "Expense claim",
    "APPLICATION FORM",
    "Membership",
    "Visitor log",
)
TABLE_HEADS = ("Item", "Description", "Qty", "Price", "Total", "Code", "Notes", "Amount", "Unit")
TABLE_WORDS = ("Apples", "Paper", "Pens", "Rent", "Fee", "Coffee", "Tape", "Labels", "Postage", "Folders", "Toner")
PRINTED_NUMBERS = ("Page 1 of 2", "Form 27B", "Rev. 2019", "Tel. 0800 555 010", "No. 4471", "Room 12", "v2.1")
HEADERS = ("Name: ____________   Class: ______", "Notes", "Exercise sheet", "Homework", "Name ______________")

# Ink reflectance relative to the paper (R, G, B): what a pen stroke lets through.
INKS = {
    "blue_ballpoint": (0.20, 0.26, 0.62),
    "dark_blue_ballpoint": (0.13, 0.16, 0.42),
    "blue_black": (0.12, 0.13, 0.24),
    "black_ballpoint": (0.10, 0.10, 0.12),
    "blue_gel": (0.17, 0.28, 0.72),
    "black_gel": (0.07, 0.07, 0.08),
}

# ---------------------------------------------------------------------------------------
# Geometry: the sheet in the frame


def _clip_area(poly: np.ndarray, w: float, h: float) -> float:
    """Area of a convex polygon inside the rectangle [0, w] x [0, h] (Sutherland-Hodgman)."""
    pts = [tuple(p) for p in poly]
    for axis, bound, keep_less in ((0, 0.0, False), (0, w, True), (1, 0.0, False), (1, h, True)):
        out = []
        for k, cur in enumerate(pts):
            prev = pts[k - 1]
            cur_in = cur[axis] <= bound if keep_less else cur[axis] >= bound
            prev_in = prev[axis] <= bound if keep_less else prev[axis] >= bound
            if cur_in != prev_in:
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
            if cur_in:
                out.append(cur)
        pts = out
        if not pts:
            return 0.0
    x, y = np.array(pts).T
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


@dataclass
class Sheet:
    """A sheet of `w` x `h` px (about the frame's scale) and where it lies in the frame."""

    w: float
    h: float
    frame: tuple[int, int]
    homography: np.ndarray  # sheet px -> frame px
    corners: np.ndarray  # TL, TR, BR, BL in frame px
    kind: str
    coverage: float
    rotation: float
    cut: str | None
    mm: tuple[float, float]  # its width and height as it lies
    inverse: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.inverse = np.linalg.inv(self.homography)

    @property
    def px_per_mm(self) -> float:
        return self.w / self.mm[0]

    def to_frame(self, pts: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        return cv2.perspectiveTransform(pts[None], self.homography)[0]

    def fits(self, box: tuple[float, float, float, float], sheet_margin: float, frame_margin: float) -> bool:
        """Whether a box (x0, y0, x1, y1 on the sheet) is on the sheet and well inside the frame."""
        x0, y0, x1, y1 = box
        m = sheet_margin * min(self.w, self.h)
        if x0 < m or y0 < m or x1 > self.w - m or y1 > self.h - m:
            return False
        W, H = self.frame
        fm = frame_margin * max(W, H)
        pts = self.to_frame(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
        return bool((pts[:, 0] >= fm).all() and (pts[:, 0] <= W - fm).all() and (pts[:, 1] >= fm).all()) and bool(
            (pts[:, 1] <= H - fm).all()
        )

    def visible_centre(self) -> tuple[float, float]:
        """The centre of the sheet's part the frame shows, in sheet px."""
        W, H = self.frame
        xs, ys = np.meshgrid(np.linspace(0.05, 0.95, 9) * W, np.linspace(0.05, 0.95, 9) * H)
        pts = cv2.perspectiveTransform(np.stack([xs.ravel(), ys.ravel()], 1)[None], self.inverse)[0]
        inside = (pts[:, 0] > 0) & (pts[:, 0] < self.w) & (pts[:, 1] > 0) & (pts[:, 1] < self.h)
        if not inside.any():
            return self.w / 2, self.h / 2
        return float(pts[inside, 0].mean()), float(pts[inside, 1].mean())

    def place(
        self,
        rng: np.random.Generator,
        bw: float,
        bh: float,
        centre_bias: float = 0.0,
        sheet_margin: float = 0.05,
        frame_margin: float = 0.03,
        tries: int = 80,
    ) -> tuple[float, float] | None:
        """A top-left corner for a bw x bh box: near the visible centre with probability
        `centre_bias`, else anywhere that fits; None when nothing fits."""
        cx, cy = self.visible_centre()
        near = rng.random() < centre_bias
        for attempt in range(tries):
            if near and attempt < tries // 2:
                x = cx - bw / 2 + rng.normal(0, 0.07) * self.w
                y = cy - bh / 2 + rng.normal(0, 0.07) * self.h
            else:
                x = rng.uniform(0, max(1.0, self.w - bw))
                y = rng.uniform(0, max(1.0, self.h - bh))
            if self.fits((x, y, x + bw, y + bh), sheet_margin, frame_margin):
                return x, y
        return None


PAPERS = {  # width and height in mm, held upright
    "a4": (210, 297),
    "letter": (216, 279),
    "a5": (148, 210),
    "notebook": (165, 228),
    "index_card": (127, 76),
    "sticky_note": (76, 76),
}


def _sheet(
    rng: np.random.Generator,
    frame: tuple[int, int],
    coverage: tuple[float, float] = (0.5, 0.9),
    papers: dict[str, float] | None = None,
) -> Sheet:
    W, H = frame
    papers = papers or {"a4": 0.45, "letter": 0.2, "a5": 0.2, "notebook": 0.15}
    names = list(papers)
    kind = names[rng.choice(len(names), p=np.array(list(papers.values())) / sum(papers.values()))]
    mm = PAPERS[kind]
    aspect = mm[1] / mm[0]
    portrait_frame = H > W
    if kind in ("index_card", "sticky_note"):
        w, h = 1.0, aspect
    elif rng.random() < (0.9 if portrait_frame else 0.3):
        w, h = 1.0, aspect  # upright sheet
    else:
        w, h = aspect, 1.0  # sheet turned, or a half sheet, lying landscape
        mm = mm[::-1]
    target = rng.uniform(*coverage)
    angle = math.radians(rng.uniform(-6, 6))
    keystone_v, keystone_h = rng.uniform(-0.08, 0.08), rng.uniform(-0.04, 0.04)
    jitter = rng.uniform(-0.006, 0.006, (4, 2))
    cut = None
    if rng.random() < 0.25:
        cut = ("left", "right", "top", "bottom")[rng.integers(4)]
    cut_by = rng.uniform(0.03, 0.14)
    offset = np.array([rng.uniform(-0.05, 0.05) * W, rng.uniform(-0.05, 0.05) * H])
    unit = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    unit[:, 0] += np.array([1, -1, 1, -1]) * keystone_v * w / 4
    unit[:, 1] += np.array([1, -1, 1, -1]) * keystone_h * h / 4
    unit += jitter * np.array([w, h])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    unit = unit @ rot.T
    scale = math.sqrt(target * W * H / (w * h))
    corners = unit
    for _ in range(8):
        corners = unit * scale + np.array([W / 2, H / 2]) + offset
        if cut is not None:
            extent = corners.max(0) - corners.min(0)
            if cut == "left":
                corners[:, 0] += -cut_by * extent[0] - corners[:, 0].min()
            elif cut == "right":
                corners[:, 0] += W + cut_by * extent[0] - corners[:, 0].max()
            elif cut == "top":
                corners[:, 1] += -cut_by * extent[1] - corners[:, 1].min()
            else:
                corners[:, 1] += H + cut_by * extent[1] - corners[:, 1].max()
        got = _clip_area(corners, W, H) / (W * H)
        scale *= (target / max(got, 1e-3)) ** 0.5
    sw, sh = w * scale, h * scale
    rect = np.float32([[0, 0], [sw, 0], [sw, sh], [0, sh]])
    homography = cv2.getPerspectiveTransform(rect, corners.astype(np.float32)).astype(np.float64)
    return Sheet(
        sw,
        sh,
        frame,
        homography,
        corners,
        kind,
        _clip_area(corners, W, H) / (W * H),
        math.degrees(angle),
        cut,
        mm,
    )


# ---------------------------------------------------------------------------------------
# Handwriting: MNIST digits redrawn with a pen

UP = 8  # MNIST px -> working px for the pen


def _digit_field(digit: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """A digit (ink 0..1, MNIST scale), padded by 3 px, as a smooth shape at UP times the
    scale: its binary mask and its skeleton."""
    padded = np.pad(digit, 3)
    big = cv2.resize(padded, (padded.shape[1] * UP, padded.shape[0] * UP), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), UP * 0.4)
    binary = big > threshold
    return binary, thin(binary)


def _blobby(binary: np.ndarray, skeleton: np.ndarray) -> bool:
    """Whether thinning would lose a filled-in part (a closed loop written solid)."""
    if skeleton.sum() < 4:
        return True
    inner = cv2.distanceTransform(binary.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ridge = inner[skeleton > 0]
    return float(np.percentile(ridge, 98)) > 2.2 * float(np.median(ridge))


FILLED = 0.15  # of the digit's size: a stroke half this wide is a loop written solid ...
FILLED_RATIO = 1.75  # ... or one this many times its strokes' usual half-width ...
FILLED_SHARE = 0.2  # ... round which lies this share of the digit's ink


def filled_in(binary: np.ndarray, middle: np.ndarray) -> bool:
    """Whether a thin pen along a digit's middle lines (`thin(binary)`) would write another
    digit: where the writer's thick pen filled a loop in. MNIST has many such digits (an 8
    with solid loops, a 9 with a solid head: about 5% of the test digits); their middle line
    is one stroke through the blob, and a thin pen along it draws an 8 as a "/", a 6 as an
    "L", a 9 as a "1" (bench/pen_faithful.py measures it). A thin pen's number takes the
    next test digit of the same label instead (`_thin_pen_pick`); a marker draws every
    digit as its outline. (`train --pen`, lenet5.vision.pen, still redraws them: a reader
    trained without those redraws read fewer numbers on the tuning photos, docs/results.md,
    "The whole photo".)

    The blob: the union of the largest discs inside the digit round its middle-line points
    too thick for a stroke (FILLED of the digit's size and FILLED_RATIO times the strokes'
    median half-width); a blunt stroke end or the blot where two strokes cross is thick too,
    but holds less than FILLED_SHARE of the digit's ink."""
    if not middle.any():
        return True  # nothing but a blob
    inner = cv2.distanceTransform(binary.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    rows, cols = np.flatnonzero(binary.any(axis=1)), np.flatnonzero(binary.any(axis=0))
    size = float(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)  # a squat 2 is as wide as tall
    usual = float(np.median(inner[middle > 0]))
    if usual > FILLED * size:
        return True  # all of it is a blob
    thick = max(FILLED * size, FILLED_RATIO * usual)
    ys, xs = np.nonzero((middle > 0) & (inner > thick))
    core = np.zeros(binary.shape, np.uint8)
    for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
        cv2.circle(core, (x, y), int(inner[y, x]), 1, -1)
    return int(((core > 0) & binary).sum()) >= FILLED_SHARE * int(binary.sum())


@functools.lru_cache(maxsize=8192)
def _filled_test_digit(index: int, threshold: float) -> bool:
    """Whether MNIST test digit `index` has a loop written solid (`filled_in`) where the pen
    takes MNIST's grey edge at `threshold` (the small affine change `vary` makes later
    opens no loop; if one stays, `_write` draws the number with a marker)."""
    binary, middle = _digit_field(crop(_test_digits()[0][index]), threshold)
    return filled_in(binary, middle)


def _thin_pen_pick(index: int, threshold: float) -> int:
    """The test digit a thin pen writes for `index`: itself, or where its writer filled a
    loop in (which a thin pen cannot do, and a thin pen along its middle line draws another
    digit: `filled_in`), the next test digit of the same label that is written with strokes.
    No random numbers are drawn for it."""
    labels = _test_digits()[1]
    threshold = round(threshold, 2)  # (for the cache)
    for step in range(len(labels)):
        k = (index + step) % len(labels)
        if labels[k] == labels[index] and not _filled_test_digit(k, threshold):
            return k
    return index


@dataclass(frozen=True)
class Pen:
    ink: str
    transmission: np.ndarray  # RGB, relative to the paper
    style: str  # ballpoint, gel, marker
    width: float  # stroke width in px (sheet px, about the frame's)
    opacity: float
    pressure: float  # how much the ink's darkness varies along the strokes
    threshold: float  # where MNIST's grey edge becomes the stroke's edge


def _pen(rng: np.random.Generator, sheet: Sheet) -> Pen:
    """A pen; its line is a fixed width on the paper (in mm), so small writing looks bolder."""
    name = list(INKS)[rng.choice(len(INKS), p=[0.25, 0.22, 0.13, 0.2, 0.1, 0.1])]
    style = ("ballpoint", "gel", "marker")[rng.choice(3, p=[0.55, 0.28, 0.17])]
    mm = {"ballpoint": rng.uniform(0.3, 0.6), "gel": rng.uniform(0.5, 0.9), "marker": 0.0}[style]
    width = mm * sheet.px_per_mm
    transmission = np.clip(np.asarray(INKS[name]) * rng.uniform(0.85, 1.2) + rng.uniform(-0.03, 0.03, 3), 0.03, 0.9)
    opacity = rng.uniform(0.8, 0.97) if style == "ballpoint" else rng.uniform(0.92, 1.0)
    pressure = rng.uniform(0.1, 0.35) if style == "ballpoint" else rng.uniform(0.0, 0.12)
    return Pen(name, transmission, style, width, opacity, pressure, rng.uniform(0.22, 0.38))


def _pen_alpha(binary: np.ndarray, skeleton: np.ndarray, scale: float, pen: Pen, marker: bool) -> np.ndarray:
    """Ink coverage at `scale` target px per MNIST px of one padded digit field. Drawn at up
    to 4x the target size and reduced, so thin lines on small digits stay whole."""
    th, tw = max(2, round(binary.shape[0] / UP * scale)), max(2, round(binary.shape[1] / UP * scale))
    k = int(min(4, max(1, math.ceil(UP / scale))))  # supersampling when the field is larger
    per_up = scale * k / UP  # work px per field px
    size = (tw * k, th * k)
    radius = max(0.6, pen.width / 2) * k
    if marker or pen.width > 0.12 * 20 * scale:  # MNIST's own strokes: ~12% of the height
        inside = cv2.distanceTransform(binary.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        outside = cv2.distanceTransform((~binary).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        alpha = np.clip(cv2.resize(inside - outside, size, interpolation=cv2.INTER_LINEAR) * per_up + 0.5, 0, 1)
    else:
        distance = cv2.distanceTransform((skeleton == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        distance = cv2.resize(distance, size, interpolation=cv2.INTER_LINEAR) * per_up
        alpha = np.clip(radius + 0.5 - distance, 0, 1)
    return cv2.resize(alpha, (tw, th), interpolation=cv2.INTER_AREA) if k > 1 else alpha


@dataclass
class Written:
    """Handwriting ready to stamp: its ink coverage, where each digit is in it, its answer."""

    alpha: np.ndarray
    boxes: list[tuple[float, float, float, float]]  # per digit, in the patch's px
    baseline: float  # y of the line's baseline in the patch
    text: str
    mnist: list[int]


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """A smooth random field of about N(0, 1) values."""
    h, w = shape
    gh = max(2, round(cells * h / max(h, w)) + 1)
    gw = max(2, round(cells * w / max(h, w)) + 1)
    small = rng.standard_normal((gh, gw)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return big / max(1e-6, float(big.std()))


def _write(
    rng: np.random.Generator,
    count: int,
    height: float,
    pen: Pen,
    spacing: str = "separated",
    picks: list[int] | None = None,
) -> Written:
    """`count` MNIST test digits written as one number, nominal digit height `height` px."""
    images, labels = _test_digits()
    picks = picks if picks is not None else [int(i) for i in rng.integers(0, len(labels), count)]
    if pen.style != "marker":
        picks = [_thin_pen_pick(i, pen.threshold) for i in picks]
    digits = [vary(crop(images[i]), rng) for i in picks]
    line, owner = compose_line(digits, spacing, rng)
    fields = [_digit_field(d, pen.threshold) for d in digits]
    # One writer, one pen: a number with a digit no thin pen draws is a marker's throughout.
    marker = pen.style == "marker" or any(_blobby(b, s) or filled_in(b, s) for b, s in fields)
    scale = height / 20
    ph, pw = round((line.shape[0] + 6) * scale), round((line.shape[1] + 6) * scale)
    patch = np.zeros((ph, pw), np.float32)
    boxes = []
    for k, (digit, (binary, skeleton)) in enumerate(zip(digits, fields, strict=True)):
        top, left = _find(line, owner, k, digit)
        alpha = _pen_alpha(binary, skeleton, scale, pen, marker)
        y, x = round(top * scale), round(left * scale)  # the field's 3 px pad = the patch's
        region = patch[y : y + alpha.shape[0], x : x + alpha.shape[1]]
        np.maximum(region, alpha[: region.shape[0], : region.shape[1]], out=region)
        boxes.append(
            (
                (left + 3) * scale,
                (top + 3) * scale,
                (left + 3 + digit.shape[1]) * scale,
                (top + 3 + digit.shape[0]) * scale,
            )
        )
    if pen.pressure > 0:
        patch *= 1 - pen.pressure * np.clip(0.5 + 0.35 * _smooth_field(rng, patch.shape, 6), 0, 1)
    patch *= pen.opacity
    baseline = max(b[3] for b in boxes)
    text = "".join(str(int(labels[i])) for i in picks)
    return Written(patch, boxes, baseline, text, picks)


def _find(line: np.ndarray, owner: np.ndarray, k: int, digit: np.ndarray) -> tuple[int, int]:
    """Where compose_line put digit `k` (its top-left in the line): near the box of the ink
    it owns, the spot where the line holds all of the digit's ink."""
    h, w = digit.shape
    rows, cols = np.nonzero(owner == k)
    top0, left0 = (int(rows.min()), int(cols.min())) if rows.size else (0, 0)
    best, where = -1.0, (top0, left0)
    for top in range(max(0, top0 - 2), min(line.shape[0] - h, top0 + 2) + 1):
        for left in range(max(0, left0 - 2), min(line.shape[1] - w, left0 + 2) + 1):
            window = line[top : top + h, left : left + w]
            score = float(np.minimum(window, digit).sum()) - 10 * float(np.maximum(digit - window, 0).sum())
            if score > best:
                best, where = score, (top, left)
    return where


# ---------------------------------------------------------------------------------------
# Drawing on the frame


def _translate(x: float, y: float) -> np.ndarray:
    return np.array([[1, 0, x], [0, 1, y], [0, 0, 1]], np.float64)


def _rotate_about(cx: float, cy: float, degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    r = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    return _translate(cx, cy) @ r @ _translate(-cx, -cy)


class Canvas:
    """The frame (RGB uint8) and how to put marks from the sheet onto it."""

    def __init__(self, frame: np.ndarray, sheet: Sheet, blur: float, sharpen: float) -> None:
        self.frame, self.sheet, self.blur, self.sharpen = frame, sheet, blur, sharpen

    def _blend(self, x0: int, y0: int, alpha: np.ndarray, transmission: np.ndarray, sharpen: bool) -> None:
        if self.blur > 0.25:
            alpha = cv2.GaussianBlur(alpha, (0, 0), self.blur)
        h, w = alpha.shape
        roi = self.frame[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
        roi *= 1 - alpha[..., None] * (1 - np.asarray(transmission, np.float32))
        if sharpen and self.sharpen > 0:
            roi += self.sharpen * (roi - cv2.GaussianBlur(roi, (0, 0), 1.2 + self.blur))
        self.frame[y0 : y0 + h, x0 : x0 + w] = np.clip(roi, 0, 255).astype(np.uint8)

    def _window(self, pts: np.ndarray, pad: float) -> tuple[int, int, int, int] | None:
        H, W = self.frame.shape[:2]
        pad += 3 * self.blur + 2
        x0, y0 = np.floor(pts.min(0) - pad).astype(int)
        x1, y1 = np.ceil(pts.max(0) + pad).astype(int)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
        return (x0, y0, x1, y1) if x1 - x0 > 1 and y1 - y0 > 1 else None

    def stamp(self, alpha: np.ndarray, place: np.ndarray, transmission: np.ndarray, sharpen: bool = True) -> None:
        """Ink coverage `alpha` (patch px) put on the sheet by `place` (patch -> sheet, 3x3)."""
        h, w = alpha.shape
        to_frame = self.sheet.homography @ place
        corners = cv2.perspectiveTransform(np.float64([[[0, 0], [w, 0], [w, h], [0, h]]]), to_frame)[0]
        window = self._window(corners, 1)
        if window is None:
            return
        x0, y0, x1, y1 = window
        matrix = _translate(-x0, -y0) @ to_frame
        warped = cv2.warpPerspective(alpha, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderValue=0)
        self._blend(x0, y0, warped, transmission, sharpen)

    def line(
        self,
        p0: tuple[float, float],
        p1: tuple[float, float],
        width: float,
        transmission: np.ndarray,
        dash: tuple[float, float] | None = None,
    ) -> None:
        """A printed line from p0 to p1 (sheet px), `width` px wide, solid or dashed (on, off).
        Drawn in tiles along its length, so a long slanted line touches few pixels."""
        a, b = self.sheet.to_frame(np.array([p0, p1]))
        thickness = max(1, round(width))
        level = int(255 * min(1.0, width / thickness))
        pieces = [(a, b)]
        if dash is not None:
            length = float(np.hypot(*(b - a)))
            unit = (b - a) / max(length, 1e-6)
            starts = np.arange(0, length, dash[0] + dash[1])
            pieces = [(a + unit * s, a + unit * min(length, s + dash[0])) for s in starts]
        axis = 0 if abs(b[0] - a[0]) >= abs(b[1] - a[1]) else 1
        lo, hi = sorted((a[axis], b[axis]))
        pad = width + 3 * self.blur + 2
        H, W = self.frame.shape[:2]
        for t0 in range(max(int(lo - pad), 0), int(min(hi + pad, (W, H)[axis])) + 1, 384):
            t1 = t0 + 384
            # The line's extent across the tile.
            span = [a + (b - a) * np.clip((t - a[axis]) / ((b - a)[axis] or 1e-6), 0, 1) for t in (t0, t1)]
            other = [p[1 - axis] for p in span]
            c0, c1 = min(other) - pad, max(other) + pad
            box = (t0, c0, t1, c1) if axis == 0 else (c0, t0, c1, t1)
            x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
            x1, y1 = min(W, math.ceil(box[2])), min(H, math.ceil(box[3]))
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            origin = np.array([x0, y0])
            for u, v in pieces:
                if max(u[axis], v[axis]) < t0 - pad or min(u[axis], v[axis]) > t1 + pad:
                    continue
                cv2.line(
                    mask,
                    tuple(np.round((u - origin) * 16).astype(int)),
                    tuple(np.round((v - origin) * 16).astype(int)),
                    level,
                    thickness,
                    cv2.LINE_AA,
                    4,
                )
            if mask.any():
                self._blend(x0, y0, mask.astype(np.float32) / 255, transmission, False)


def _text_patch(text: str, font_path: str | None, cap_height: float) -> tuple[np.ndarray, float, float]:
    """Printed text as coverage 0..1, with its baseline's y and its advance width, in px."""
    size = max(6, round(cap_height / 0.72))
    font = _font(font_path, size)
    width = int(font.getlength(text)) + 2 * size
    image = Image.new("L", (width, int(size * 1.9)), 0)
    ImageDraw.Draw(image).text((size // 2, int(size * 1.3)), text, fill=255, font=font, anchor="ls")
    return np.asarray(image, np.float32) / 255, size * 1.3, float(font.getlength(text))


@dataclass
class Layout:
    """What goes on the sheet, in sheet px, in drawing order."""

    marks: list[Callable[[Canvas], None]] = field(default_factory=list)
    numbers: list[dict[str, Any]] = field(default_factory=list)  # handwritten: text, digit boxes on the sheet
    printed_digits: bool = False
    notes: dict[str, Any] = field(default_factory=dict)

    def text(self, text: str, x: float, baseline: float, cap: float, font: str | None, shade: np.ndarray) -> float:
        """Printed text with its baseline's left end at (x, baseline); returns its width."""
        alpha, patch_baseline, width = _text_patch(text, font, cap)
        pad = round(cap / 0.72) // 2
        place = _translate(x - pad, baseline - patch_baseline)
        self.marks.append(lambda c: c.stamp(alpha, place, shade))
        return width

    def line(
        self,
        p0: tuple[float, float],
        p1: tuple[float, float],
        width: float,
        shade: np.ndarray,
        dash: tuple[float, float] | None = None,
    ) -> None:
        self.marks.append(lambda c: c.line(p0, p1, width, shade, dash))

    def write(self, written: Written, x: float, y: float, tilt: float, pen: Pen) -> None:
        """Handwriting with its patch's top-left at (x, y) on the sheet, tilted by `tilt` degrees."""
        h, w = written.alpha.shape
        place = _translate(x, y) @ _rotate_about(w / 2, h / 2, tilt)
        boxes = []
        for x0, y0, x1, y1 in written.boxes:
            pts = cv2.perspectiveTransform(np.float64([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]]), place)[0]
            boxes.append(pts)
        self.numbers.append({"text": written.text, "sheet_boxes": boxes, "mnist_test_index": written.mnist})
        alpha = written.alpha
        self.marks.append(lambda c: c.stamp(alpha, place, pen.transmission))


def _printed_shade(rng: np.random.Generator) -> np.ndarray:
    return np.full(3, rng.uniform(0.06, 0.22)) + rng.uniform(-0.02, 0.02, 3)


RULE_BLUE = np.array([0.72, 0.82, 0.96])
MARGIN_RED = np.array([0.95, 0.55, 0.6])


def _ruled(
    rng: np.random.Generator, layout: Layout, sheet: Sheet, spacing: float, through: float, grid: bool = False
) -> None:
    """Notebook ruling over the whole sheet, one line at y = `through`."""
    shade = np.clip(RULE_BLUE * rng.uniform(0.95, 1.04) + rng.uniform(-0.04, 0.04, 3), 0.4, 0.97)
    if grid:
        shade = np.clip(shade + 0.05, 0, 0.97)
    width = max(0.8, spacing * rng.uniform(0.02, 0.05))
    top = through - spacing * math.floor(through / spacing)
    start = top + (spacing if rng.random() < 0.5 and not grid else 0)
    for y in np.arange(start, sheet.h, spacing):
        if not grid and y < sheet.h * 0.06:
            continue
        layout.line((0, y), (sheet.w, y), width, shade)
    if grid:
        left = rng.uniform(0, spacing)
        for x in np.arange(left, sheet.w, spacing):
            layout.line((x, 0), (x, sheet.h), width, shade)
    elif rng.random() < 0.55:
        x = sheet.w * rng.uniform(0.08, 0.16)
        red = np.clip(MARGIN_RED + rng.uniform(-0.05, 0.05, 3), 0.3, 0.98)
        layout.line((x, 0), (x, sheet.h), max(1.0, width * 1.3), red)
        if rng.random() < 0.2:
            layout.line((x + width * 4, 0), (x + width * 4, sheet.h), max(1.0, width * 1.3), red)
    layout.notes["ruled"] = "grid" if grid else "lines"


# ---------------------------------------------------------------------------------------
# Background: desk, paper, light (rendered small, then enlarged)

DESKS = ("wood", "dark_grey", "black", "light_grey", "white_laminate")
WOODS = ((0.62, 0.45, 0.28), (0.5, 0.33, 0.18), (0.3, 0.19, 0.11), (0.45, 0.23, 0.13), (0.7, 0.56, 0.4))


def _desk(rng: np.random.Generator, lw: int, lh: int) -> tuple[np.ndarray, str]:
    kind = DESKS[rng.choice(len(DESKS), p=[0.36, 0.17, 0.12, 0.17, 0.18])]
    long = max(lw, lh)
    ys = np.arange(lh, dtype=np.float32)[:, None] / long
    xs = np.arange(lw, dtype=np.float32)[None, :] / long
    if kind == "wood":
        base = np.asarray(WOODS[rng.integers(len(WOODS))]) * rng.uniform(0.85, 1.12)
        angle = (math.pi / 2 if rng.random() < 0.4 else 0.0) + rng.uniform(-0.12, 0.12)
        u = xs * math.cos(angle) + ys * math.sin(angle)
        v = -xs * math.sin(angle) + ys * math.cos(angle)
        period = rng.uniform(0.008, 0.03)
        # Growth rings: thin darker lines that meander and bunch up, not a regular stripe.
        v = v + period * (
            rng.uniform(0.5, 2.0) * _smooth_field(rng, (lh, lw), 2)
            + rng.uniform(0.2, 0.8) * _smooth_field(rng, (lh, lw), 9)
        )
        v = v + 0.2 * period * np.sin(u * rng.uniform(5, 25) + rng.uniform(0, 6))
        rings = (0.5 + 0.5 * np.sin(2 * np.pi * v / period)) ** rng.uniform(2, 6)
        contrast = rng.uniform(0.06, 0.18) * np.clip(0.65 + 0.35 * _smooth_field(rng, (lh, lw), 4), 0.1, 1.5)
        n = 12000
        streak1d = cv2.GaussianBlur(rng.standard_normal((1, n)).astype(np.float32), (0, 0), rng.uniform(1, 3))[0]
        streak1d /= streak1d.std()
        streaks = np.interp((v + 1.5) / 3 * (n - 1), np.arange(n), streak1d).astype(np.float32)
        tone = 1 - contrast * rings + rng.uniform(0.03, 0.08) * streaks + 0.05 * _smooth_field(rng, (lh, lw), 3)
        if rng.random() < 0.5:  # planks
            plank = rng.uniform(0.12, 0.3)
            index = np.floor((v + 2) / plank).astype(int)
            tone *= 1 + rng.uniform(-0.08, 0.08, index.max() + 1).astype(np.float32)[index]
            seam = ((v + 2) / plank) % 1 < 0.0025 / plank
            tone[seam] *= 0.55
        desk = base[None, None, :].astype(np.float32) * tone[..., None]
    else:
        level = {
            "dark_grey": rng.uniform(0.12, 0.25),
            "black": rng.uniform(0.03, 0.08),
            "light_grey": rng.uniform(0.45, 0.65),
            "white_laminate": rng.uniform(0.72, 0.86),
        }[kind]
        tint = 1 + rng.uniform(-0.06, 0.06, 3)
        tone = 1 + rng.uniform(0.01, 0.05) * _smooth_field(rng, (lh, lw), rng.integers(3, 8))
        speckle = cv2.GaussianBlur(rng.standard_normal((lh, lw), dtype=np.float32), (0, 0), 0.7)
        tone += rng.uniform(0.01, 0.06) * speckle
        desk = (level * tint)[None, None, :].astype(np.float32) * tone[..., None]
    desk += 0.006 * rng.standard_normal((lh, lw, 1), dtype=np.float32)
    return desk.astype(np.float32), kind


def _paper_colour(rng: np.random.Generator, kind: str) -> tuple[np.ndarray, str]:
    if kind == "sticky_note":
        options = {"yellow": (0.97, 0.92, 0.5), "pink": (0.98, 0.78, 0.82), "green": (0.8, 0.95, 0.7)}
        name = list(options)[rng.choice(3, p=[0.7, 0.15, 0.15])]
        return np.asarray(options[name]) * rng.uniform(0.95, 1.02), name
    r = rng.random()
    if r < 0.55:
        return np.full(3, rng.uniform(0.92, 0.98)) + rng.uniform(-0.01, 0.01, 3), "white"
    if r < 0.8:
        return np.array([0.96, 0.93, rng.uniform(0.8, 0.88)]) * rng.uniform(0.95, 1.01), "cream"
    return np.full(3, rng.uniform(0.84, 0.9)) + rng.uniform(-0.01, 0.01, 3), "grey"


def _hand_shadow(rng: np.random.Generator, lw: int, lh: int) -> np.ndarray:
    """A hand or arm (or the phone) between the lamp and the sheet: a soft dark blob."""
    long = max(lw, lh)
    mask = np.zeros((lh, lw), np.float32)
    edge = rng.integers(4)
    t = rng.uniform(0.15, 0.85)
    start = [(t * lw, -0.2 * long), (lw + 0.2 * long, t * lh), (t * lw, lh + 0.2 * long), (-0.2 * long, t * lh)][edge]
    inward = np.array([(0, 1), (-1, 0), (0, -1), (1, 0)][edge], np.float64)
    inward = inward + rng.uniform(-0.5, 0.5, 2)
    inward /= np.linalg.norm(inward)
    reach = rng.uniform(0.35, 0.7) * long
    end = np.array(start) + inward * reach
    width = rng.uniform(0.1, 0.2) * long
    cv2.line(mask, tuple(np.int32(start)), tuple(np.int32(end)), 1.0, max(1, int(width)))
    cv2.circle(mask, tuple(np.int32(end)), int(width * 0.6), 1.0, -1)
    if rng.random() < 0.6:  # fingers
        side = np.array([-inward[1], inward[0]])
        for k in range(4):
            base = end + side * (k - 1.5) * width * 0.28
            tip = base + (inward + side * rng.uniform(-0.2, 0.2)) * width * rng.uniform(0.5, 0.9)
            cv2.line(mask, tuple(np.int32(base)), tuple(np.int32(tip)), 1.0, max(1, int(width * 0.2)))
    return cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.02, 0.05) * long)


PEN_BODIES = ((0.05, 0.05, 0.06), (0.1, 0.18, 0.55), (0.85, 0.85, 0.83), (0.65, 0.1, 0.1), (0.15, 0.45, 0.2))


def _pen_on_desk(rng: np.random.Generator, image: np.ndarray, keep_out: list[list[float]], f: float) -> bool:
    """A pen lying in the picture (on the desk, or across the sheet away from the writing),
    with its shadow; drawn into the small background `image` (reflectance, frame scale f)."""
    lh, lw = image.shape[:2]
    long = max(lw, lh)
    length = rng.uniform(0.2, 0.4) * long
    width = length * rng.uniform(0.05, 0.075)
    angle = rng.uniform(0, np.pi)
    direction = np.array([math.cos(angle), math.sin(angle)])
    for _ in range(40):
        centre = rng.uniform([0, 0], [lw, lh])
        ends = np.array([centre - direction * length / 2, centre + direction * length / 2])
        x0, y0 = ends.min(0) - width
        x1, y1 = ends.max(0) + width
        if all(x1 < b[0] * f or x0 > b[2] * f or y1 < b[1] * f or y0 > b[3] * f for b in keep_out):
            break
    else:
        return False
    # Work in the pen's own window of the picture (and its shadow's).
    reach = width * 2 + 2
    wx0, wy0 = max(0, int(x0 - reach)), max(0, int(y0 - reach))
    wx1, wy1 = min(lw, int(x1 + reach)), min(lh, int(y1 + reach))
    if wx1 - wx0 < 4 or wy1 - wy0 < 4:
        return False
    ys, xs = np.mgrid[wy0:wy1, wx0:wx1].astype(np.float32)
    window = image[wy0:wy1, wx0:wx1]
    along = (xs - centre[0]) * direction[0] + (ys - centre[1]) * direction[1]
    across = -(xs - centre[0]) * direction[1] + (ys - centre[1]) * direction[0]
    half = length / 2 - width / 2
    core = np.hypot(along - np.clip(along, -half, half), across)
    alpha = np.clip(width / 2 - core + 0.5, 0, 1)
    # Its shadow first, then the pen: a shaded cylinder with a highlight, a darker tip.
    shift = np.array([rng.uniform(-1, 1), rng.uniform(0.3, 1)]) * width * 0.5
    shadow = cv2.warpAffine(alpha, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), alpha.shape[::-1])
    shadow = cv2.GaussianBlur(shadow, (0, 0), width * 0.4 + 0.5)
    window *= (1 - rng.uniform(0.25, 0.5) * shadow)[..., None]
    body = np.asarray(PEN_BODIES[rng.integers(len(PEN_BODIES))], np.float32)
    r = np.clip(across / (width / 2), -1, 1)
    shade = 0.55 + 0.45 * np.sqrt(1 - r**2) + 0.35 * np.exp(-(((r + 0.35) / 0.15) ** 2))
    colour = body[None, None, :] * shade[..., None]
    tip = (along * (1 if rng.random() < 0.5 else -1)) > half - length * 0.12
    colour[tip] = np.float32([0.45, 0.45, 0.47]) * shade[tip][:, None]
    window[...] = window * (1 - alpha[..., None]) + np.minimum(colour, 1.0) * alpha[..., None]
    return True


def _background(
    rng: np.random.Generator, sheet: Sheet, meta: dict[str, Any], keep_out: list[list[float]]
) -> np.ndarray:
    W, H = sheet.frame
    f = min(1.0, LOW_RES / max(W, H))
    lw, lh = round(W * f), round(H * f)
    long = max(lw, lh)
    desk, meta["desk"] = _desk(rng, lw, lh)
    paper, meta["paper"] = _paper_colour(rng, sheet.kind)
    mask8 = np.zeros((lh, lw), np.uint8)
    cv2.fillConvexPoly(mask8, np.round(sheet.corners * f * 16).astype(np.int32), 255, cv2.LINE_AA, 4)
    mask = mask8.astype(np.float32) / 255
    # The sheet's shadow on the desk.
    direction = rng.uniform(0, 2 * np.pi)
    shift = rng.uniform(0.002, 0.012) * long
    moved = cv2.warpAffine(
        mask, np.float32([[1, 0, shift * math.cos(direction)], [0, 1, shift * math.sin(direction)]]), (lw, lh)
    )
    shadow = cv2.GaussianBlur(moved, (0, 0), rng.uniform(0.003, 0.015) * long)
    desk *= (1 - rng.uniform(0.15, 0.5) * shadow)[..., None]
    # The paper: tint, unevenness, maybe a fold.
    sheet_px = (
        paper[None, None, :].astype(np.float32)
        * (1 + rng.uniform(0.01, 0.035) * _smooth_field(rng, (lh, lw), 3))[..., None]
    )
    sheet_px *= (1 + 0.004 * rng.standard_normal((lh, lw), dtype=np.float32))[..., None]
    if rng.random() < 0.15:
        crease = np.zeros((lh, lw), np.float32)
        horizontal = rng.random() < 0.6
        at = rng.uniform(0.3, 0.7)
        ends = (
            ([0, at * sheet.h], [sheet.w, at * sheet.h]) if horizontal else ([at * sheet.w, 0], [at * sheet.w, sheet.h])
        )
        a, b = sheet.to_frame(np.array(ends)) * f
        normal = np.array([-(b - a)[1], (b - a)[0]]) / max(1e-6, float(np.hypot(*(b - a))))
        for side, sign in ((0.8, 1), (-0.8, -1)):  # one side of the fold catches the light, one is shaded
            cv2.line(
                crease,
                tuple(np.int32(a + side * normal)),
                tuple(np.int32(b + side * normal)),
                float(sign),
                1,
                cv2.LINE_AA,
            )
        crease = cv2.GaussianBlur(crease, (0, 0), rng.uniform(0.6, 1.5))
        sheet_px *= (1 - rng.uniform(0.04, 0.12) * crease / max(float(np.abs(crease).max()), 1e-6))[..., None]
        meta["fold"] = True
    image = desk * (1 - mask[..., None]) + sheet_px * mask[..., None]
    meta["pen_on_desk"] = bool(rng.random() < 0.2) and _pen_on_desk(rng, image, keep_out, f)
    # Light: gradient, vignetting, a lamp's hot spot, a hand's shadow; white balance; exposure.
    ys = np.arange(lh, dtype=np.float32)[:, None] / lh - 0.5
    xs = np.arange(lw, dtype=np.float32)[None, :] / lw - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 - rng.uniform(0, 0.35) * np.clip(0.5 + 0.9 * (math.cos(angle) * xs + math.sin(angle) * ys), 0, 1)
    light *= 1 - rng.uniform(0.06, 0.35) * (xs**2 + ys**2) * 2
    if rng.random() < 0.2:
        cx, cy = rng.uniform(-0.4, 0.4, 2)
        light *= 1 + rng.uniform(0.04, 0.14) * np.exp(
            -((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * rng.uniform(0.15, 0.35) ** 2)
        )
    meta["hand_shadow"] = bool(rng.random() < 0.3)
    if meta["hand_shadow"]:
        small = _hand_shadow(rng, max(8, lw // 4), max(8, lh // 4))  # soft anyway: made small
        light *= 1 - rng.uniform(0.2, 0.5) * cv2.resize(small, (lw, lh), interpolation=cv2.INTER_LINEAR)
    temperature = rng.uniform(-0.6, 1)  # indoor light: warm more often than cool
    gains = np.array([1 + 0.06 * temperature, 1 + rng.uniform(-0.02, 0.02), 1 - 0.1 * temperature], np.float32)
    image *= (light[..., None] * gains * 255 * rng.uniform(0.82, 1.03)).astype(np.float32)
    # Colour noise in blotches of a few pixels (made at half this size).
    blotches = rng.standard_normal((lh // 2, lw // 2, 3), dtype=np.float32) * rng.uniform(0.7, 2.5)
    image += cv2.resize(blotches, (lw, lh), interpolation=cv2.INTER_LINEAR)
    small = np.clip(image, 0, 255).astype(np.uint8)
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR) if f < 1 else small


def _specks(rng: np.random.Generator, frame: np.ndarray, count: int, hairs: int) -> None:
    """Dust, dirt and hairs (on the sheet and the desk alike), drawn on the frame."""
    H, W = frame.shape[:2]
    s = max(W, H) / 1500
    for _ in range(count):
        x, y = rng.uniform(0, W), rng.uniform(0, H)
        r = rng.uniform(0.4, 2.2) * s
        pad = int(r + 3 * s + 2)
        x0, y0 = max(0, int(x) - pad), max(0, int(y) - pad)
        patch = frame[y0 : int(y) + pad + 1, x0 : int(x) + pad + 1]
        mask = np.zeros(patch.shape[:2], np.float32)
        centre = (round((x - x0) * 16), round((y - y0) * 16))
        axes = (max(1, round(r * 16)), max(1, round(r * rng.uniform(0.4, 1.0) * 16)))
        cv2.ellipse(mask, centre, axes, rng.uniform(0, 180), 0, 360, 1.0, -1, cv2.LINE_AA, 4)
        mask = cv2.GaussianBlur(mask, (0, 0), 0.4 + 0.3 * s)
        dark = rng.uniform(0.2, 0.7)
        patch[...] = (patch * (1 - dark * mask[..., None])).astype(np.uint8)
    for _ in range(hairs):
        length = rng.uniform(0.01, 0.04) * max(W, H)
        x, y = rng.uniform(0.05, 0.95) * W, rng.uniform(0.05, 0.95) * H
        t = np.linspace(0, 1, 12)
        a, bend = rng.uniform(0, 2 * np.pi), rng.uniform(-1.5, 1.5)
        xs = x + length * t * np.cos(a + bend * t)
        ys = y + length * t * np.sin(a + bend * t)
        pts = np.stack([xs, ys], 1)
        x0, y0 = np.floor(pts.min(0) - 3).astype(int).clip(0)
        x1, y1 = np.ceil(pts.max(0) + 3).astype(int)
        patch = frame[y0:y1, x0:x1]
        mask = np.zeros(patch.shape[:2], np.float32)
        cv2.polylines(
            mask, [np.round((pts - [x0, y0]) * 16).astype(np.int32)], False, 1.0, max(1, round(s)), cv2.LINE_AA, 4
        )
        patch[...] = (patch * (1 - rng.uniform(0.3, 0.7) * mask[..., None])).astype(np.uint8)


def _show_through(rng: np.random.Generator, layout: Layout, sheet: Sheet) -> None:
    """Print on the back of the sheet, seen faintly through it (mirrored)."""
    cap = sheet.h * rng.uniform(0.01, 0.018)
    shade = np.full(3, rng.uniform(0.94, 0.97))
    font = _fonts()[rng.integers(len(_fonts()))] if _fonts() else None
    y = sheet.h * rng.uniform(0.08, 0.2)
    words = [*TABLE_WORDS, *OTHER_LABELS, "the", "and", "of", "to", "report"]
    while y < sheet.h * rng.uniform(0.5, 0.92):
        text = " ".join(words[i] for i in rng.integers(0, len(words), rng.integers(4, 12)))
        alpha, patch_baseline, _ = _text_patch(text, font, cap)
        alpha = cv2.GaussianBlur(np.ascontiguousarray(alpha[:, ::-1]), (0, 0), cap * 0.08 + 0.5)  # seen through paper
        place = _translate(sheet.w * 0.9 - alpha.shape[1], y - patch_baseline)
        layout.marks.append(lambda c, a=alpha, p=place: c.stamp(a, p, shade, False))
        y += cap * rng.uniform(2.0, 2.6)
    layout.notes["show_through"] = True


# ---------------------------------------------------------------------------------------
# Kinds


def _frame(rng: np.random.Generator) -> tuple[int, int]:
    w, h = FRAME_SIZES[rng.integers(len(FRAME_SIZES))]
    return (h, w) if rng.random() < 0.55 else (w, h)  # phones: portrait more often


def _fit_number(
    rng: np.random.Generator,
    sheet: Sheet,
    layout: Layout,
    count: int,
    height: float,
    minimum: float,
    pen: Pen,
    centre_bias: float,
    spacing: str = "separated",
) -> tuple[Written, float, float, float]:
    """Write a number and find a place for it, smaller if it does not fit."""
    written = None
    picks = None
    while True:
        written = _write(rng, count, height, pen, spacing, picks)
        picks = written.mnist
        h, w = written.alpha.shape
        spot = sheet.place(rng, w, h, centre_bias)
        if spot is not None or height <= minimum:
            break
        height = max(minimum, height * 0.85)
    if spot is None:  # the smallest size fits nowhere: the middle of what the frame shows
        cx, cy = sheet.visible_centre()
        spot = (cx - written.alpha.shape[1] / 2, cy - written.alpha.shape[0] / 2)
    tilt = rng.uniform(-3, 3)
    layout.write(written, spot[0], spot[1], tilt, pen)
    return written, spot[0], spot[1], height


def _desk_digit(rng: np.random.Generator, frame: tuple[int, int], meta: dict[str, Any]) -> tuple[Sheet, Layout]:
    W, H = frame
    papers = {"a4": 0.4, "letter": 0.15, "a5": 0.2, "notebook": 0.1, "index_card": 0.07, "sticky_note": 0.08}
    sheet = _sheet(rng, frame, papers=papers)
    layout = Layout()
    pen = _pen(rng, sheet)
    height = math.exp(rng.uniform(math.log(0.07), math.log(0.32))) * min(W, H)
    height = min(height, 0.6 * min(sheet.w, sheet.h))
    if rng.random() < 0.15 and sheet.kind not in ("sticky_note", "index_card"):
        _ruled(rng, layout, sheet, max(height / rng.uniform(1.2, 3.0), 0.025 * sheet.h), rng.uniform(0, sheet.h))
    if rng.random() < 0.1:
        _show_through(rng, layout, sheet)
    _fit_number(rng, sheet, layout, 1, height, 0.035 * max(W, H), pen, 0.65)
    meta["pen"] = pen.ink + "/" + pen.style
    return sheet, layout


def _desk_number(rng: np.random.Generator, frame: tuple[int, int], meta: dict[str, Any]) -> tuple[Sheet, Layout]:
    W, H = frame
    papers = {"a4": 0.4, "letter": 0.15, "a5": 0.2, "notebook": 0.12, "index_card": 0.08, "sticky_note": 0.05}
    sheet = _sheet(rng, frame, papers=papers)
    layout = Layout()
    pen = _pen(rng, sheet)
    count = int(rng.integers(2, 9))
    spacing = "close" if rng.random() < 0.25 else "separated"
    height = rng.uniform(0.035, 0.1) * max(W, H)
    ruled = rng.random() < 0.2 and sheet.kind not in ("sticky_note", "index_card")
    if rng.random() < 0.08:
        _show_through(rng, layout, sheet)
    written, _x, y, height = _fit_number(rng, sheet, layout, count, height, 0.032 * max(W, H), pen, 0.5, spacing)
    if ruled:  # drawn first, under the ink
        marks = layout.marks[:]
        layout.marks.clear()
        _ruled(
            rng, layout, sheet, height * rng.uniform(1.1, 1.6), y + written.baseline + rng.uniform(-0.05, 0.15) * height
        )
        layout.marks.extend(marks)
    meta.update(pen=pen.ink + "/" + pen.style, spacing=spacing)
    return sheet, layout


def _form_line(rng: np.random.Generator, frame: tuple[int, int], meta: dict[str, Any]) -> tuple[Sheet, Layout]:
    W, H = frame
    variant = ("label_underline", "table_cell", "comb_boxes", "ruled", "squared")[
        rng.choice(5, p=[0.36, 0.22, 0.1, 0.22, 0.1])
    ]
    papers = {"a4": 0.5, "letter": 0.25, "a5": 0.25}
    if variant in ("ruled", "squared"):
        papers = {"a4": 0.2, "a5": 0.3, "notebook": 0.5}
    sheet = _sheet(rng, frame, papers=papers)
    layout = Layout()
    pen = _pen(rng, sheet)
    count = int(rng.integers(2, 9))
    height = rng.uniform(0.032, 0.07) * max(W, H)
    font = _fonts()[rng.integers(len(_fonts()))] if _fonts() else None
    bold = next((f for f in _fonts() if "Bold" in f), font)
    shade = _printed_shade(rng)
    meta.update(variant=variant, pen=pen.ink + "/" + pen.style)
    spacing = "close" if rng.random() < 0.2 else "separated"
    for _ in range(12):
        ok = {
            "label_underline": _form_underline,
            "table_cell": _form_table,
            "comb_boxes": _form_comb,
            "ruled": _form_ruled,
            "squared": _form_ruled,
        }[variant](rng, sheet, layout, pen, count, height, font, bold, shade, spacing, variant == "squared")
        if ok:
            break
        layout = Layout()
        height = max(0.03 * max(W, H), height * 0.88)
        count = max(2, count - (rng.random() < 0.3))
    else:  # nothing fit: the plainest form of all
        layout = Layout()
        _fit_number(rng, sheet, layout, count, height, 0.03 * max(W, H), pen, 0.5, spacing)
        meta["variant"] = "plain_fallback"
    meta["printed_digits"] = layout.printed_digits
    return sheet, layout


def _form_underline(
    rng: np.random.Generator,
    sheet: Sheet,
    layout: Layout,
    pen: Pen,
    count: int,
    height: float,
    font: str | None,
    bold: str | None,
    shade: np.ndarray,
    spacing: str,
    grid: bool,
) -> bool:
    written = _write(rng, count, height, pen, spacing)
    cap = height * rng.uniform(0.3, 0.6)
    rows = int(rng.integers(1, 6))
    target = int(rng.integers(rows))
    pitch = height * rng.uniform(1.7, 2.6)
    labels = [LABELS[i] for i in rng.choice(len(LABELS), rows, replace=False)]
    for k in range(rows):
        if k != target and rng.random() < 0.4:
            labels[k] = OTHER_LABELS[rng.integers(len(OTHER_LABELS))]
    widths = [_font(font, max(6, round(cap / 0.72))).getlength(t) for t in labels]
    aligned = rng.random() < 0.5
    gap = cap * rng.uniform(0.4, 1.2)
    number_w = written.alpha.shape[1]
    line_len = number_w + height * rng.uniform(0.5, 4)
    block_w = max(widths) + gap + line_len
    title = rng.random() < 0.5
    block_h = pitch * rows + (pitch * 1.5 if title else 0) + height
    spot = sheet.place(rng, block_w, block_h, 0.4)
    if spot is None:
        return False
    x, y = spot
    if title:
        y += pitch * 0.5
        text = TITLES[rng.integers(len(TITLES))]
        if rng.random() < 0.15:
            text, layout.printed_digits = f"{text}  {PRINTED_NUMBERS[rng.integers(len(PRINTED_NUMBERS))]}", True
        layout.text(text, x, y + cap * 1.4, cap * rng.uniform(1.3, 1.9), bold, shade)
        y += pitch * 1.0
    dotted = rng.random() < 0.3
    line_w = max(1.0, cap * rng.uniform(0.05, 0.1))
    for k, label in enumerate(labels):
        baseline = y + pitch * (k + 1)
        layout.text(label, x, baseline, cap, font, shade)
        start = x + (max(widths) if aligned else widths[k]) + gap
        end = start + line_len if aligned else x + block_w
        layout.line(
            (start, baseline + cap * 0.25),
            (end, baseline + cap * 0.25),
            line_w,
            shade,
            (line_w * 1.2, line_w * 2.5) if dotted else None,
        )
        if k == target:
            nx = start + rng.uniform(0.05, 0.25) * (end - start - number_w) if end - start > number_w else start
            ny = baseline + cap * 0.25 - rng.uniform(-0.06, 0.25) * height - written.baseline
            layout.write(written, nx, ny, rng.uniform(-2, 2), pen)
    if rng.random() < 0.25:
        layout.line((x - cap, spot[1]), (x + block_w + cap, spot[1]), line_w, shade)
    return True


def _form_table(
    rng: np.random.Generator,
    sheet: Sheet,
    layout: Layout,
    pen: Pen,
    count: int,
    height: float,
    font: str | None,
    bold: str | None,
    shade: np.ndarray,
    spacing: str,
    grid: bool,
) -> bool:
    written = _write(rng, count, height, pen, spacing)
    cap = height * rng.uniform(0.3, 0.55)
    cols = int(rng.integers(3, 6))
    rows = int(rng.integers(3, 7))
    cell_h = max(written.alpha.shape[0] * 0.8, height * rng.uniform(1.5, 2.2))
    number_col = int(rng.integers(1, cols))
    number_row = int(rng.integers(1, rows))
    size = max(6, round(cap / 0.72))
    widths = []
    heads = [TABLE_HEADS[i] for i in rng.choice(len(TABLE_HEADS), cols, replace=False)]
    for c in range(cols):
        w = _font(bold, size).getlength(heads[c]) + cap * 2
        if c == 0:
            w = max(w, max(_font(font, size).getlength(t) for t in TABLE_WORDS) + cap * 2)
        if c == number_col:
            w = max(w, written.alpha.shape[1] + height * rng.uniform(0.3, 1.5))
        widths.append(w)
    table_w, table_h = sum(widths), cell_h * rows
    spot = sheet.place(rng, table_w, table_h, 0.4)
    if spot is None:
        return False
    x, y = spot
    line_w = max(1.0, cap * rng.uniform(0.04, 0.1))
    xs = np.concatenate([[x], x + np.cumsum(widths)])
    for r in range(rows + 1):
        layout.line((xs[0], y + r * cell_h), (xs[-1], y + r * cell_h), line_w * (1.6 if r in (0, 1) else 1), shade)
    for c in range(cols + 1):
        layout.line((xs[c], y), (xs[c], y + table_h), line_w, shade)
    for c in range(cols):
        layout.text(heads[c], xs[c] + cap, y + cell_h * 0.5 + cap / 2, cap, bold, shade)
    words = list(rng.choice(len(TABLE_WORDS), rows, replace=False))
    for r in range(1, rows):
        layout.text(TABLE_WORDS[words[r]], xs[0] + cap, y + cell_h * (r + 0.5) + cap / 2, cap, font, shade)
        for c in range(1, cols):
            if c == number_col and r == number_row:
                free = widths[c] - written.alpha.shape[1]
                nx = xs[c] + rng.uniform(0.05, 0.95) * max(0.0, free)
                bottom = y + cell_h * (r + 1) - rng.uniform(0.12, 0.3) * height
                ny = min(bottom - written.baseline, y + cell_h * r + cell_h - written.alpha.shape[0] * 0.95)
                layout.write(
                    written, nx, max(ny, y + cell_h * r - written.alpha.shape[0] * 0.1), rng.uniform(-1.5, 1.5), pen
                )
            elif r != number_row and rng.random() < 0.12:
                if rng.random() < 0.4:
                    layout.text(
                        f"{rng.integers(1, 99)}.{rng.integers(0, 99):02d}",
                        xs[c] + cap,
                        y + cell_h * (r + 0.5) + cap / 2,
                        cap,
                        font,
                        shade,
                    )
                    layout.printed_digits = True
                else:
                    layout.text(
                        ("n/a", "-", "ok", "see below")[rng.integers(4)],
                        xs[c] + cap,
                        y + cell_h * (r + 0.5) + cap / 2,
                        cap,
                        font,
                        shade,
                    )
    return True


def _form_comb(
    rng: np.random.Generator,
    sheet: Sheet,
    layout: Layout,
    pen: Pen,
    count: int,
    height: float,
    font: str | None,
    bold: str | None,
    shade: np.ndarray,
    spacing: str,
    grid: bool,
) -> bool:
    cap = height * rng.uniform(0.3, 0.55)
    box_w = height * rng.uniform(0.95, 1.35)
    box_h = height * rng.uniform(1.25, 1.6)
    boxes = count + int(rng.integers(0, 3))
    label = LABELS[rng.integers(len(LABELS))]
    label_w = _font(font, max(6, round(cap / 0.72))).getlength(label)
    gap = cap * rng.uniform(0.5, 1.2)
    spot = sheet.place(rng, label_w + gap + boxes * box_w, box_h, 0.4)
    if spot is None:
        return False
    x, y = spot
    layout.text(label, x, y + box_h * 0.6 + cap / 2, cap, font, shade)
    left = x + label_w + gap
    line_w = max(1.0, cap * rng.uniform(0.04, 0.1))
    box_shade = shade if rng.random() < 0.6 else np.array([0.55, 0.65, 0.85])
    for k in range(boxes + 1):
        layout.line((left + k * box_w, y), (left + k * box_w, y + box_h), line_w, box_shade)
    layout.line((left, y), (left + boxes * box_w, y), line_w, box_shade)
    layout.line((left, y + box_h), (left + boxes * box_w, y + box_h), line_w, box_shade)
    _images, labels = _test_digits()
    picks = [int(i) for i in rng.integers(0, len(labels), count)]
    number: dict[str, Any] = {"text": "", "sheet_boxes": [], "mnist_test_index": []}
    for k, pick in enumerate(picks):
        one = _write(rng, 1, height * rng.uniform(0.85, 1.05), pen, picks=[pick])
        h, w = one.alpha.shape
        ox = left + k * box_w + (box_w - w) / 2 + rng.uniform(-0.1, 0.1) * box_w
        oy = y + (box_h - h) / 2 + rng.uniform(-0.08, 0.08) * box_h
        layout.write(one, ox, oy, rng.uniform(-3, 3), pen)
        written = layout.numbers.pop()
        number["text"] += written["text"]
        number["sheet_boxes"] += written["sheet_boxes"]
        number["mnist_test_index"] += written["mnist_test_index"]  # the digit drawn (`_thin_pen_pick`)
    layout.numbers.append(number)
    return True


def _form_ruled(
    rng: np.random.Generator,
    sheet: Sheet,
    layout: Layout,
    pen: Pen,
    count: int,
    height: float,
    font: str | None,
    bold: str | None,
    shade: np.ndarray,
    spacing: str,
    grid: bool,
) -> bool:
    written = _write(rng, count, height, pen, spacing)
    h, w = written.alpha.shape
    spot = sheet.place(rng, w, h, 0.3)
    if spot is None:
        return False
    x, y = spot
    baseline = y + written.baseline
    if grid:
        _ruled(
            rng, layout, sheet, height / rng.uniform(1.3, 2.1), baseline + rng.uniform(-0.05, 0.1) * height, grid=True
        )
    else:
        _ruled(rng, layout, sheet, height * rng.uniform(1.05, 1.6), baseline + rng.uniform(-0.05, 0.18) * height)
    layout.write(written, x, y, rng.uniform(-2.5, 2.5), pen)
    return True


def _small_digit_page(rng: np.random.Generator, frame: tuple[int, int], meta: dict[str, Any]) -> tuple[Sheet, Layout]:
    _W, H = frame
    sheet = _sheet(rng, frame, coverage=(0.75, 0.92), papers={"a4": 0.55, "letter": 0.3, "notebook": 0.15})
    layout = Layout()
    pen = _pen(rng, sheet)
    height = rng.uniform(0.015, 0.05) * H
    shade = _printed_shade(rng)
    ruled = rng.random() < 0.4
    written = _write(rng, 1, height, pen)
    spot = sheet.place(rng, *written.alpha.shape[::-1], 0.2, sheet_margin=0.06)
    if spot is None:
        cx, cy = sheet.visible_centre()
        spot = (cx, cy)
    if ruled:
        _ruled(rng, layout, sheet, max(height * rng.uniform(1.1, 2.2), sheet.h * 0.022), spot[1] + written.baseline)
    if rng.random() < 0.5:
        font = _fonts()[rng.integers(len(_fonts()))] if _fonts() else None
        cap = sheet.h * rng.uniform(0.008, 0.016)
        header_y = sheet.h * rng.uniform(0.04, 0.09)
        if abs(header_y - spot[1]) > 3 * height:
            layout.text(
                HEADERS[rng.integers(len(HEADERS))], sheet.w * rng.uniform(0.06, 0.15), header_y, cap, font, shade
            )
            meta["header"] = True
    if rng.random() < 0.08:
        _show_through(rng, layout, sheet)
    layout.write(written, spot[0], spot[1], rng.uniform(-4, 4), pen)
    meta.update(pen=pen.ink + "/" + pen.style, specks=int(rng.integers(5, 60)), hairs=int(rng.integers(0, 3)))
    return sheet, layout


def _desk_numbers_multi(rng: np.random.Generator, frame: tuple[int, int], meta: dict[str, Any]) -> tuple[Sheet, Layout]:
    W, H = frame
    sheet = _sheet(rng, frame, papers={"a4": 0.5, "letter": 0.2, "a5": 0.2, "notebook": 0.1})
    layout = Layout()
    pen = _pen(rng, sheet)
    wanted = int(rng.integers(2, 4))
    height = rng.uniform(0.032, 0.07) * max(W, H)
    for _attempt in range(6):
        layout = Layout()
        taken: list[tuple[float, float]] = []  # vertical spans in the frame, so top-to-bottom is clear
        for _ in range(wanted):
            written = _write(
                rng,
                int(rng.integers(2, 7)),
                height * rng.uniform(0.9, 1.1),
                pen,
                "close" if rng.random() < 0.2 else "separated",
            )
            h, w = written.alpha.shape
            for _try in range(40):
                spot = sheet.place(rng, w, h, 0.0, tries=10)
                if spot is None:
                    continue
                x, y = spot
                ys = sheet.to_frame(np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]]))[:, 1]
                span = (ys.min() - 0.5 * height, ys.max() + 0.5 * height)
                if all(span[1] < a or span[0] > b for a, b in taken):
                    taken.append(span)
                    layout.write(written, x, y, rng.uniform(-3, 3), pen)
                    break
        if len(taken) >= 2:
            break
        height = max(0.03 * max(W, H), height * 0.85)
    meta["pen"] = pen.ink + "/" + pen.style
    return sheet, layout


_LAYOUTS = {
    "desk_digit": _desk_digit,
    "desk_number": _desk_number,
    "form_line": _form_line,
    "small_digit_page": _small_digit_page,
    "desk_numbers_multi": _desk_numbers_multi,
}


def _frame_box(sheet: Sheet, pts: np.ndarray) -> list[int]:
    got = sheet.to_frame(pts)
    x0, y0 = np.floor(got.min(0)).astype(int)
    x1, y1 = np.ceil(got.max(0)).astype(int)
    return [int(x0), int(y0), int(x1), int(y1)]


def render(kind: str, rng: np.random.Generator) -> Sample:
    """One picture of `kind`: the decoded-on-demand JPEG, its answer, and what is known about it."""
    frame = _frame(rng)
    meta: dict[str, Any] = {"kind": kind, "frame": list(frame)}
    sheet, layout = _LAYOUTS[kind](rng, frame, meta)
    keep_out = [_frame_box(sheet, b) for n in layout.numbers for b in n["sheet_boxes"]]
    image = _background(rng, sheet, meta, keep_out)
    long = max(frame)
    blur = rng.uniform(0.3, 0.9) * long / 1500
    sharpen = rng.uniform(0.0, 0.8) if rng.random() < 0.6 else 0.0
    canvas = Canvas(image, sheet, blur, sharpen)
    for mark in layout.marks:
        mark(canvas)
    specks = meta.pop("specks", int(rng.integers(0, 25)) if rng.random() < 0.5 else 0)
    hairs = meta.pop("hairs", int(rng.random() < 0.15))
    _specks(rng, image, specks, hairs)
    # Sensor noise, made at half size: phone noise is blotchy after demosaicking and denoising.
    sigma = rng.uniform(1.2, 4.0)
    noise = rng.standard_normal((frame[1] // 2, frame[0] // 2), dtype=np.float32) * sigma
    noise = cv2.resize(noise, frame, interpolation=cv2.INTER_LINEAR)
    image = cv2.merge([cv2.add(plane, noise, dtype=cv2.CV_8U) for plane in cv2.split(image)])
    # The numbers in the order a reader should give them: top to bottom.
    numbers = []
    for n in layout.numbers:
        boxes = [_frame_box(sheet, b) for b in n["sheet_boxes"]]
        every = np.array(boxes)
        numbers.append(
            {
                "number": n["text"],
                "box": [int(every[:, 0].min()), int(every[:, 1].min()), int(every[:, 2].max()), int(every[:, 3].max())],
                "digit_boxes": boxes,
                "mnist_test_index": n["mnist_test_index"],
            }
        )
    numbers.sort(key=lambda n: (n["box"][1] + n["box"][3]) / 2)
    answer = " ".join(n["number"] for n in numbers)
    quality = int(rng.integers(60, 93))
    orientation = 1
    if rng.random() < 0.15:  # stored sideways, as cameras do, with the tag that turns it upright
        orientation = 6 if rng.random() < 0.7 else 8
        image = cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE if orientation == 6 else cv2.ROTATE_90_CLOCKWISE)
    meta.update(
        numbers=numbers,
        sheet=sheet.kind,
        sheet_corners=np.round(sheet.corners, 1).tolist(),
        sheet_coverage=round(sheet.coverage, 3),
        sheet_rotation=round(sheet.rotation, 2),
        sheet_cut=sheet.cut,
        printed_digits=meta.get("printed_digits", False),
        notes=layout.notes,
        blur=round(blur, 2),
        noise=round(sigma, 2),
        jpeg_quality=quality,
        exif_orientation=orientation,
    )
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    Image.fromarray(image).save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
    meta["jpeg"] = buffer.getvalue()
    return Image.open(io.BytesIO(meta["jpeg"])), answer, meta


def iter_kind(kind: str, count: int, seed: int, start: int = 0) -> Iterator[Sample]:
    """Pictures start..start+count-1 of `kind` for `seed`, one at a time."""
    if kind not in _LAYOUTS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    for index in range(start, start + count):
        rng = np.random.default_rng([seed, _KIND_CODE[kind], index])
        image, answer, meta = render(kind, rng)
        meta.update(seed=seed, index=index)
        yield image, answer, meta


def make_kind(kind: str, count: int, seed: int) -> list[Sample]:
    """`count` pictures of `kind` (the same seed always gives the same pictures). Each image
    is a JPEG decoded when first used (meta["jpeg"] holds its bytes, EXIF orientation
    included: apply PIL.ImageOps.exif_transpose to see it upright, as lenet5 does)."""
    return list(iter_kind(kind, count, seed))


def write_kind(kind: str, count: int, seed: int, folder: Path, preview: Path | None = None) -> dict[str, dict]:
    """Write KIND_NNNN.jpg files and answers.json (file name -> answer and meta) to folder."""
    from PIL import ImageOps

    folder.mkdir(parents=True, exist_ok=True)
    answers = {}
    for image, answer, meta in iter_kind(kind, count, seed):
        name = f"{kind}_{meta['index']:04d}.jpg"
        (folder / name).write_bytes(meta.pop("jpeg"))
        answers[name] = {"answer": answer, **meta}
        if preview is not None:
            preview.mkdir(parents=True, exist_ok=True)
            shown = ImageOps.exif_transpose(image)
            shown.thumbnail((800, 800), Image.Resampling.LANCZOS)
            shown.save(preview / f"{kind}_{meta['index']}.png")
    (folder / "answers.json").write_text(json.dumps(answers, indent=1))
    return answers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to write (a subfolder per kind)")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--count", type=int, default=20, help="pictures per kind (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="1: the tuning set (0 is reserved for reports)")
    parser.add_argument("--preview", type=Path, help="also save ~800 px PNG thumbnails here")
    args = parser.parse_args(argv)
    for kind in args.kinds:
        answers = write_kind(kind, args.count, args.seed, args.out / kind, args.preview)
        print(f"{kind}: {len(answers)} pictures in {args.out / kind}")


if __name__ == "__main__":
    main()
