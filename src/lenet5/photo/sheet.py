"""Finding the sheet of paper in a phone photo, and straightening it.

A phone photo of a sheet shows the desk around it: wood grain, laminate, the sheet's own
shadow, vignetting. Read as ink, the sheet's edge becomes a "1" and the desk becomes
strokes, so the photo is first cut down to the paper.

The approach, and why:

1. Candidates from a small copy (about WORK_SIDE px). The paper is a large bright region
   with little texture. Writing is erased first (a grey closing wider than any stroke at
   that scale) and the desk's grain smoothed (a median), then the bright region is cut out
   in two independent ways, because each fails where the other works: a global threshold
   (Otsu's), and the regions that sharp edges enclose (a white desk beside white paper: no
   threshold separates them, but the edge and the sheet's shadow still do; a hand's shadow
   across the sheet splits the bright region, but its edge is soft, so it is no wall).
   Other levels (halfway from Otsu's to each class's mean) are tried only if those fail.
   Each large region's convex hull (a hand over the sheet bites into the region, not into
   its hull) is simplified to a polygon, keeping exactly where it runs along the frame's
   border. Going round it, the turn between consecutive sides of the sheet's own tells how
   many corners lie between them: a sheet cut by the frame still gives a quadrilateral,
   with one to four sides of its own; a missing side is stood in for by a line parallel
   to its opposite side (or square to its own neighbour), through the farthest visible
   point. A sheet that fills the frame but for a strip of desk shows one side only: such a
   candidate says least, is tried after all others, held to the straight lines' stricter
   tests, and must have desk, not paper and no writing, beyond its side, and a margin
   free of writing within it (the straight stroke of a close-up's digit is an edge too,
   and so is a hard shadow across one, running through or beside the digit).
   A white sheet on a pale desk is a few grey levels brighter than the desk: its outline
   has gaps, so it encloses no region. Its sides are then found as straight lines through
   the crests of steps brighter on the paper's hand (a Hough transform per side: top,
   right, bottom, left), and the frame cut down by one line per side, or by none, makes
   the candidates, those with the most edge along their sides first. The same lines check
   a sheet found with sides outside the frame: a pale desk may have joined the paper's
   region there, so a straight step across the sheet on that side is tried in its place.
2. Refinement on the full picture. The small copy locates each side only to a few pixels,
   so each side is searched again across its length: along short profiles normal to it,
   the steepest bright-to-dark step (paper inside, desk or shadow outside), to a tenth of a
   pixel; a robust line fit through those points, the corners where the lines meet.
   Straight lines through many points beat corner detection: a corner may be dog-eared,
   shadowed, under a thumb or outside the frame.
3. Verdict. A candidate is the sheet only if each of its own sides is an edge along most of
   its length, steep and sharp (most of its fall within 3 px: not a shadow's or vignette's
   ramp) and with paper brighter inside than the desk just outside. The last rejects a
   printed box, a ruled table or a bright cell of a form: across their lines there is paper
   again. Regions too small (under MIN_AREA of the frame), far from rectangular, not solidly
   bright (the strokes of a white-on-black digit) or with no side of their own (writing
   that fills the frame, a scan, a blank canvas) are no sheet. A side from a straight line
   alone is held to more: an edge along most of its length (not a pen lying on the sheet),
   and the paper's own trend (a vignette, a shadow) carried across it must miss what lies
   beyond (a fold, a grid line or a shadow's edge has paper again beyond it). Candidates
   are examined largest first; the first that passes is the sheet.

Rectification maps the quadrilateral to an upright rectangle of the paper's own aspect
(measured from the vanishing points, `paper_aspect`) and of its size in the picture, inset
by a small margin so the sheet's edge and the desk never reach the output.
Coordinates: points are pixel centres (pixel i spans i-0.5..i+0.5); boxes are
(x0, y0, x1, y1) in pixel edges, x1 and y1 exclusive.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1; x1, y1 exclusive

WORK_SIDE = 320  # longer side of the copy the candidates are found on
MIN_SIDE = 200  # a picture smaller than this on its longer side holds no photographed sheet
MIN_AREA = 0.12  # a sheet covers at least this share of the frame
MIN_FILL = 0.8  # ...and is solidly bright over this share of its quadrilateral
MIN_SUPPORT = 0.45  # share of a side's length where its edge must be found
MIN_CONTRAST = 0.04  # paper at least 4% brighter than the desk just outside
MIN_STEP = 2.0  # grey levels per pixel at the edge...
MIN_SHARPNESS = 0.45  # ...and this share of the contrast within 3 px of it: no shadow's or vignette's ramp
MAX_ANGLE_OFF = 35.0  # degrees a corner may differ from a right angle (tilt and perspective)
MIN_CONVERGENCE = 2.0  # degrees between opposite sides for their vanishing point to be measured
LINE_STEP = 10.0  # Sobel units (8 per grey level per px): the least step counted toward a straight edge
LINE_VOTES = 0.2  # a straight edge has steps along this share of the frame's width (height) at least
LINES_PER_SLOT = 2  # straight edges tried per side of the sheet
LINE_TRIES = 6  # combinations of them examined, most edge first
# A side from a straight edge alone (no region behind it) or found after the sheet was
# (`_completed`) is held to more: it runs along this share of the side (not a pen lying on
# the sheet), and the paper's trend carried across it misses the desk by MIN_CONTRAST (not
# a fold, a grid line or a shadow, with paper again beyond)...
STRICT_SUPPORT = 0.75
COMPLETION_SHARPNESS = 1.7  # ...and a completing side falls within 3 px at most this many times the contrast
# A strip of desk beyond a sheet's only side holds no writing: under 0.3% of it is less than
# half as bright as the strip. Measured 9 px clear of the side (the test counts up to the
# side): the 37 such sheets of the seed-0 and tuning desk sets, at most 0.24% but for one
# with a pen lying on a white desk (3.3%; its numbers are read the same without a sheet);
# the hard shadows across bench/photo_accuracy.py's close-ups, over 0.3% in 105 of 113
# (seed 1). With the test as written, 1,100 desk pictures keep their sheets but that one.
INK_BEYOND = 0.5
STROKES_BEYOND = 0.003
# ...and nothing is written up to that side: in a strip along its inside, SIDE_STRIP of the
# picture's shorter side deep (the frame's border left out), under WRITTEN_SIDE of the pixels
# are INK_STRENGTH darker than the brightest paper within the strip's depth. People leave a
# margin at a sheet's edge; a hard shadow's edge across a close-up runs through or beside the
# digit. Measured at 0.0 on all 48 such sheets of the seed-0 and tuning desk sets (a ruled
# line running into the side is fainter than INK_STRENGTH); 2.4% to 19% on 12 of the 13
# lone-side sheets among the wrongly read hard-shadow close-ups of bench/photo_accuracy.py
# (seed 1, 300 pictures; the 13th: 0.0).
SIDE_STRIP = 0.03
INK_STRENGTH = 0.5
WRITTEN_SIDE = 0.005
ASSUMED_FOCAL = 0.7  # a phone's main camera: focal length about 0.7 of the frame's diagonal (26 mm equivalent)


@dataclass(frozen=True, eq=False)
class Sheet:
    """The sheet found in a picture."""

    corners: np.ndarray  # (4, 2) float64: TL, TR, BR, BL, pixel centres of the analysed picture
    confidence: float  # 0..1: how clearly its own sides are edges of paper against the desk
    area: float  # share of the picture the sheet covers
    # Sides outside the frame, named by the border they leave by ("top", "right", "bottom",
    # "left"): their line is a stand-in (module docstring), their corners may lie outside.
    cut: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Side:
    """One side of a candidate: a line through `point` along `direction`; `border` names the
    frame's border for a side that lies outside the frame (a stand-in line, not an edge)."""

    point: np.ndarray
    direction: np.ndarray
    border: str | None = None  # for a side outside the frame: the border it leaves by


