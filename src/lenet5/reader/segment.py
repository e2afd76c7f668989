"""Steps 1-3 of reading a number (lenet5.reader.read): the line's ink, over-segmented into
pieces, and the segmentation graph's arcs.

1. Ink. The picture's ink against its local background, exactly as for one digit
   (lenet5.vision.page): uneven light and coloured paper come out flat.
2. Over-segmentation. Connected blobs of ink, specks and page furniture dropped, and each
   blob wider than a digit cut along least-ink paths from its top to its bottom (where two
   digits touch, such a path crosses only the joint). This makes more pieces than there are
   digits, on purpose: a broken 5 is two blobs, a touching "23" gets several candidate cuts.
3. The segmentation graph. Pieces are ordered left to right; a node sits between two
   pieces, and an arc from node i to node j is the candidate digit made of pieces i..j-1
   (no wider than a digit can be, no clear gap inside).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from lenet5.vision import page
from lenet5.vision.preprocess import NoInkError, render_mnist

MAX_PIECES_PER_DIGIT = 10  # an arc joins at most this many pieces (a 5's bar, a broken 0, cut slices)
MAX_DIGIT_WIDTH = 1.6  # of the line height: no single digit is wider (at 1.3 wide slanted 5s and 0s were cut in two)
CUT_WIDTH = 0.75  # blobs wider than this (of the line height) may be several touching digits
# Candidate cuts: a blob that may be one wide digit (a 0, a 2) gets a few, far apart; a blob
# wider than any digit (WIDE_BLOB) surely holds several touching digits and gets many,
# close together (measured with bench/tune_reader.py: more cuts everywhere split single
# digits; fewer everywhere miss the joints of touching ones).
WIDE_BLOB = 1.1  # of the line height
CUTS = {False: (3, 0.2), True: (7, 0.1)}  # wide blob? -> (cuts per line height of width, min spacing)
CUT_INK_POWER = 12  # cuts weigh ink by this power of it (_cut_paths)
CUT_STEP = 0.1  # the cost of a cut's sideways step, against up to 1 per pixel of ink crossed
GAP = 0.2  # a clear gap this wide (of the line height) between pieces: never inside one digit
LINE_HEIGHT = 40  # px: lines are segmented at this digit height (larger pictures are shrunk)
SEVERAL_DIGITS = 1.4  # a blob this many times wider than high is several touching digits (_blob_height)
COLUMN_HEIGHTS = 90  # percentile of a wide blob's column heights taken as a digit's height
SPECK = 0.03  # blobs with less ink than this share of the largest are dust
# Stroke widths (of the line height) left as they are; outside, brought to page.STROKE_TARGET.
# A line's lower bound is above one digit's (page.STROKE_BAND, 0.09): pen lines photographed
# at 0.09-0.12 of their height read better thickened (the photo tuning sets: 14 more numbers
# right of 440, none fewer on any set), and clean MNIST lines (about 0.14) are untouched.
LINE_STROKE_BAND = (0.12, page.STROKE_BAND[1])
# A line holds at most this many pieces (about 25 digits, cuts included): more is not a line
# of digits (a page of dots, a texture), and refusing it keeps the work per picture bounded.
MAX_PIECES = 64


@dataclass(frozen=True)
class Piece:
    """An elementary segment: some of one blob's pixels (all of them, or those between two cuts)."""

    mask: np.ndarray  # bool, over the piece's own box
    x0: int
    y0: int
    x1: int  # exclusive
    y1: int

    @property
    def centre(self) -> float:
        return (self.x0 + self.x1) / 2


def _blob_height(labels: np.ndarray, blob: page.Blob) -> float:
    """A blob's height as one digit's. A blob SEVERAL_DIGITS times wider than high is
    several touching digits, and its box spans all of them, their different sizes and
    baselines (in our touching lines a quarter taller than one digit); the height of its
    columns of ink is each digit's own, so a high percentile of them is a digit's height.
    (Not for every blob wider than high: a wide 2's short columns along its bar would make
    it look low.)"""
    if blob.width <= SEVERAL_DIGITS * blob.height:
        return float(blob.height)
    own = labels[blob.y0 : blob.y1, blob.x0 : blob.x1] == blob.index
    rows = np.arange(blob.height)[:, None]
    inked = own.any(axis=0)
    top = np.where(own, rows, blob.height).min(axis=0)[inked]
    bottom = np.where(own, rows, -1).max(axis=0)[inked]
    return min(float(blob.height), float(np.percentile(bottom - top + 1, COLUMN_HEIGHTS)))