@dataclass(frozen=True)
class _Edge:
    """What the full picture says about one side: the refined line and how good an edge it is."""

    side: _Side
    support: float  # share of the side's length where the edge was found, on the line
    contrast: float  # (paper - desk) / paper across it
    step: float  # grey levels per pixel at the edge
    sharpness: float  # share of the contrast that falls within 3 px
    departure: float = 1.0  # (paper's trend carried across - desk) / paper: not paper again beyond


def as_gray(picture: np.ndarray) -> np.ndarray:
    """An 8-bit single-channel view of a picture (BGR, BGRA or float pictures are converted)."""
    if picture.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if picture.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        picture = cv2.cvtColor(picture, code) if picture.shape[2] in (3, 4) else picture[..., 0]
    if picture.dtype != np.uint8:
        picture = np.clip(np.nan_to_num(picture), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(picture)


def downscale(picture: np.ndarray, max_side: int = 1024) -> tuple[np.ndarray, float]:
    """The picture in grey, its longer side at most `max_side`, and the factor back to the
    original (original pixels per analysed pixel, >= 1)."""
    gray = as_gray(picture)
    factor = max(gray.shape) / max_side
    if factor <= 1.0:
        return gray, 1.0
    size = (max(1, round(gray.shape[1] / factor)), max(1, round(gray.shape[0] / factor)))
    # Area averaging: no aliasing of fine desk texture into fake edges.
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA), gray.shape[1] / size[0]


# --- candidates on a small copy ---------------------------------------------------------------


def _small(gray: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The smoothed small copy and its per-axis factors back to `gray`."""
    height, width = gray.shape
    # A whole factor: OpenCV's area averaging has a fast path for it.
    factor = max(1, round(max(height, width) / WORK_SIDE))
    small = gray
    if factor > 1:
        small = cv2.resize(gray, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    # The closing erases dark strokes (writing) narrower than 5 px here, the median then the
    # desk's grain; the sheet's outline is far larger than either and stays.
    smooth = cv2.morphologyEx(small, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    smooth = cv2.medianBlur(smooth, 5)
    return smooth, width / small.shape[1], height / small.shape[0]


def _levels(smooth: np.ndarray) -> list[float]:
    """Grey levels that may cut the paper from the desk: Otsu's, then halfway from it to
    each class's mean (a light gradient or a grey desk moves the best level)."""
    otsu, _ = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark, light = smooth[smooth <= otsu], smooth[smooth > otsu]
    if dark.size == 0 or light.size == 0:
        return []
    return [otsu, (otsu + float(dark.mean())) / 2, (otsu + float(light.mean())) / 2]


def _bright(smooth: np.ndarray, level: float) -> np.ndarray:
    """The bright region's mask; the opening cuts thin bright bridges to glints on the desk."""
    return cv2.morphologyEx((smooth > level).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))


def _sharp_edges(smooth: np.ndarray, low: float, high: float) -> np.ndarray:
    """Canny's edges of the small copy that are steps, not ramps (see `_edge_mask`), padded
    by 4 px on every side (Canny leaves the outermost pixels blank)."""
    padded = cv2.copyMakeBorder(smooth, 4, 4, 4, 4, cv2.BORDER_REPLICATE)
    edges = cv2.Canny(padded, low, high, L2gradient=True)
    near = cv2.morphologyEx(padded, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    wide = cv2.morphologyEx(padded, cv2.MORPH_GRADIENT, np.ones((9, 9), np.uint8))
    sharp = cv2.compare(near.astype(np.uint16) * 2, wide.astype(np.uint16), cv2.CMP_GE)
    # ...or a steep step, whatever lies beyond it: where a pen crosses the sheet's edge the
    # 9 px window sees black on white while the edge itself is the pen's against the desk.
    sharp |= cv2.compare(near, 32, cv2.CMP_GE)
    return cv2.bitwise_and(edges, sharp)


def _edge_mask(smooth: np.ndarray) -> np.ndarray:
    """Every region that sharp edges enclose; a white sheet on a white desk is one, and so is
    a sheet that a shadow crosses. A shadow's edge is soft: over 9 px it falls much more than
    over 3 px, while a sheet's edge falls as much over 3 px as over 9, so only edges whose
    fall within 3 px is most of that within 9 px (or large anyway) are kept as walls."""
    # A wall must reach the frame's border to close a sheet that runs off it: hence the padding.
    walls = cv2.dilate(_sharp_edges(smooth, 16, 40), np.ones((3, 3), np.uint8))[4:-4, 4:-4]
    return (walls == 0).astype(np.uint8)


def _large(mask: np.ndarray) -> Iterator[tuple[np.ndarray, float]]:
    """The outline of each region of the mask that covers MIN_AREA of the frame or more,
    with its area less its holes' (outlines cost a fraction of labelling every pixel)."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return
    links = hierarchy[0]
    for i, contour in enumerate(contours):
        area = cv2.contourArea(contour)
        if links[i][3] >= 0 or area < MIN_AREA * mask.size:
            continue
        child = links[i][2]
        while child >= 0:  # the holes: writing the closing left, a dark object on the sheet
            area -= cv2.contourArea(contours[child])
            child = links[child][0]
        # An outline runs through its boundary pixels' centres: half of them lie outside it.
        yield contour, area + cv2.arcLength(contour, True) / 2


def _regions(smooth: np.ndarray, first: bool) -> Iterator[tuple[np.ndarray, float]]:
    """Candidate regions for the sheet: the likeliest (`first`: Otsu's level and the sharp
    edges' regions), else the other levels."""
    levels = _levels(smooth)
    if first:
        if levels:
            yield from _large(_bright(smooth, levels[0]))
        yield from _large(_edge_mask(smooth))
        return
    for level in levels[1:]:
        yield from _large(_bright(smooth, level))


def _polygon(outline: np.ndarray, shape: tuple[int, int], eps: float) -> np.ndarray:
    """The outline's convex hull simplified to a few vertices.

    Where the hull runs along the frame's border, that stretch is kept exactly and only the
    chains between such stretches are simplified: a sheet's side that leaves the frame
    must not be merged with the border it runs into (the side would then be fitted where
    there is no edge)."""
    hull = cv2.convexHull(outline).reshape(-1, 2)
    tolerance = eps * cv2.arcLength(hull.reshape(-1, 1, 2), True)
    n = len(hull)
    on = _on_border(hull, shape)
    if not any(on):
        return cv2.approxPolyDP(hull.reshape(-1, 1, 2), tolerance, True).reshape(-1, 2).astype(np.float64)
    start = (on.index(True) + 1) % n  # just after a stretch of border
    vertices: list[np.ndarray] = []
    chain = [hull[start]]
    for step in range(n):
        i = (start + step) % n
        if not on[i]:
            chain.append(hull[(i + 1) % n])
            continue
        if len(chain) > 1:
            simple = cv2.approxPolyDP(np.array(chain).reshape(-1, 1, 2), tolerance, False).reshape(-1, 2)
            vertices.extend(simple)
        else:
            vertices.append(chain[0])
        chain = [hull[(i + 1) % n]]
    return np.array(vertices, dtype=np.float64)


def _on_border(hull: np.ndarray, shape: tuple[int, int]) -> list[bool]:
    """Per side of the closed polygon, whether it runs along a border (all sides at once)."""
    height, width = shape
    ends = np.roll(hull, -1, axis=0)
    x, y, x2, y2 = hull[:, 0], hull[:, 1], ends[:, 0], ends[:, 1]
    near = [
        (np.abs(a - limit) <= 1.5) & (np.abs(b - limit) <= 1.5)
        for a, b, limit in ((y, y2, 0), (x, x2, width - 1), (y, y2, height - 1), (x, x2, 0))
    ]
    return list(near[0] | near[1] | near[2] | near[3])


def _border(p: np.ndarray, q: np.ndarray, shape: tuple[int, int]) -> str | None:
    """Which border of a picture of `shape` the segment p-q runs along, if any."""
    height, width = shape
    tol = 1.5
    lines = (("top", 1, 0.0), ("right", 0, width - 1.0), ("bottom", 1, height - 1.0), ("left", 0, 0.0))
    for name, axis, limit in lines:
        if abs(p[axis] - limit) <= tol and abs(q[axis] - limit) <= tol:
            return name
    return None


def _pieces(polygon: np.ndarray, shape: tuple[int, int]) -> list[_Side]:
    """The polygon's sides in order, each of its own or a piece of a frame border; short
    sides of its own (a bevelled corner, a bump) are left out."""
    n = len(polygon)
    perimeter = sum(float(np.linalg.norm(polygon[(i + 1) % n] - polygon[i])) for i in range(n))
    pieces = []
    for i in range(n):
        p, q = polygon[i], polygon[(i + 1) % n]
        length = float(np.linalg.norm(q - p))
        border = _border(p, q, shape)
        if length >= 0.04 * perimeter or border:
            pieces.append(_Side(p, (q - p) / max(length, 1e-9), border))
    return pieces


def _turn(a: np.ndarray, b: np.ndarray, sense: float) -> float:
    """Degrees turned from direction a to direction b going round the polygon, 0..360."""
    angle = np.degrees(np.arctan2(a[0] * b[1] - a[1] * b[0], float(np.dot(a, b)))) * sense
    return float(angle % 360.0)


def _rotated(direction: np.ndarray, degrees: float) -> np.ndarray:
    theta = np.radians(degrees)
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]) @ direction


def _sides(polygon: np.ndarray, shape: tuple[int, int]) -> list[_Side] | None:
    """The candidate's four sides in order around it, or None if the polygon is no sheet.

    Between two consecutive sides of its own, the polygon turns by about 90 degrees per
    corner of the sheet. One corner: whatever border lies between them, the corner is just
    outside the frame. Two or three: one or two sides of the sheet are outside the frame.
    So a sheet shows two, three or four sides of its own; one or none is a close-up, where
    nothing says where the paper ends. A side outside the frame is stood in for by a line
    parallel to its opposite side (perpendicular to its neighbour if that is outside too)
    touching the visible part: the rectified sheet is then still a rectangle of the paper,
    not the paper stretched to meet the frame's border."""
    pieces = _pieces(polygon, shape)
    own = [k for k, piece in enumerate(pieces) if piece.border is None]
    if not own:
        return None
    x, y = polygon[:, 0], polygon[:, 1]
    sense = 1.0 if float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) > 0 else -1.0
    slots: list[_Side | tuple[np.ndarray, str]] = []
    for j, k in enumerate(own):
        after = own[(j + 1) % len(own)]
        between = [pieces[i % len(pieces)] for i in range(k + 1, after + (len(pieces) if after <= k else 0))]
        # A lone side of its own: the frame's borders take the other three, all the way round.
        corners = 4 if after == k else round(_turn(pieces[k].direction, pieces[after].direction, sense) / 90.0)
        if corners < 1 or corners - 1 > len(between):
            return None  # two sides of its own in a row, or a missing side with no border for it
        slots.append(pieces[k])
        for m in range(1, corners):
            target = _rotated(pieces[k].direction, 90.0 * m * sense)
            nearest = max(between, key=lambda piece: float(np.dot(piece.direction, target)))
            slots.append((target, str(nearest.border)))
    if len(slots) != 4:
        return None
    return [slot if isinstance(slot, _Side) else _stand_in(slots, i, polygon, sense) for i, slot in enumerate(slots)]


def _stand_in(slots: list, i: int, polygon: np.ndarray, sense: float) -> _Side:
    """A line for the side in slot i, which lies outside the frame (see _sides): through the
    polygon's farthest vertex outward (the interior lies to the turning side)."""
    target, border = slots[i]
    opposite = slots[(i + 2) % 4]
    direction = -opposite.direction if isinstance(opposite, _Side) else target
    outward = -_rotated(direction, 90.0 * sense)
    return _Side(polygon[np.argmax(polygon @ outward)], direction, border)


def _meet(a: _Side, b: _Side) -> np.ndarray | None:
    """Where two sides' lines cross, or None if they are nearly parallel."""
    cross = a.direction[0] * b.direction[1] - a.direction[1] * b.direction[0]
    if abs(cross) < 0.2:  # under about 12 degrees apart: no corner
        return None
    d = b.point - a.point
    t = (d[0] * b.direction[1] - d[1] * b.direction[0]) / cross
    return a.point + t * a.direction


def _corners(sides: list[_Side]) -> np.ndarray | None:
    """Corner k is where side k-1 meets side k."""
    corners = [_meet(sides[k - 1], sides[k]) for k in range(4)]
    if any(c is None for c in corners):
        return None
    return np.array(corners, dtype=np.float64)