def _line_height(labels: np.ndarray, blobs: list[page.Blob]) -> float:
    """The height of a digit on this line: the median of the substantial blobs' (_blob_height)."""
    heaviest = max(b.mass for b in blobs)
    return float(np.median([_blob_height(labels, b) for b in blobs if b.mass > 0.3 * heaviest]))


def _least_ink(ink: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic programming down the rows: the least ink a path from the top row to each
    pixel crosses (one column sideways per row at most, `step` per sideways move), and
    which way each pixel's best path came from (-1 left, 0 above, +1 right)."""
    h, w = ink.shape
    total = np.empty((h, w), dtype=np.float32)
    came_from = np.zeros((h, w), dtype=np.int8)
    total[0] = ink[0]
    from_left = np.empty(w, dtype=np.float32)
    from_right = np.empty(w, dtype=np.float32)
    for y in range(1, h):
        above = total[y - 1]
        from_left[0], from_left[1:] = np.inf, above[:-1] + step
        from_right[-1], from_right[:-1] = np.inf, above[1:] + step
        best = np.minimum(above, np.minimum(from_left, from_right))
        came_from[y] = np.where(best == above, 0, np.where(best == from_left, -1, 1))
        total[y] = best + ink[y]
    return total, came_from


def _trace(came_from: np.ndarray, row: int, columns: np.ndarray) -> np.ndarray:
    """The columns of the best paths from the top row down to (row, each of `columns`):
    an array [row + 1, len(columns)]."""
    paths = np.empty((row + 1, len(columns)), dtype=np.int64)
    paths[row] = columns
    for y in range(row, 0, -1):
        paths[y - 1] = paths[y] + came_from[y, paths[y]]
    return paths


def _cut_paths(ink: np.ndarray, height: float) -> list[np.ndarray]:
    """Candidate cuts through a blob that may be several touching digits.

    A cut is a path from the top row to the bottom one, moving at most one column per row,
    that crosses as little ink as it can (LeCun et al. 1998, Section V, find cuts from the
    ink and its contours; this is the usual "minimum-ink path" form of that idea). Where
    two slanted digits touch, such a cut follows the slant through the gap and crosses only
    the joint, which a straight vertical cut cannot do. For every column of the middle row
    away from the blob's ends, the best cut through it (down from the top, up from the
    bottom); the cheapest are kept, spaced as CUTS says. Generous on purpose: a
    wrong cut costs only arcs that the recogniser then rejects. Returns, per cut, its
    column in each row."""
    h, w = ink.shape
    margin = max(1, int(0.2 * height))
    if w <= 2 * margin or h < 3:
        return []
    wide = w > WIDE_BLOB * height
    # Where two strokes touch, their soft edges meet in a seam a little fainter than either
    # stroke's core; a high power of the ink makes that seam nearly free to follow while
    # crossing a core still costs about 1 per pixel. Only in a blob wider than any digit:
    # in one digit, the same power makes cheap cuts through every thinner stretch of stroke.
    cost = ink**CUT_INK_POWER if wide else ink
    down, down_from = _least_ink(cost, CUT_STEP)
    up, up_from = _least_ink(cost[::-1], CUT_STEP)
    middle = h // 2
    through = down[middle] + up[h - 1 - middle] - cost[middle]
    columns = np.arange(margin, w - margin)
    columns = columns[np.argsort(through[columns], kind="stable")]
    per_height, min_spacing = CUTS[wide]
    spacing = min_spacing * height
    wanted = max(1, math.ceil(per_height * w / height))
    # Every candidate's whole path at once: down from the top to the middle row, and up
    # from the bottom (traced in the flipped picture) to it.
    upper = _trace(down_from, middle, columns)
    lower = _trace(up_from, h - 1 - middle, columns)[::-1]
    candidates = np.concatenate([upper, lower[1:]]).T  # [len(columns), h]
    paths: list[np.ndarray] = []
    open_ = np.ones(len(candidates), dtype=bool)  # not too close to a cut already kept
    for k in np.flatnonzero(open_):
        if not open_[k]:
            continue
        paths.append(candidates[k])
        if len(paths) >= wanted:
            break
        open_ &= np.abs(candidates - candidates[k]).mean(axis=1) >= spacing
    return sorted(paths, key=lambda path: path.mean())


def _piece(mask: np.ndarray, ox: int, oy: int) -> Piece | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return Piece(mask[r0:r1, c0:c1], ox + int(c0), oy + int(r0), ox + int(c1), oy + int(r1))


def over_segment(labels: np.ndarray, ink: np.ndarray, blobs: list[page.Blob], height: float) -> list[Piece]:
    """Elementary pieces, left to right: each blob, cut where it may hold touching digits."""
    pieces: list[Piece] = []
    for blob in blobs:
        own = labels[blob.y0 : blob.y1, blob.x0 : blob.x1] == blob.index
        if blob.width <= CUT_WIDTH * height:
            found = [_piece(own, blob.x0, blob.y0)]
        else:
            columns = np.arange(blob.width)[None, :]
            cuts = _cut_paths(ink[blob.y0 : blob.y1, blob.x0 : blob.x1] * own, height)
            edges = np.stack([np.zeros(blob.height, dtype=np.int64), *cuts, np.full(blob.height, blob.width)])
            # Crossing cuts are made to meet instead, so every pixel lies in exactly one piece.
            edges = np.maximum.accumulate(edges, axis=0)[:, :, None]  # [cut, row, 1]
            found = [
                _piece(own & (columns >= a) & (columns < b), blob.x0, blob.y0) for a, b in itertools.pairwise(edges)
            ]
        pieces += [p for p in found if p is not None]
    return sorted(pieces, key=lambda p: p.centre)


def _arcs(pieces: list[Piece], height: float) -> list[tuple[int, int]]:
    """The segmentation graph's arcs (i, j): pieces i..j-1 taken as one digit."""
    arcs = []
    for i in range(len(pieces)):
        x0, x1 = pieces[i].x0, pieces[i].x1
        for j in range(i + 1, min(len(pieces), i + MAX_PIECES_PER_DIGIT) + 1):
            if j > i + 1:
                new = pieces[j - 1]
                if new.x0 - x1 > GAP * height:  # a clear gap: the pieces belong to different digits
                    break
                x0, x1 = min(x0, new.x0), max(x1, new.x1)
            if x1 - x0 > MAX_DIGIT_WIDTH * height and j > i + 1:
                break
            arcs.append((i, j))
    return arcs


def _render_arc(ink: np.ndarray, pieces: list[Piece]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The arc's own ink (only its pieces' pixels, with their soft rim) as an MNIST digit."""
    x0, y0 = min(p.x0 for p in pieces), min(p.y0 for p in pieces)
    x1, y1 = max(p.x1 for p in pieces), max(p.y1 for p in pieces)
    own = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    for p in pieces:
        own[p.y0 - y0 : p.y1 - y0, p.x0 - x0 : p.x1 - x0] |= p.mask
    rim = cv2.dilate(own, np.ones((3, 3), np.uint8))  # the anti-aliased edge just below the threshold
    return render_mnist(ink[y0:y1, x0:x1] * rim), (x0, y0, x1, y1)


def _ink_blobs(strength: np.ndarray, threshold: float, furniture: bool = True) -> tuple[np.ndarray, list[page.Blob]]:
    """Labelled blobs of ink, without dust, and without page furniture unless an earlier
    stage took it out already (`furniture=False`: a word cut from a page fills its own
    canvas, which is no page edge)."""
    mask = (strength > threshold).astype(np.uint8)
    labels, blobs = page.find_blobs(mask, strength)
    h, w = mask.shape
    if furniture:
        blobs = [b for b in blobs if not page.is_page_furniture(b, h, w)]
    if not blobs:
        raise NoInkError("no ink found (blank or near-uniform image)")
    heaviest = max(b.mass for b in blobs)
    return labels, [b for b in blobs if b.mass >= SPECK * heaviest]


def _even_strokes(strength: np.ndarray, threshold: float, height: float) -> np.ndarray:
    """Stroke width brought to MNIST's proportion of the digit height, once for the whole
    line (as lenet5.vision.page does for one digit): a pen line is thickened, a marker
    thinned. Done before the blobs are found, so pieces and their ink agree. (Per candidate
    instead, as for one digit, read 5 points fewer numbers right: bench/tune_reader.py.)"""
    width = page.stroke_width((strength > threshold).astype(np.uint8))
    if width <= 0 or height < 8:
        return strength
    ratio = width / height
    if LINE_STROKE_BAND[0] <= ratio <= LINE_STROKE_BAND[1]:
        return strength
    radius = round(abs(page.STROKE_TARGET * height - width) / 2)
    if ratio > LINE_STROKE_BAND[1]:
        radius = min(radius, round(width / 2 - 1))
    if radius < 1:
        return strength
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    return cv2.dilate(strength, element) if ratio < LINE_STROKE_BAND[0] else cv2.erode(strength, element)


@dataclass(frozen=True)
class Segmentation:
    """Steps 1-3 of the module docstring for one line: its ink, pieces and arcs."""

    ink: np.ndarray  # soft ink 0..1 at the analysed scale
    scale: float  # analysed pixels per pixel of the picture
    pieces: list[Piece]
    arcs: list[tuple[int, int]]

    def rendered(self, which: list[int] | None = None) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
        """Every arc (or those numbered in `which`) as an MNIST digit (uint8 [arcs, 28, 28])
        and its box in the picture's pixels."""
        arcs = self.arcs if which is None else [self.arcs[k] for k in which]
        rendered = [_render_arc(self.ink, self.pieces[i:j]) for i, j in arcs]
        if not rendered:
            return np.zeros((0, 28, 28), dtype=np.uint8), []
        boxes = [
            (int(x0 / self.scale), int(y0 / self.scale), math.ceil(x1 / self.scale), math.ceil(y1 / self.scale))
            for x0, y0, x1, y1 in (r[1] for r in rendered)
        ]
        return np.stack([r[0] for r in rendered]), boxes


def segment(gray: np.ndarray) -> Segmentation:
    """Steps 1-3 of the module docstring: ink, over-segmentation, the graph's arcs."""
    strength = page.ink_strength(gray)
    return segment_ink(strength, page.ink_threshold(strength))


def segment_ink(strength: np.ndarray, threshold: float, furniture: bool = True) -> Segmentation:
    """Steps 2-3 on ink already found (strength 0..1, ink above `threshold`). For a word that
    an earlier stage cut out of a page and cleaned of rules, edges and specks, `furniture`
    is False: its digit may fill the canvas, and is still a digit."""
    labels, blobs = _ink_blobs(strength, threshold, furniture)
    _bounded(len(blobs))
    height = _line_height(labels, blobs)
    # Segment at a fixed scale, digits about LINE_HEIGHT px high: the cut search and the
    # rendering of every candidate then cost the same whatever the picture's resolution,
    # and a 40 px digit still has strokes several pixels wide.
    scale = min(1.0, LINE_HEIGHT / height)
    if scale < 1.0:
        size = (max(1, round(strength.shape[1] * scale)), max(1, round(strength.shape[0] * scale)))
        strength = cv2.resize(strength, size, interpolation=cv2.INTER_AREA)
    evened = _even_strokes(strength, threshold, height * scale)
    if scale < 1.0 or evened is not strength:  # the blobs found above no longer match the ink
        strength = evened
        labels, blobs = _ink_blobs(strength, threshold, furniture)
        height = _line_height(labels, blobs)
    ink = page.soft_levels(strength, strength > threshold, threshold)  # as for one digit
    _bounded(len(blobs))
    pieces = over_segment(labels, ink, blobs, height)
    _bounded(len(pieces))
    return Segmentation(ink, scale, pieces, _arcs(pieces, height))


def _bounded(pieces: int) -> None:
    if pieces > MAX_PIECES:
        raise NoInkError(f"no number found ({pieces} separate marks: not a line of digits)")