def _candidates(smooth: np.ndarray, tier: int) -> Iterator[tuple[list[_Side], float]]:
    """(sides, fill) of each candidate on the small copy; fill is the share of the
    quadrilateral that the region covers. Tier 0 and 1: regions (`_regions`); tier 2:
    straight edges (`_line_candidates`), for a sheet whose outline has gaps."""
    if tier == 2:
        yield from _line_candidates(smooth)
        return
    for outline, area in _regions(smooth, tier == 0):
        for eps in (0.015, 0.03, 0.05):
            sides = _sides(_polygon(outline, smooth.shape, eps), smooth.shape)
            if sides is None:
                continue
            corners = _corners(sides)
            if corners is not None:
                yield sides, area / max(_clipped_area(corners, smooth.shape), 1.0)
            break


# --- candidates from straight edges ----------------------------------------------------------

# Per slot (top, right, bottom, left side of a sheet), the way into the paper from that side.
_INWARD = np.array([[0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [1.0, 0.0]])


def _crests(smooth: np.ndarray, slots: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Per slot asked for, the pixels where the picture brightens toward the slot's inward
    side by LINE_STEP or more (a vignette's ramp or the paper's mottling stays below that),
    on the crest of the step across the slot's axis: a thin line per edge."""
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    crests = {}
    for k in slots:
        ix, iy = _INWARD[k]
        rise = gx * np.float32(ix) + gy * np.float32(iy)
        axis = 0 if k % 2 == 0 else 1  # across a top or bottom side: down the columns
        before, after = np.roll(rise, 1, axis=axis), np.roll(rise, -1, axis=axis)
        crests[k] = ((rise >= before) & (rise > after) & (rise >= LINE_STEP)).astype(np.uint8)
    return crests


def _hough(crest: np.ndarray, k: int, least: float) -> list[tuple[np.ndarray, float]]:
    """The strongest straight lines through the crest's pixels whose normal is within 40
    degrees of slot k's inward direction, as (normal toward inward, offset), at most
    LINES_PER_SLOT, each through `least` pixels at least. A left or right side is looked
    for on the transposed crest: one range of angles, half the work of the full circle."""
    vertical = k % 2 == 1
    image = np.ascontiguousarray(crest.T) if vertical else crest
    low, high = np.radians(50), np.radians(130)
    found = cv2.HoughLines(image, 1, np.pi / 180, max(8, round(least)), min_theta=low, max_theta=high)
    lines: list[tuple[np.ndarray, float]] = []
    for rho, theta in found.reshape(-1, 2) if found is not None else []:  # most votes first
        normal, offset = np.array([np.cos(theta), np.sin(theta)]), float(rho)
        normal = normal[::-1] if vertical else normal
        if np.dot(normal, _INWARD[k]) < 0:
            normal, offset = -normal, -offset
        if any(abs(offset - r) < 6 and np.dot(normal, n) > np.cos(np.radians(6)) for n, r in lines):
            continue  # the same edge again, a degree or a pixel off
        lines.append((normal, offset))
        if len(lines) == LINES_PER_SLOT:
            break
    return lines


def _slot_lines(
    smooth: np.ndarray, slots: tuple[int, ...] = (0, 1, 2, 3)
) -> tuple[dict[int, list[tuple[np.ndarray, float]]], dict[int, np.ndarray]]:
    """Per slot, up to LINES_PER_SLOT straight steps brighter on the slot's inward side, as
    (inward normal n, offset r): the paper lies where p . n >= r. Also per slot its step
    pixels, a pixel thicker, for measuring how much of a line is edge.

    A white sheet on a pale desk is a few grey levels brighter than the desk: its outline
    has gaps where noise or vignetting hide the step, so it encloses no region; but the
    step's pixels still line up along each side, with the paper on the same hand."""
    height, width = smooth.shape
    lines, masks = {}, {}
    for k, crest in _crests(smooth, slots).items():
        masks[k] = cv2.dilate(crest, np.ones((3, 3), np.uint8))
        lines[k] = _hough(crest, k, LINE_VOTES * (width if k % 2 == 0 else height))
    return lines, masks


def _clip(polygon: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """The convex polygon cut down to the half-plane p . normal >= offset."""
    distance = polygon @ normal - offset
    out = []
    for i in range(len(polygon)):
        j = (i + 1) % len(polygon)
        if distance[i] >= 0:
            out.append(polygon[i])
        if distance[i] * distance[j] < 0:
            out.append(polygon[i] + (polygon[j] - polygon[i]) * distance[i] / (distance[i] - distance[j]))
    return np.array(out, np.float64).reshape(-1, 2)


def _evidence(polygon: np.ndarray, normal: np.ndarray, offset: float, mask: np.ndarray) -> tuple[float, float]:
    """How much of the polygon's side on the line p . normal = offset is edge: (share, px)."""
    on = polygon[np.abs(polygon @ normal - offset) < 0.5]
    if len(on) < 2:
        return 0.0, 0.0
    along = np.array([-normal[1], normal[0]])
    ends = on[np.argsort(on @ along)[[0, -1]]]
    length = float(np.linalg.norm(ends[1] - ends[0]))
    points = np.round(ends[0] + np.linspace(0, 1, 64)[:, None] * (ends[1] - ends[0])).astype(int)
    share = float(mask[points[:, 1], points[:, 0]].mean())
    return share, share * length


def _line_candidates(smooth: np.ndarray) -> Iterator[tuple[list[_Side], float]]:
    """Candidates whose own sides are straight edges (`_slot_lines`): the frame cut down by
    the paper's side of one line per slot, or of none (that side is outside the frame).
    The combinations with the most edge along their sides come first. Fill: the share of
    the candidate that is about as bright as its paper (not a dark desk within it)."""
    lines, masks = _slot_lines(smooth)
    height, width = smooth.shape
    frame = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float64)
    scored = []
    for choice in itertools.product(*[[None, *lines[k]] for k in range(4)]):
        if all(line is None for line in choice):
            continue
        polygon, total, weak = frame, 0.0, False
        for line in choice:
            if line is not None and len(polygon) >= 3:
                polygon = _clip(polygon, *line)
        if len(polygon) < 3 or cv2.contourArea(polygon.astype(np.float32)) < MIN_AREA * width * height:
            continue
        for k, line in enumerate(choice):
            if line is not None:
                share, pixels = _evidence(polygon, *line, masks[k])
                weak |= share < 0.3
                total += pixels
        if not weak:
            scored.append((total, polygon))
    for _, polygon in sorted(scored, key=lambda c: -c[0])[:LINE_TRIES]:
        sides = _sides(polygon, smooth.shape)
        if sides is not None and _corners(sides) is not None:
            region = np.zeros(smooth.shape, np.uint8)
            cv2.fillConvexPoly(region, np.round(polygon).astype(np.int32), 1)
            values = smooth[region > 0]
            yield sides, float(np.mean(values >= 0.6 * np.percentile(values, 90)))


# --- the quadrilateral's geometry ------------------------------------------------------------


def _clipped_area(corners: np.ndarray, shape: tuple[int, int]) -> float:
    """Area of the quadrilateral within the picture's bounds."""
    height, width = shape
    frame = np.array([[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]])
    area, _ = cv2.intersectConvexConvex(corners.astype(np.float32), frame.astype(np.float32))
    return float(area)


def _is_rectangular(corners: np.ndarray, shape: tuple[int, int]) -> bool:
    """Convex, every angle near 90 degrees, no corner far outside the picture."""
    height, width = shape
    if np.any(corners < -0.3 * max(height, width)) or np.any(corners > 1.3 * max(height, width)):
        return False
    turns = []
    for k in range(4):
        a, b, c = corners[k - 1], corners[k], corners[(k + 1) % 4]
        u, v = a - b, c - b
        cos = float(np.dot(u, v) / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-9))
        if abs(np.degrees(np.arccos(np.clip(cos, -1, 1))) - 90) > MAX_ANGLE_OFF:
            return False
        turns.append(np.sign(u[0] * v[1] - u[1] * v[0]))
    return abs(sum(turns)) == 4


def order_corners(corners: np.ndarray) -> np.ndarray:
    """The four corners as TL, TR, BR, BL: clockwise on screen, from the one nearest the top left."""
    corners = np.asarray(corners, dtype=np.float64)
    centre = corners.mean(axis=0)
    angles = np.arctan2(corners[:, 1] - centre[1], corners[:, 0] - centre[0])
    ordered = corners[np.argsort(angles)]  # increasing angle, y down: clockwise on screen
    start = int(np.argmin(ordered.sum(axis=1)))
    return np.roll(ordered, -start, axis=0)


# --- refinement and verdict on the full picture ----------------------------------------------

SAMPLES = 40  # profiles across each side


def _full_side(side: _Side, fx: float, fy: float) -> _Side:
    """A side found on the small copy, in the full picture's pixels."""
    point = (side.point + 0.5) * (fx, fy) - 0.5
    direction = side.direction * (fx, fy)
    return _Side(point, direction / np.linalg.norm(direction), side.border)


def _profiles(blurred: np.ndarray, points: np.ndarray, normals: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Grey levels along the normal through each point (one row per point)."""
    xs = (points[:, 0, None] + offsets[None, :] * normals[:, 0, None]).astype(np.float32)
    ys = (points[:, 1, None] + offsets[None, :] * normals[:, 1, None]).astype(np.float32)
    return cv2.remap(blurred, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)


def _band_median(profiles: np.ndarray, at: np.ndarray, first: int, last: int) -> np.ndarray:
    """Per profile, the median of its values from at + first to at + last (clipped to the profile)."""
    columns = np.clip(at[:, None] + np.arange(first, last + 1)[None, :], 0, profiles.shape[1] - 1)
    values = np.sort(profiles[np.arange(len(profiles))[:, None], columns], axis=1)
    return values[:, values.shape[1] // 2]


def _steps(profiles: np.ndarray, search: int, band: int) -> tuple[np.ndarray, ...]:
    """Per profile: offset of the steepest fall within +-search of the middle (sub-pixel),
    its steepness, the median grey level inside (before it) and outside (after it), and the
    share of that difference that falls within 3 px of it."""
    middle = profiles.shape[1] // 2
    slope = profiles[:, 2:] - profiles[:, :-2]  # slope[j] is the central difference at j + 1
    first = middle - 1 - search
    window = slope[:, first - 1 : middle + search + 1]  # one more each side for the parabola
    j = np.argmin(window[:, 1:-1], axis=1) + 1
    rows = np.arange(len(profiles))
    before, centre, after = window[rows, j - 1], window[rows, j], window[rows, j + 1]
    curvature = before - 2 * centre + after
    shift = np.clip(0.5 * (before - after) / np.maximum(curvature, 1e-6), -0.5, 0.5)
    at = j - 1 + first + 1  # the profile index of the fall
    # A fall at the window's end is a slope that goes on: no edge there.
    peaked = (j > 1) & (j < window.shape[1] - 2) & (curvature > 1e-6)
    inside = _band_median(profiles, at, -band, -3)
    outside = _band_median(profiles, at, 3, band)
    # The paper's own trend (a vignette, a shadow) carried on past the edge: beyond paper's
    # end the desk departs from it, beyond a fold or a grid line the paper follows it.
    half = (band + 3) // 2
    trend = (_band_median(profiles, at, -half, -3) - _band_median(profiles, at, -band, -half)) / max((band - 3) / 2, 1)
    expected = inside + trend * (band + 3)
    # How much of the whole fall happens within 3 px: most of it at a sheet's edge, little
    # at a shadow's or a vignette's edge, however dark.
    near = profiles[rows, np.maximum(at - 3, 0)] - profiles[rows, np.minimum(at + 3, profiles.shape[1] - 1)]
    sharpness = near / np.maximum(inside - outside, 1.0)
    return at - middle + shift, np.where(peaked, -centre / 2, 0.0), inside, outside, sharpness, expected


def _fit(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A line through the points, robust to a few strays: (point, direction, inlier mask)."""
    vx, vy, x0, y0 = cv2.fitLine(points.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
    direction, point = np.array([vx, vy], np.float64), np.array([x0, y0], np.float64)
    normal = np.array([-direction[1], direction[0]])
    inliers = np.abs((points - point) @ normal) <= 1.5
    if inliers.sum() >= 5:
        vx, vy, x0, y0 = cv2.fitLine(points[inliers].astype(np.float32), cv2.DIST_L2, 0, 0.01, 0.01).ravel()
        direction, point = np.array([vx, vy], np.float64), np.array([x0, y0], np.float64)
    return point, direction, inliers


def _samples(sides: list[_Side], corners: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Points along each side of its own (inside the picture, clear of the corners), the
    outward normal at each (paper inside, desk outside) and the side each belongs to."""
    height, width = shape
    centre = corners.mean(axis=0)
    t = np.linspace(0.06, 0.94, SAMPLES)[:, None]
    points, normals, owners = [], [], []
    for k, side in enumerate(sides):
        if side.border is not None:
            continue
        start, end = corners[k], corners[(k + 1) % 4]
        along = start + t * (end - start)
        along = along[
            (along[:, 0] >= 1) & (along[:, 0] <= width - 2) & (along[:, 1] >= 1) & (along[:, 1] <= height - 2)
        ]
        normal = np.array([-side.direction[1], side.direction[0]])
        if np.dot(normal, (start + end) / 2 - centre) < 0:
            normal = -normal
        points.append(along)
        normals.append(np.broadcast_to(normal, along.shape))
        owners.append(np.full(len(along), k))
    return np.concatenate(points), np.concatenate(normals), np.concatenate(owners)


def _refine(blurred: np.ndarray, sides: list[_Side], corners: np.ndarray, search: int, wide: int = 1) -> list[_Edge]:
    """Each side of its own re-found on the full picture between its two corners (all
    sides' profiles in one go), as _Edges; border sides are kept as they are."""
    band = wide * max(6, round(0.012 * max(blurred.shape)))
    points, normals, owners = _samples(sides, corners, blurred.shape)
    offsets = np.arange(-(search + band + 1), search + band + 2, dtype=np.float64)
    offset, step, lit, dim, sharpness, expected = _steps(_profiles(blurred, points, normals, offsets), search, band)
    edges = []
    for k, side in enumerate(sides):
        found = (owners == k) & (step >= MIN_STEP)
        if side.border is not None:
            edges.append(_Edge(side, 1.0, 1.0, 1.0, 1.0))
            continue
        if found.sum() < 5 or (owners == k).sum() < 8:
            edges.append(_Edge(side, 0.0, 0.0, 0.0, 0.0))
            continue
        point, direction, inliers = _fit(points[found] + offset[found, None] * normals[found])
        if not inliers.any():
            edges.append(_Edge(side, 0.0, 0.0, 0.0, 0.0))
            continue
        contrast = (lit[found] - dim[found]) / np.maximum(lit[found], 1.0)
        edges.append(
            _Edge(
                _Side(point, direction),
                float(inliers.sum()) / float((owners == k).sum()),
                float(np.median(contrast[inliers])),
                float(np.median(step[found][inliers])),
                float(np.median(sharpness[found][inliers])),
                float(np.median(((expected - dim) / np.maximum(lit, 1.0))[found][inliers])),
            )
        )
    return edges


def _parallel(edges: list[_Edge], k: int) -> _Edge:
    """A stand-in side kept parallel to its opposite side of its own as that is refined."""
    side, opposite = edges[k].side, edges[(k + 2) % 4].side
    if opposite.border is not None:
        return edges[k]
    direction = -opposite.direction if np.dot(opposite.direction, side.direction) < 0 else opposite.direction
    return _Edge(_Side(side.point, direction, side.border), 1.0, 1.0, 1.0, 1.0)


def _examine(
    blurred: np.ndarray, sides: list[_Side], search: int, wide: int = 1
) -> tuple[np.ndarray, list[_Edge]] | None:
    """Refine the sides of its own twice (the second time near the first fit); the corners
    and the edges, or None when the sides no longer make a quadrilateral."""
    edges = [_Edge(s, 1.0, 1.0, 1.0, 1.0) for s in sides]
    for reach in (search, 3):
        corners = _corners([e.side for e in edges])
        if corners is None:
            return None
        edges = _refine(blurred, [e.side for e in edges], corners, reach, wide)
        if any(e.support == 0.0 for e in edges):
            return None
        edges = [_parallel(edges, k) if e.side.border else e for k, e in enumerate(edges)]
    corners = _corners([e.side for e in edges])
    return (corners, edges) if corners is not None else None


def _verdict(
    corners: np.ndarray, edges: list[_Edge], fill: float, shape: tuple[int, int], strict: bool = False
) -> Sheet | None:
    """The sheet, if the refined candidate passes every test (module docstring, step 3)."""
    own = [e for e in edges if e.side.border is None]
    if fill < MIN_FILL or not _is_rectangular(corners, shape):
        return None
    for e in own:
        if strict and (e.support < STRICT_SUPPORT or e.departure < MIN_CONTRAST):
            return None
        if e.support < MIN_SUPPORT or e.contrast < MIN_CONTRAST or e.step < MIN_STEP or e.sharpness < MIN_SHARPNESS:
            return None
    area = _clipped_area(corners, shape) / (shape[0] * shape[1])
    if area < MIN_AREA:
        return None
    confidence = float(np.mean([e.support for e in own])) * min(1.0, min(e.contrast for e in own) / 0.1)
    cut = tuple(e.side.border for e in edges if e.side.border is not None)
    return Sheet(order_corners(corners), min(1.0, confidence), area, cut)


def _first_passing(
    candidates: list[tuple[float, list[_Side], float]],
    blurred: np.ndarray,
    scale: tuple[float, float],
    search: int,
    strict: bool = False,
) -> Sheet | None:
    """The first candidate in order that the full picture confirms (`_verdict`)."""
    for _, sides, fill in candidates:
        examined = _examine(blurred, [_full_side(s, *scale) for s in sides], search)
        sheet = _verdict(*examined, fill, blurred.shape, strict) if examined else None
        if sheet is not None:
            return sheet
    return None


_SLOTS = ("top", "right", "bottom", "left")


def _quad_sides(corners: np.ndarray, cut: tuple[str, ...]) -> list[_Side]:
    """The sides of a quadrilateral (TL, TR, BR, BL) as top, right, bottom, left; those
    named in `cut` stand in for sides outside the frame."""
    sides = []
    for i, name in enumerate(_SLOTS):
        along = corners[(i + 1) % 4] - corners[i]
        sides.append(_Side(corners[i], along / max(float(np.linalg.norm(along)), 1e-9), name if name in cut else None))
    return sides


def _completed(sheet: Sheet, smooth: np.ndarray, blurred: np.ndarray, scale: tuple[float, float],
               search: int) -> Sheet:  # fmt: skip
    """The sheet with a side it took for outside the frame found after all, if there is one:
    a pale desk joins the paper's region where the sheet's edge is faint, and the region
    then runs on to the frame's border. A straight step on that side, within the sheet, is
    tried in its place (greedily, side by side); it must pass the verdict like any side."""
    fx, fy = scale
    corners = (sheet.corners + 0.5) / (fx, fy) - 0.5  # back to the small copy
    slots = tuple(_SLOTS.index(name) for name in sheet.cut)
    lines, _ = _slot_lines(smooth, slots)
    best = sheet
    for k in slots:
        for normal, offset in lines[k]:
            if min(corners @ normal) >= offset:
                continue  # not across the sheet: the stand-in itself, or beyond it
            sides = _quad_sides(corners, best.cut)
            sides[k] = _Side(normal * offset, np.array([-normal[1], normal[0]]))
            # Strict (STRICT_SUPPORT), over three times the width, and a step, not a dark
            # line that falls much more than paper and desk differ (a ruled line near the
            # sheet's end).
            examined = _examine(blurred, [_full_side(side, fx, fy) for side in sides], search, wide=3)
            if examined is None or examined[1][k].sharpness > COMPLETION_SHARPNESS:
                continue
            found = _verdict(*examined, 1.0, blurred.shape, strict=True)
            if found is not None and _shows_more(found, best):
                best = found
                corners = (best.corners + 0.5) / (fx, fy) - 0.5
                break
    return best


def _lone_side_holds(sheet: Sheet, blurred: np.ndarray) -> bool:
    """For a sheet with a single side of its own: desk beyond that side, and no writing up
    to it (the sheet's area drawn once for both tests)."""
    inside = np.zeros(blurred.shape, np.uint8)
    cv2.fillPoly(inside, [np.round(sheet.corners).astype(np.int32)], 1)
    return _desk_beyond(blurred, inside) and not _written_to_its_side(sheet, blurred, inside)


def _desk_beyond(blurred: np.ndarray, inside: np.ndarray) -> bool:
    """For a sheet with a single side of its own: everything in the frame beyond that side
    is desk, darker than the paper (by MIN_CONTRAST, as at its edge), and with no writing on
    it (under STROKES_BEYOND of it less than INK_BEYOND as bright as the rest). A straight
    stroke of a close-up's digit is a sharp edge with paper on its inside too, but beyond it
    lies more paper, not a strip of desk; a hard shadow across a close-up is a sharp edge
    with paper beyond, darker, and the digit's strokes on it. `inside`: 1 on the sheet."""
    beyond = blurred[inside == 0]
    if beyond.size < 0.01 * blurred.size:
        return False
    paper = float(np.median(blurred[inside == 1]))
    desk = float(np.median(beyond))
    writing = np.count_nonzero(beyond < INK_BEYOND * desk)
    return desk < (1 - MIN_CONTRAST) * paper and writing < STROKES_BEYOND * beyond.size


def _written_to_its_side(sheet: Sheet, blurred: np.ndarray, inside: np.ndarray) -> bool:
    """For a sheet with a single side of its own: whether writing runs up to that side
    (SIDE_STRIP, INK_STRENGTH, WRITTEN_SIDE above). `inside`: 1 on the sheet."""
    k = next(i for i, name in enumerate(_SLOTS) if name not in sheet.cut)
    a, b = (tuple(int(v) for v in np.round(sheet.corners[i])) for i in (k, (k + 1) % 4))
    depth = max(6, round(SIDE_STRIP * min(blurred.shape)))
    strip = np.zeros(blurred.shape, np.uint8)
    cv2.line(strip, a, b, 1, thickness=2 * depth + 1)
    cv2.line(strip, a, b, 0, thickness=5)  # the edge's own fall, 2 px either side
    strip &= inside
    strip[:depth], strip[-depth:], strip[:, :depth], strip[:, -depth:] = 0, 0, 0, 0  # corners beyond the frame
    if not strip.any():
        return False
    paper = cv2.dilate(blurred, np.ones((2 * depth + 1, 2 * depth + 1), np.uint8))
    dark = blurred[strip == 1] < (1 - INK_STRENGTH) * paper[strip == 1].astype(np.float64)
    return np.count_nonzero(dark) > WRITTEN_SIDE * dark.size


def _shows_more(new: Sheet, old: Sheet) -> bool:
    """Whether `new` has more sides of its own in view than `old` and lies within it."""
    if len(new.cut) >= len(old.cut) or new.area > 1.05 * old.area:
        return False
    centre = new.corners.mean(axis=0).astype(np.float32)
    return cv2.pointPolygonTest(old.corners.astype(np.float32), (float(centre[0]), float(centre[1])), False) >= 0


def find_sheet(gray: np.ndarray) -> Sheet | None:
    """The sheet of paper in a photo (module docstring), or None when there is none in view.

    `gray`: the photo in grey levels (uint8; colour is converted), longer side at most about
    1024 px (`downscale`). Corners are in `gray`'s pixels. The likeliest candidates are
    examined first, largest first, and the first that passes is the sheet: a shadow or a
    pen across the sheet cuts the bright region into smaller ones, each bounded by a
    sharp-looking edge somewhere. Only if none passes are the other levels tried, then the
    straight edges. A candidate with a single side of its own says least: tried last. A
    sheet found with sides outside the frame is checked for a faint edge there
    (`_completed`)."""
    gray = as_gray(gray)
    if max(gray.shape) < MIN_SIDE or min(gray.shape) < MIN_SIDE // 2:
        return None
    smooth, fx, fy = _small(gray)
    blurred = cv2.GaussianBlur(gray, (5, 5), 1.0)
    search = round(3 * max(fx, fy)) + 4  # the small copy's error, a couple of its pixels
    tried: list[np.ndarray] = []
    lone: list[tuple[float, list[_Side], float]] = []
    sheet = None
    for tier in (0, 1, 2):
        candidates = []
        for sides, fill in _candidates(smooth, tier):
            corners = _corners(sides)
            if fill < MIN_FILL or any(np.abs(corners - other).max() < 2 for other in tried):
                continue
            tried.append(corners)
            own = sum(side.border is None for side in sides)
            (lone if own == 1 else candidates).append((_clipped_area(corners, smooth.shape), sides, fill))
        if tier < 2:  # regions: largest first; straight edges come most edge first
            candidates.sort(key=lambda c: -c[0])
        sheet = _first_passing(candidates, blurred, (fx, fy), search, strict=tier == 2)
        if sheet is not None:
            break
    if sheet is None:
        sheet = _first_passing(sorted(lone, key=lambda c: -c[0]), blurred, (fx, fy), search, strict=True)
        # Only the largest that passes is asked about its desk and its writing: a smaller lone
        # candidate inside a rejected one is a part of the same close-up, not another sheet.
        sheet = sheet if sheet is not None and _lone_side_holds(sheet, blurred) else None
    return _completed(sheet, smooth, blurred, (fx, fy), search) if sheet is not None and sheet.cut else sheet


# --- rectification and coordinates -----------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Rectified:
    """The sheet straightened: `image` and the homography from its pixels to the source's."""

    image: np.ndarray
    homography: np.ndarray  # 3x3: (x, y, 1) of a rectified pixel centre -> the source's


def _opening(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> float:
    """Degrees between the lines a-b and c-d (homogeneous points, last coordinate 1)."""
    u, v = b[:2] - a[:2], d[:2] - c[:2]
    return float(np.degrees(np.arccos(min(1.0, abs(np.dot(u, v)) / (np.linalg.norm(u) * np.linalg.norm(v))))))


def paper_aspect(corners: np.ndarray, shape: tuple[int, int]) -> float:
    """Width / height of the paper itself, from its four corners in a picture of `shape`.

    Perspective shortens the far side: the mean of opposite sides is off by the keystone.
    With the camera's principal point at the picture's centre and square pixels, the two
    vanishing points give the focal length and then the true aspect (Zhang and He's
    whiteboard rectification). When one pair of sides is nearly parallel in the picture
    (under MIN_CONVERGENCE degrees apart: the vanishing point is then lost in the corners'
    error), as for a sheet square to a camera tilted toward it, the focal length cannot be
    measured and a phone's typical one is assumed (ASSUMED_FOCAL); without perspective at
    all the focal length does not matter."""
    height, width = shape
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    tl, tr, br, bl = (np.append(np.asarray(c, np.float64) - centre, 1.0) for c in corners)
    k2 = np.dot(np.cross(tl, br), bl) / np.dot(np.cross(tr, br), bl)
    k3 = np.dot(np.cross(tl, br), tr) / np.dot(np.cross(bl, br), tr)
    n2, n3 = k2 * tr - tl, k3 * bl - tl
    diagonal = float(np.hypot(width, height))
    focal2 = (ASSUMED_FOCAL * diagonal) ** 2
    if min(_opening(tl, tr, bl, br), _opening(tl, bl, tr, br)) > MIN_CONVERGENCE:
        measured = -(n2[0] * n3[0] + n2[1] * n3[1]) / (n2[2] * n3[2])
        if (0.2 * diagonal) ** 2 < measured < (5 * diagonal) ** 2:
            focal2 = measured
    inverse = np.diag([1 / np.sqrt(focal2), 1 / np.sqrt(focal2), 1.0])
    a, b = inverse @ n2, inverse @ n3
    return float(np.sqrt(np.dot(a, a) / np.dot(b, b)))


def rectify(gray: np.ndarray, sheet: Sheet, margin: float = 0.02, min_margin: int = 4) -> Rectified:
    """Warp the sheet to an upright rectangle of the paper's aspect (`paper_aspect`) and of
    its size in the picture (never larger than the picture), inset on every side by
    `margin` of its shorter side (at least `min_margin` px) so its edge, its shadow and the
    desk stay outside the output. A sheet cut by the frame keeps the affine aspect of what
    is known of it; the part outside the frame mirrors the picture across the frame's edge:
    repeating the edge's last pixels would draw every dark speck on it out into a stroke."""
    gray = as_gray(gray)
    tl, tr, br, bl = sheet.corners
    across = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    down = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    aspect = paper_aspect(sheet.corners, gray.shape) if not sheet.cut else across / down
    width, height = (across, across / aspect) if across >= down * aspect else (down * aspect, down)
    scale = min(1.0, gray.shape[1] / width, gray.shape[0] / height)
    width, height = width * scale, height * scale
    # The sheet's corners are pixel centres of the source; its rectangle runs 0..width here.
    rect = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    full = cv2.getPerspectiveTransform(rect, sheet.corners.astype(np.float32))
    inset = max(float(min_margin), margin * min(width, height))
    shift = np.array([[1, 0, inset], [0, 1, inset], [0, 0, 1]], np.float64)
    homography = full @ shift
    size = (max(1, int(width - 2 * inset)), max(1, int(height - 2 * inset)))
    image = cv2.warpPerspective(
        gray, homography, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT_101
    )
    if sheet.cut or not _inside_the_frame(homography, size, gray.shape):
        _blank_beyond_the_frame(image, gray.shape, homography)
    return Rectified(image, homography)


def _inside_the_frame(homography: np.ndarray, size: tuple[int, int], shape: tuple[int, ...]) -> bool:
    """Whether the straightened page lies wholly inside the picture. A sheet whose edge runs
    out of the frame without being found cut (its corner fitted a little beyond the frame's
    edge) still reaches past it, and the mirror there would copy a label near the edge into
    a mark of its own. The page is a convex quadrilateral in the picture: inside when its
    four corners are."""
    width, height = size
    corners = np.array([[[0, 0], [width, 0], [width, height], [0, height]]], np.float64) - 0.5
    mapped = cv2.perspectiveTransform(corners, homography)[0]
    return bool(
        (mapped >= -0.5).all() and (mapped[:, 0] <= shape[1] - 0.5).all() and (mapped[:, 1] <= shape[0] - 0.5).all()
    )


BLANK_SCALE = 8  # the paper beyond the frame: a median over BLANK_SCALE * BLANK_WINDOW px...
BLANK_WINDOW = 9  # ...of the mirrored picture, far wider than any written or printed mark


def _blank_beyond_the_frame(image: np.ndarray, shape: tuple[int, ...], homography: np.ndarray) -> None:
    """Where the straightened sheet lies beyond the frame, the mirror of the picture keeps
    the paper's light but also mirrors every mark near the edge: a label cut by the frame
    became one word with its own reflection, a digit near it two digits. There the page
    gets the mirrored paper's local median instead: its light without its marks."""
    height, width = shape[:2]
    inside = cv2.warpPerspective(
        np.ones((height, width), np.uint8),
        homography,
        (image.shape[1], image.shape[0]),
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    outside = inside == 0
    if not outside.any():
        return
    small = cv2.resize(
        image,
        (max(1, image.shape[1] // BLANK_SCALE), max(1, image.shape[0] // BLANK_SCALE)),
        interpolation=cv2.INTER_AREA,
    )
    paper = cv2.resize(
        cv2.medianBlur(small, BLANK_WINDOW), (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR
    )
    image[outside] = paper[outside]


def box_to_source(box: Box, homography: np.ndarray) -> Box:
    """A box in rectified pixels mapped to the source picture: the box around its mapped corners."""
    x0, y0, x1, y1 = box
    # Box edges to pixel-centre coordinates and back: edge e lies at centre coordinate e - 0.5.
    corners = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], np.float64) - 0.5
    mapped = cv2.perspectiveTransform(corners, homography)[0] + 0.5
    low, high = np.floor(mapped.min(axis=0) + 1e-6), np.ceil(mapped.max(axis=0) - 1e-6)
    return int(low[0]), int(low[1]), int(high[0]), int(high[1])


def box_to_original(box: Box, scale: float, shape: tuple[int, int] | None = None) -> Box:
    """A box in the analysed (downscaled) picture's pixels scaled to the original picture's,
    `scale` being original pixels per analysed pixel (`downscale`); clipped to `shape`
    (height, width) when given."""
    x0, y0, x1, y1 = (float(v) * scale for v in box)
    out = int(np.floor(x0 + 1e-6)), int(np.floor(y0 + 1e-6)), int(np.ceil(x1 - 1e-6)), int(np.ceil(y1 - 1e-6))
    return clip_box(out, shape) if shape is not None else out


def clip_box(box: Box, shape: tuple[int, int]) -> Box:
    """`box` inside a picture of `shape` (height, width)."""
    height, width = shape
    x0, y0, x1, y1 = box
    return min(max(x0, 0), width), min(max(y0, 0), height), min(max(x1, 0), width), min(max(y1, 0), height)


def points_to_original(points: np.ndarray, scale: float) -> np.ndarray:
    """Points (pixel centres, e.g. a sheet's corners) in the analysed picture mapped to the
    original picture, `scale` being original pixels per analysed pixel (`downscale`)."""
    return (np.asarray(points, dtype=np.float64) + 0.5) * scale - 0.5
