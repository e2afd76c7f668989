"""Finding the handwriting on a sheet: ink, minus the page's furniture, in lines and words.

Input is a rectified sheet (`sheet.rectify`), or any picture of paper without desk. The steps:

1. Ink strength. The paper's level is estimated with a grey closing wider than any stroke
   but narrower than a shadow (it erases strokes, keeps gradients, soft shadows and hard
   shadow steps: the closing starts at a small share of the page and widens only while the
   strokes found are too wide for it); strength is 1 - picture / paper, a reflectance
   that a shadow does not change, and digits under a hand's shadow are ink as elsewhere.
   Ink is strength above the page's own noise, grown into the strokes' fainter rims (a
   stroke's faint part joins its dark part, a faint smudge alone does not). Light strokes
   on a dark ground are inverted first.
2. Rules. Ruled lines, table and box borders and long underlines are long thin runs of
   ink: a morphological opening with a line as long as the rule keeps exactly them (the
   mask is thickened a pixel across first, so a rule tilted by a degree or two counts). A
   first pass, with lines a quarter of the page long, takes the long rules before anything
   is known about the writing; the text height is then estimated from what is left, and a
   second pass takes rules down to a couple of text heights, then box and cell sides that
   join two rules. A rule must also be slender (a bold "1" is not). Removing a rule cuts
   the strokes that cross it, so its pixels are given back where ink goes on across it on
   both sides, and where a stroke runs along a rule in an ink much darker than the rule's
   (a 1 on a line of squared paper); a box side must be printed as the rules it joins.
   Pieces of a glyph that still fell apart across a rule are joined again.
3. Blobs. What is left is split into connected blobs and each is judged on its own box
   and ink: large pieces on the picture's border (a page edge, desk, a pen), filled regions
   (a blot, by its inscribed circle, several times the page's strokes: a bold digit fills
   its box as much as a blot does, but its strokes are no thicker than its neighbours'),
   a pen lying on the sheet (a straight solid bar longer than the writing is tall, or,
   beside a few digits, shorter but far thicker than their strokes; it never sets the
   text height, and its middle is never taken for a rule), marks
   much fainter than the page's writing (squared paper's grid, show-through, a shadow's
   remains), flat dashes under the text, flat pieces of a fold or a broken rule, and the
   dashes a fold's crease breaks into (thin pieces in one column or row, one after the
   other, several text heights long together) are furniture; blobs below glyph size, short
   slivers and compact dots are minor: they never make a line, they join a word they sit
   in (a decimal point, a detached bit), or are dust.
4. Lines and words. Glyphs are taken left to right; each joins the line whose last glyphs
   it overlaps vertically by half its height (following a line that slopes), if near
   enough (LINE_GAP), or starts a new one. Within a line, a gap wider than WORD_GAP of the
   line's height starts a new word, and so does a glyph twice as tall as the several
   before it (a label's small print run into the digits by a dotted leader). Lines come
   top to bottom, words left to right.

Each word carries its mask and its cleaned ink strength (furniture and other words' ink
removed, the strokes' soft rims kept) for a reader, and a few cheap features that could
help a later stage tell handwriting from print. Nothing here needs the rest of lenet5.
Boxes are (x0, y0, x1, y1) in pixel edges, x1 and y1 exclusive.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from lenet5.photo.sheet import Box, as_gray

MIN_STRENGTH = 0.1  # ink is at least 10% darker than its paper...
NOISE_SIGMAS = 6.0  # ...and well clear of the paper's own noise
RIM = 0.6  # a stroke's rim down to this share of the threshold belongs to it
# Blobs kept on a page, those of most ink first: a full page of handwriting has a few
# hundred, a dense printed one up to a couple of thousand; more is speckle or noise.
MAX_BLOBS = 2000
BACKGROUND_SHARE = 1 / 6  # the page-wide closing's side, as a share of the picture's shorter side
NARROW_SHARE = 1 / 25  # the closing that follows shadows: at least this share of the shorter side...
STROKE_CLOSING = 3.0  # ...and this many times the strokes' width
SOLID = 0.8  # ...and wider than ink this many times its width thick
SOLID_INK = 0.45  # a closing this much darker than the page's paper found no paper: solid ink
LONG_RULE = 0.25  # first pass: rules at least this share of the page long
RULE_HEIGHTS = 2.2  # second pass: rules at least this many text heights long
RULE_SLENDER = 12  # a rule is at least this many times longer than thick
SIDE_SLENDER = 5  # ...a box's side between two rules this many times
DARKER = 1.6  # a rule's pixels this many times as dark as the rule are a stroke drawn along it...
ALONG_HEIGHTS = 1.5  # ...if no longer than this many text heights
CORE = 90  # percentile of a line's ink strength that is its core, not its soft rims
RUN_CORE = 75  # ...of a box side's run, which a digit's darker stroke may touch
OWN_COVER = 0.4  # a glyph's own stroke: the glyph it belongs to spans this share of it at least...
OWN_LONGEST = 0.8  # ...and it spans no more than this share of the page
MIN_GLYPH = 10  # px: smaller blobs are minor whatever the text height (LeNet could not read them)
GLYPH_SHARE = 0.3  # ...and so are blobs under this share of the text height
WORD_GAP = 0.9  # a gap over this share of the line's height separates words (digits of a number are closer)
COMB_GAP = 1.8  # ...unless a box's wall stands in a gap up to this many heights: a comb's boxes
COMB_BOX = 1.5  # ...that hold a digit each: no wider than this many times its height
HEIGHT_BREAK = 0.5  # a glyph twice as tall as the several glyphs before it starts a word
FAINT_SHARE = 0.25  # blobs fainter than this share of the strongest glyph are not writing
LONE_STROKE = 0.5  # a word of one piece at most this wide for its height is one stroke...
CONTINUES = 0.5  # ...looked past its ends for this share of its height...
CONTINUED = 0.45  # ...where other ink on this share of the rows makes it part of something else
SLIVER = 0.2  # a blob this many times thinner than long, and short, is no glyph of its own
BLOT_STROKES = 3.0  # a blot is this many times thicker than the page's strokes at least
BLOT_ROUND = 0.75  # ...and its widest inner circle spans this share of its box's narrower side (a blot is round)
BLOT_LONG = 0.7  # ...and this share of its longer side (a bold 9's solid head spans its width, not its tail)
PEN_HEIGHTS = 2.0  # a solid bar this many text heights long is a pen lying on the sheet...
PEN_SHORT = 1.2  # ...or this many, if it is BLOT_STROKES times thicker than the page's strokes
PEN_STROKES = 2.0  # ...and this many times as thick as the page's strokes (a 1 is not)
PEN_PEER = 0.6  # ...unless writing beside it is drawn this many times as thick (a marker's 1)...
PEN_LONG = 3.0  # ...and it is shorter than this many times that writing's tallest glyph
PEN_PART = 3.0  # ink reached by furniture this many times the page's strokes thick...
PEN_PART_HEIGHT = 0.5  # ...and this share of the text height is a pen's cap, tip or glint
FEW_GLYPHS = 6  # a page with this few glyph-like blobs may have a pen for half its ink
STACK_GAP = 0.25  # pieces one above the other this close (share of the taller's height) are one glyph...
STACK_OVERLAP = 0.3  # ...or overlapping by this share of the shorter's height at most
FAINT_LINE = 0.4  # a line of one glyph under this share of the darkest line's ink strength is no writing...
FAINT_WORDS = 0.25  # ...a line of several under this share (a ballpoint's digits beside bold print)
LONE_SHARE = 0.5  # a line of one glyph under this share of the page's text height is a speck or a hair
LINE_GAP = 4.0  # a glyph this many line heights right of a line starts another
DASH_THIN = 0.25  # pieces at most this share of the text height across (and a stroke's width)...
DASH_STEP = 0.5  # ...in one column (or row), each within this share of the text height of the next...
DASH_DRIFT = 3  # ...and at most this many px aside of it, are one broken line (a fold, a dashed rule)...
DASH_PIECES = 3  # ...if there are this many at least...
DASH_COVER = 0.5  # ...covering this share of the span between its ends (a dotted line's dots: too little)


@dataclass(frozen=True)
class WordFeatures:
    """Cheap measures of a word that may help tell handwriting from print."""

    blobs: int  # glyph-sized blobs (a printed word: one per letter; joined script: fewer)
    pieces: int  # all blobs, dots and detached bars included
    stroke_width: float  # px, twice the mean distance to the background along the strokes' ridges
    stroke_cv: float  # variation of that width along the ridges (a pen's pressure, a font's contrast)
    height_cv: float  # variation of the glyphs' heights (print: regular)
    baseline_spread: float  # spread of the glyphs' bottoms, in line heights (print: aligned)
    ink_mean: float  # mean ink strength (toner is dark and even)
    ink_cv: float  # its variation
    fill: float  # share of the box that is ink
    aspect: float  # width / height


@dataclass(frozen=True, eq=False)
class Word:
    """A word (for digits: a number): its box in the analysed picture, what it is made of."""

    box: Box
    labels: tuple[int, ...]  # its blobs in `Writing.labels`
    mask: np.ndarray  # uint8 0/1, the box's crop: this word's ink
    ink: np.ndarray  # float32 0..1, the box's crop: its ink strength, furniture and other words removed
    features: WordFeatures


@dataclass(frozen=True, eq=False)
class TextLine:
    """A line of writing: glyphs side by side, split into words at wide gaps."""

    box: Box
    words: tuple[Word, ...]  # left to right
    height: float  # typical glyph height, px
    baseline: float  # y of the glyphs' typical bottom


@dataclass(frozen=True, eq=False)
class Writing:
    """Everything `analyse_writing` found, for a reader and for debugging."""

    lines: list[TextLine]  # top to bottom
    strength: np.ndarray  # float32 0..1: ink strength of the whole picture
    mask: np.ndarray  # uint8 0/1: all the ink, furniture included
    labels: np.ndarray  # int32: blob labels of the ink left after the rules were taken out
    text_height: float  # typical glyph height on the page, px (0 when there was none)

    def ink(self) -> np.ndarray:
        """uint8 0/1: the ink of the words found."""
        keep = np.zeros(int(self.labels.max()) + 1, np.uint8)
        for line in self.lines:
            for word in line.words:
                keep[list(word.labels)] = 1
        return keep[self.labels]

    def furniture(self) -> np.ndarray:
        """uint8 0/1: the ink left out (rules, borders, edges, blots, dust)."""
        return cv2.bitwise_and(self.mask, 1 - self.ink())


@dataclass(frozen=True)
class _Blob:
    index: int
    x0: int
    y0: int
    x1: int
    y1: int
    area: int
    strength: float  # mean ink strength

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0


# --- ink --------------------------------------------------------------------------------------


def _odd(n: float) -> int:
    n = max(3, int(n))
    return n if n % 2 else n + 1


def _sample(image: np.ndarray, side: int = 100) -> np.ndarray:
    """At most side x side pixels spread over the picture: enough for its statistics."""
    return image[:: max(1, image.shape[0] // side), :: max(1, image.shape[1] // side)]


def dark_ink(gray: np.ndarray) -> bool:
    """Dark ink on light paper, unless the picture is clearly light strokes on a dark
    ground: its bright tail reaches several times farther from the median than its dark
    tail (a shadow over most of a page does not do that)."""
    low, median, high = np.percentile(_sample(gray), (0.5, 50, 99.5))
    return bool(4.0 * (median - low) >= (high - median))


def ink_strength(gray: np.ndarray, size: int | None = None) -> np.ndarray:
    """Strength 0..1 of dark ink on paper: 1 - picture / paper level, the paper level being
    a grey closing `size` px wide (BACKGROUND_SHARE of the shorter side by default)."""
    return _strength(gray, _paper(gray, _odd(size or min(gray.shape) * BACKGROUND_SHARE)))


def _paper(gray: np.ndarray, size: int) -> np.ndarray:
    """The paper level: a grey closing `size` px wide."""
    return cv2.morphologyEx(gray, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))


def _strength(gray: np.ndarray, paper: np.ndarray) -> np.ndarray:
    ratio = cv2.divide(gray, cv2.max(paper, 1), dtype=cv2.CV_32F)
    return np.clip(np.subtract(np.float32(1.0), ratio, out=ratio), 0.0, 1.0, out=ratio)


def ink_threshold(strength: np.ndarray) -> float:
    """The paper's median strength plus NOISE_SIGMAS robust deviations, at least MIN_STRENGTH."""
    sample = _sample(strength)
    median = float(np.median(sample))
    spread = 1.4826 * float(np.median(np.abs(sample - median)))
    return max(MIN_STRENGTH, median + NOISE_SIGMAS * spread)


def ink_mask(strength: np.ndarray, threshold: float) -> np.ndarray:
    """Ink above the threshold, grown by a pixel into the strokes' rims above RIM of it."""
    core = (strength > threshold).astype(np.uint8)
    rim = (strength > RIM * threshold).astype(np.uint8)
    return cv2.bitwise_and(cv2.dilate(core, np.ones((3, 3), np.uint8)), rim)


def stroke_width(mask: np.ndarray) -> float:
    """The commonest width of the mask's strokes, px: twice the commonest distance to the
    background along their ridges (0 when there is no ink). The commonest, not the mean or
    the median: a shadow or a pen is one wide blob with a long ridge of ever-changing
    widths, the writing many strokes of one width."""
    distance = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    ridge = distance[(distance > 0) & (distance >= cv2.dilate(distance, np.ones((3, 3), np.uint8)))]
    if ridge.size == 0:
        return 0.0
    counts = np.bincount(np.round(2 * ridge).astype(np.int64))  # half-pixel bins
    return float(np.argmax(counts))


def _ink(gray: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Ink strength, its threshold and the ink mask, against a paper level that follows
    shadows: a closing a few strokes wide fills every stroke with the paper around it, but
    a shadow wider than that stays paper, however dark, and a soft shadow's edge too (a
    closing leaves a slope as it is). A page-wide closing takes a hand's shadow, and the
    digits in it, for one large blot. The closing starts at NARROW_SHARE of the page and
    widens while the strokes found are too wide for it (STROKE_CLOSING times their width,
    or solid ink over SOLID of it): a stroke wider than the closing comes out hollow, and a
    few widenings fill it. (Solid ink far wider than the closing, a blot, passes for paper.)"""
    widest = _odd(min(gray.shape) * BACKGROUND_SHARE)
    size = min(widest, _odd(min(gray.shape) * NARROW_SHARE))
    while True:
        paper = _paper(gray, size)
        strength = _strength(gray, paper)
        threshold = ink_threshold(strength)
        mask = ink_mask(strength, threshold)
        # The thickest ink too: a loop filled solid (a marker's 6) is thicker than its
        # strokes, and its middle, farther than the closing reaches, would pass for paper.
        thickest = 2 * float(cv2.distanceTransform(mask, cv2.DIST_L2, 3).max()) if mask.any() else 0.0
        wanted = max(_odd(STROKE_CLOSING * stroke_width(mask)), _odd(1.5 * thickest) if thickest > SOLID * size else 0)
        if size >= widest or wanted <= size:
            return _filled_in(gray, paper, strength, threshold, mask)
        size = min(widest, max(wanted, _odd(1.5 * size)))


def _filled_in(
    gray: np.ndarray, near: np.ndarray, strength: np.ndarray, threshold: float, mask: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray]:
    """The ink with the middles of strokes far wider than the closing filled in: there the
    closing (`near`, the paper level the ink was measured against) found no paper, and took
    the ink itself for a paper SOLID_INK times darker than the page's (a shadow is at most
    half as dark; a marker's stroke on a close-up, wider than the closing, came out as two
    thin rims). The page's paper level comes from a closing of the picture shrunk
    eightfold, which costs little."""
    small = cv2.resize(gray, (max(1, gray.shape[1] // 8), max(1, gray.shape[0] // 8)), interpolation=cv2.INTER_AREA)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (_odd(min(small.shape) * BACKGROUND_SHARE),) * 2)
    page_small = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    near_small = cv2.resize(near, small.shape[::-1], interpolation=cv2.INTER_AREA)
    if not (near_small < SOLID_INK * page_small.astype(np.float32)).any():
        return strength, threshold, mask  # the usual page: the closing found paper everywhere
    page = cv2.resize(page_small, gray.shape[::-1], interpolation=cv2.INTER_LINEAR)
    middle = (near.astype(np.float32) < SOLID_INK * page.astype(np.float32)) & (mask == 0)
    if not middle.any():
        return strength, threshold, mask
    dark = 1.0 - gray.astype(np.float32) / np.maximum(page.astype(np.float32), 1.0)
    strength = np.where(middle, np.maximum(strength, dark), strength).astype(np.float32)
    return strength, threshold, ink_mask(strength, threshold)


# --- rules: ruled lines, borders, underlines -------------------------------------------------


def _line_kernel(length: int, horizontal: bool) -> np.ndarray:
    return np.ones((1, length) if horizontal else (length, 1), np.uint8)


def _runs(mask: np.ndarray, length: int, horizontal: bool) -> np.ndarray:
    """Ink on straight runs at least `length` px along the axis. The mask is thickened by a
    pixel across first, so a rule tilted by a degree or two still has its long runs.

    An opening costs in proportion to its length: long ones are done at half resolution
    (each 2 x 2 block inked if any of it is), a sixth of the time, then put back on the ink
    at full resolution; a run may then reach a pixel or two past a rule's end."""
    fat = cv2.dilate(mask, _line_kernel(3, not horizontal))
    if length < 24:
        return cv2.bitwise_and(cv2.morphologyEx(fat, cv2.MORPH_OPEN, _line_kernel(length, horizontal)), mask)
    height, width = mask.shape
    pooled = cv2.dilate(fat, np.ones((2, 2), np.uint8), anchor=(0, 0))[::2, ::2]
    runs = cv2.morphologyEx(pooled, cv2.MORPH_OPEN, _line_kernel(length // 2, horizontal))
    back = cv2.resize(runs, (2 * runs.shape[1], 2 * runs.shape[0]), interpolation=cv2.INTER_NEAREST)[:height, :width]
    return cv2.bitwise_and(back, mask)


def _outlines(mask: np.ndarray) -> list[np.ndarray]:
    """The outer outline of each 8-connected piece of the mask, pieces inside another's hole
    (a digit in a box) included. Outlines cost a fraction of connectedComponentsWithStats
    on a sparse mask: it visits every pixel several times."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    return [c for c, h in zip(contours, hierarchy[0], strict=True) if h[3] < 0]


@dataclass(frozen=True, eq=False)
class _Rules:
    """Rules found along one axis: their pixels, their boxes (x, y, w, h) and the thickest."""

    mask: np.ndarray
    boxes: list[tuple[int, int, int, int]]
    thickness: float
    horizontal: bool


Keep = Callable[[int, int, int, int], bool]


def _own_stroke(mask: np.ndarray, runs: np.ndarray, horizontal: bool) -> Keep:
    """A test that a run is no glyph's own stroke (a 7's or a 5's bar, a 2's base, a 4's
    stem, however long: a close-up's digit spans half the page): the ink it touches, the
    runs taken out, is one piece that lies along most of the run (OWN_COVER of it). A rule
    runs on past what touches it, and an underline that joins several digits touches
    several pieces: both stay rules. The pieces are labelled once, on the first run that
    gets this far."""
    height, width = mask.shape
    found: list[tuple[np.ndarray, np.ndarray]] = []

    def keep(x: int, y: int, w: int, h: int) -> bool:
        length = w if horizontal else h
        if length > OWN_LONGEST * (width if horizontal else height):
            return True  # across most of the page: a ruled line
        if not found:
            rest = mask & (1 - cv2.dilate(runs, np.ones((3, 3), np.uint8)))
            found.append(cv2.connectedComponentsWithStats(rest, connectivity=8)[1:3])
        labels, stats = found[0]
        x0, y0, x1, y1 = max(0, x - 3), max(0, y - 3), min(width, x + w + 3), min(height, y + h + 3)
        run = runs[y0:y1, x0:x1]
        window = labels[y0:y1, x0:x1]
        touching = np.unique(window[cv2.dilate(run, np.ones((5, 5), np.uint8)).astype(bool) & (window > 0)])
        least = 0.5 * max(length, int(run.sum()))
        pieces = [int(i) for i in touching if stats[i, cv2.CC_STAT_AREA] >= least]
        if len(pieces) != 1:
            return True
        left, top, span_x, span_y = stats[pieces[0], :4]
        start, span, own = (left, span_x, x) if horizontal else (top, span_y, y)
        return min(start + span, own + length) - max(start, own) < OWN_COVER * length

    return keep


def _thin_in_ink(mask: np.ndarray, runs: np.ndarray, horizontal: bool, also: Keep) -> Keep:
    """`also`, and a test that a run is not the middle of a solid bar much thicker than it:
    a pen lying on the sheet, slanted a little, holds straight runs a quarter of the page
    long along its middle, and taking them out would cut it into pieces that no longer look
    like a pen (the blob step sets aside a whole one). A rule's own ink is the rule, with
    strokes crossing it: never a solid bar thicker than the run. The ink is labelled once,
    on the first run that gets this far."""
    found: list[tuple[np.ndarray, np.ndarray]] = []

    def keep(x: int, y: int, w: int, h: int) -> bool:
        if not found:
            found.append(cv2.connectedComponentsWithStats(mask, connectivity=8)[1:3])
        labels, stats = found[0]
        inside = labels[y : y + h, x : x + w][runs[y : y + h, x : x + w] > 0]
        if inside.size:
            piece = int(np.bincount(inside).argmax())
            px, py, pw, ph, area = stats[piece]
            crop = (labels[py : py + ph, px : px + pw] == piece).astype(np.uint8)
            contours, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            (_, _), (a, b), _ = cv2.minAreaRect(max(contours, key=cv2.contourArea))
            thickness = cv2.countNonZero(runs[y : y + h, x : x + w]) / (w if horizontal else h)
            if area >= 0.7 * a * b and min(a, b) >= 1.3 * thickness + 2:
                return False
        return also(x, y, w, h)

    return keep


def _slender(
    runs: np.ndarray, length: int, horizontal: bool, keep: Keep | None = None, slender: float = RULE_SLENDER
) -> _Rules:
    """The runs' pieces that are rules: at least `length` long and `slender` times longer
    than thick (a bold "1" is not), and that `keep(x, y, w, h)` accepts if given."""
    kept, boxes, thickest = [], [], 0.0
    for outline in _outlines(runs):
        x, y, w, h = cv2.boundingRect(outline)
        extent = w if horizontal else h
        if extent < length:
            continue
        thickness = cv2.countNonZero(runs[y : y + h, x : x + w]) / extent
        if extent < slender * thickness or (keep and not keep(x, y, w, h)):
            continue
        kept.append(outline)
        boxes.append((x, y, w, h))
        thickest = max(thickest, thickness)
    rules = np.zeros_like(runs)
    if kept:
        cv2.drawContours(rules, kept, -1, 1, thickness=cv2.FILLED)
        rules &= runs
    return _Rules(rules, boxes, thickest, horizontal)


def _restore(cleaned: np.ndarray, rules: _Rules) -> None:
    """Give back (in place) the rule pixels where ink goes on across the rule on both sides:
    the strokes that cross a ruled line or a box side stay whole. The bridge is a closing a
    little wider than the rule, round so that a slanted stroke is bridged too, and straight
    across; only the rule's own pixels are given back, so nothing is added beside it. Done
    around each rule only: a ruled page is mostly blank between its rules."""
    size = int(np.ceil(rules.thickness)) + 4
    round_ = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    straight = _line_kernel(size, not rules.horizontal)
    height, width = cleaned.shape
    for x, y, w, h in rules.boxes:
        x0, y0, x1, y1 = max(0, x - size), max(0, y - size), min(width, x + w + size), min(height, y + h + size)
        window = cleaned[y0:y1, x0:x1]
        bridged = cv2.morphologyEx(window, cv2.MORPH_CLOSE, round_) | cv2.morphologyEx(
            window, cv2.MORPH_CLOSE, straight
        )
        window |= bridged & rules.mask[y0:y1, x0:x1]


def _darker_back(cleaned: np.ndarray, rules: _Rules, strength: np.ndarray, longest: float) -> None:
    """Give back (in place) a rule's pixels that are much darker than the rule itself
    (DARKER times its median strength) and join the ink beside it: a stroke drawn along a
    ruled line, a 1 on squared paper's vertical or a 7's bar on a rule, is darker than the
    printed ruling under it (a pen's ink over a light rule darkens it again). Only pieces
    shorter than `longest` (a glyph's height or so): a box's border printed darker than
    the ruled line it merged with stays a rule."""
    height, width = cleaned.shape
    near = np.ones((3, 3), np.uint8)
    for x, y, w, h in rules.boxes:
        x0, y0, x1, y1 = max(0, x - 1), max(0, y - 1), min(width, x + w + 1), min(height, y + h + 1)
        window = cleaned[y0:y1, x0:x1]
        on_rule = rules.mask[y0:y1, x0:x1].astype(bool) & (window == 0)
        values = strength[y0:y1, x0:x1][on_rule]
        if values.size < 16:
            continue
        dark = (on_rule & (strength[y0:y1, x0:x1] > DARKER * float(np.median(values)))).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
        if count <= 1:
            continue
        beside = cv2.dilate(window, near).astype(bool)
        touching = np.unique(labels[beside & (labels > 0)])
        shortest = 6  # px: dust on a rule is a speck, a stroke along it is longer
        along = cv2.CC_STAT_WIDTH if rules.horizontal else cv2.CC_STAT_HEIGHT
        back = [i for i in touching if shortest <= stats[i, along] < longest]
        if back:
            window[np.isin(labels, back)] = 1


def _take(mask: np.ndarray, found: list[_Rules]) -> tuple[np.ndarray, np.ndarray]:
    """The mask without the rules (crossing strokes given back), and what was taken."""
    taken = found[0].mask
    for rules in found[1:]:
        taken = cv2.bitwise_or(taken, rules.mask)
    if not any(rules.boxes for rules in found):
        return mask.copy(), taken
    cleaned = cv2.bitwise_and(mask, cv2.bitwise_xor(taken, 1))
    for rules in found:
        _restore(cleaned, rules)
    return cleaned, cv2.bitwise_and(taken, cv2.bitwise_xor(cleaned, 1))


def _long_rules(mask: np.ndarray) -> tuple[np.ndarray, _Rules, _Rules]:
    """First pass, nothing known of the writing: rules a quarter of the page long. The mask
    without them, and the horizontal and the vertical rules taken."""
    height, width = mask.shape
    across = max(40, round(LONG_RULE * width))
    down = max(40, round(LONG_RULE * height))
    runs_h, runs_v = _runs(mask, across, True), _runs(mask, down, False)
    horizontal = _slender(runs_h, across, True, _thin_in_ink(mask, runs_h, True, _own_stroke(mask, runs_h, True)))
    vertical = _slender(runs_v, down, False, _thin_in_ink(mask, runs_v, False, _own_stroke(mask, runs_v, False)))
    cleaned, _ = _take(mask, [horizontal, vertical])
    return cleaned, horizontal, vertical


def _touching(crossing: np.ndarray, along: np.ndarray, horizontal: bool) -> Keep:
    """A test that a run's two ends (along the axis) both come within a few pixels of a
    rule (half-resolution runs may stop a pixel or two short), one of them of the other
    axis's (`crossing`); the other may be one of its own axis's (`along`): the end of a
    tilted border, its pixels stepped aside from the part taken, joins the border at one
    end and a crossing rule at the other. A stroke beside a rule touches it all along, but
    at no crossing rule."""
    reach = 4

    def near(rules: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> bool:
        return bool(rules[max(0, y0 - reach) : y1 + reach, max(0, x0 - reach) : x1 + reach].any())

    def keep(x: int, y: int, w: int, h: int) -> bool:
        first, last = (
            ((x, y, x + 1, y + h), (x + w - 1, y, x + w, y + h))
            if horizontal
            else ((x, y, x + w, y + 1), (x, y + h - 1, x + w, y + h))
        )
        if near(crossing, *first):
            return near(crossing, *last) or near(along, *last)
        return near(crossing, *last) and near(along, *first)

    return keep


def _as_dark_as(runs: np.ndarray, strength: np.ndarray, ruling: np.ndarray, also: Keep) -> Keep:
    """`also`, and a test that a run is no darker than the rules at its ends (DARKER times
    as dark at most): a box's or a cell's side is printed as the rules it joins are, while
    a 1 written in a square of squared paper, joining the grid lines above and below it, is
    darker than they are. The run's core (RUN_CORE) is compared with the rules' (CORE: the
    soft rims, a pixel on each side, may be most of a thin rule's pixels), the rules
    sampled along a stretch half as long as the run on each side of it, not only where they
    meet it (a crossing's few pixels vary too much). The run's is a lower percentile: a
    digit's stroke touching a box's side adds a few much darker pixels to its run."""
    reach = 4

    def keep(x: int, y: int, w: int, h: int) -> bool:
        values = strength[y : y + h, x : x + w][runs[y : y + h, x : x + w] > 0]
        along = max(reach, max(w, h) // 2)  # the rules at its ends run across the run
        wide, high = (along, reach) if w < h else (reach, along)
        y0, x0 = max(0, y - high), max(0, x - wide)
        around = ruling[y0 : y + h + high, x0 : x + w + wide]
        ends = strength[y0 : y + h + high, x0 : x + w + wide][around]
        if values.size and ends.size and np.percentile(values, RUN_CORE) > DARKER * np.percentile(ends, CORE):
            return False
        return also(x, y, w, h)

    return keep


def _short_rules(
    mask: np.ndarray, text_height: float, long_h: _Rules, long_v: _Rules, strength: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Second pass, knowing the text height: rules of a couple of text heights; strokes
    drawn along any rule in a darker ink given back; then box and cell sides between rules
    (a box's side may be shorter than a digit, but joins two rules)."""
    length = max(16, round(RULE_HEIGHTS * text_height))
    runs_h, runs_v = _runs(mask, length, True), _runs(mask, length, False)
    horizontal = _slender(runs_h, length, True, _thin_in_ink(mask, runs_h, True, _own_stroke(mask, runs_h, True)))
    vertical = _slender(runs_v, length, False, _thin_in_ink(mask, runs_v, False, _own_stroke(mask, runs_v, False)))
    cleaned, taken = _take(mask, [horizontal, vertical])
    for rules in (long_h, long_v, horizontal, vertical):
        _darker_back(cleaned, rules, strength, ALONG_HEIGHTS * text_height)
    taken &= 1 - cleaned
    side = max(8, round(0.6 * text_height))  # a box barely taller than its digits, less its rules
    across = long_h.mask | horizontal.mask
    down = long_v.mask | vertical.mask
    if not (horizontal.boxes or vertical.boxes or across.any() or down.any()):
        return cleaned, taken  # no rules: no box or cell sides either
    # Joining two rules says more than slenderness: a side may be short and bold; but it is
    # printed as they are.
    runs_v, runs_h = _runs(cleaned, side, False), _runs(cleaned, side, True)
    ruling = (across | down).astype(bool) & (cleaned == 0)  # the printed rules, not the ink given back
    joins_v = _as_dark_as(runs_v, strength, ruling, _touching(across, down, False))
    joins_h = _as_dark_as(runs_h, strength, ruling, _touching(down, across, True))
    sides_v = _slender(runs_v, side, False, joins_v, SIDE_SLENDER)
    sides_h = _slender(runs_h, side, True, joins_h, SIDE_SLENDER)
    cleaned, taken_sides = _take(cleaned, [sides_h, sides_v])
    return cleaned, taken | taken_sides


# --- blobs ------------------------------------------------------------------------------------


def _blobs(mask: np.ndarray, strength: np.ndarray) -> tuple[np.ndarray, list[_Blob]]:
    """Connected blobs of the mask (8-connected), each with its box and mean strength: the
    MAX_BLOBS of most ink, if there are more (a page of speckle or noise; the steps after
    this compare blobs with their neighbours, and a bound on their number bounds the time)."""
    count, labels = cv2.connectedComponents(mask, connectivity=8, ltype=cv2.CV_32S)
    if count <= 1:
        return labels, []
    ink = mask.astype(bool)  # sums over the ink only: a few percent of the page
    inked = labels[ink]
    area = np.bincount(inked, minlength=count)
    mass = np.bincount(inked, weights=strength[ink], minlength=count)
    blobs = []
    for outline in _outlines(mask):
        x, y, w, h = cv2.boundingRect(outline)
        i = int(labels[outline[0, 0, 1], outline[0, 0, 0]])
        blobs.append(_Blob(i, x, y, x + w, y + h, int(area[i]), float(mass[i]) / max(int(area[i]), 1)))
    if len(blobs) > MAX_BLOBS:
        blobs = sorted(blobs, key=lambda b: -b.strength * b.area)[:MAX_BLOBS]
    return labels, blobs


def _on_edge(blob: _Blob, shape: tuple[int, int]) -> bool:
    return blob.x0 == 0 or blob.y0 == 0 or blob.x1 == shape[1] or blob.y1 == shape[0]


def _faint_floor(blobs: list[_Blob], shape: tuple[int, int]) -> float:
    """The mean strength below which a blob is a faint mark beside the page's writing:
    FAINT_SHARE of the strongest glyph-sized blob's. Squared paper's grid, show-through
    and what a shadow leaves break into many faint pieces that are as tall as digits."""
    strengths = [b.strength for b in blobs if max(b.w, b.h) >= MIN_GLYPH and b.area >= 20 and not _on_edge(b, shape)]
    return FAINT_SHARE * max(strengths) if strengths else 0.0


def _page_stroke(labels: np.ndarray, blobs: list[_Blob]) -> float:
    """The writing's stroke width (`stroke_width`) over the blobs that may be glyphs: not
    dust, not on the border (the sheet's edge, the desk)."""
    keep = np.zeros(int(labels.max()) + 1, np.uint8)
    for b in blobs:
        if max(b.w, b.h) >= MIN_GLYPH and not _on_edge(b, labels.shape):
            keep[b.index] = 1
    return stroke_width(keep[labels])


def _glyph_like(blobs: list[_Blob], shape: tuple[int, int], floor: float) -> list[_Blob]:
    """Blobs that may be glyphs (not dust, not flat dashes, not filled dots, not on the
    border, not faint). Thin slivers (a fold's or a blot's bits) only when there is nothing
    else: a line of 1s is all slivers."""
    glyphs = [
        b
        for b in blobs
        if b.h >= MIN_GLYPH
        and b.h >= 0.2 * b.w
        and b.area < 0.7 * b.w * b.h
        and b.strength >= floor
        and not _on_edge(b, shape)
    ]
    return [b for b in glyphs if b.w > SLIVER * b.h] or glyphs


def _pens(glyphs: list[_Blob], labels: np.ndarray, blobs: list[_Blob] | None = None) -> set[int]:
    """The glyph-like blobs that are pens lying on the sheet: solid bars PEN_HEIGHTS times as
    long as the others are tall (and, when the page's `blobs` are given, PEN_STROKES times
    as thick as the strokes of the rest: a handwritten 1 beside a table's small print is as
    long, but drawn with a pen's line); or, beside a few digits (where a pen is half the ink
    and could set the text height), PEN_SHORT times as long and BLOT_STROKES times as thick
    as their strokes. Not all of them: a page of nothing but 1s is writing. Not a bar that
    is a stroke of writing as heavy as it (`_Peers.written_like`: a marker's 1); but a long
    bar is a pen, whatever the page's strokes, when it is PEN_LONG times as long as the
    tallest glyph drawn nearly as thick (a pen beside a marker's digits is no thicker than
    twice their strokes; a long thin bar beside thin writing is no writing either)."""
    if len(glyphs) < 2:
        return set()
    typical = _median([b.h for b in glyphs])
    long_bars = {b.index for b in glyphs if max(b.w, b.h) >= PEN_HEIGHTS * typical and _bar(b, labels)}
    pens = set(long_bars)
    if pens and blobs is not None:
        stroke = _page_stroke(labels, [b for b in blobs if b.index not in pens])
        pens = {b.index for b in glyphs if b.index in pens and _thickness(b, labels) >= PEN_STROKES * stroke}
    if len(glyphs) <= FEW_GLYPHS:
        thickness = [_thickness(b, labels) for b in glyphs]
        for k, b in enumerate(glyphs):
            others = [o for o in glyphs if o is not b]
            rest = [t for i, t in enumerate(thickness) if i != k]
            if (
                max(b.w, b.h) >= PEN_SHORT * _median([o.h for o in others])
                and thickness[k] >= BLOT_STROKES * _median(rest)
                and _bar(b, labels)
            ):
                pens.add(b.index)
    if pens or long_bars:
        asked = pens | long_bars
        peers = _Peers([b for b in glyphs if b.index not in asked], labels)
        pens = {b.index for b in glyphs if b.index in pens and not peers.written_like(b)}
        pens |= {b.index for b in glyphs if b.index in long_bars and peers.far_longer(b)}
    return pens if len(pens) < len(glyphs) else set()


class _Peers:
    """The page's glyphs, tallest first, to ask whether a bar is a stroke of the writing
    (`written_like`). Each glyph's thickness (a distance transform) is measured once, when a
    question first reaches down to its height: at most one per blob whatever the number of
    bars asked about (a page of hatching is thousands of them)."""

    def __init__(self, glyphs: Sequence[_Blob], labels: np.ndarray) -> None:
        self.glyphs = sorted(glyphs, key=lambda b: -b.h)
        self.labels = labels
        self.best: list[tuple[float, int, float]] = []  # per prefix: thickest, its index, second thickest

    def _thickest(self, count: int) -> tuple[float, int, float]:
        """The two largest thicknesses among the `count` tallest glyphs (and the first's index)."""
        while len(self.best) < count:
            glyph = self.glyphs[len(self.best)]
            t = _thickness(glyph, self.labels)
            top, index, second = self.best[-1] if self.best else (0.0, -1, 0.0)
            self.best.append((t, glyph.index, top) if t > top else (top, index, max(second, t)))
        return self.best[count - 1] if count else (0.0, -1, 0.0)

    def far_longer(self, bar: _Blob) -> bool:
        """Whether the bar (not one of the glyphs) is PEN_LONG times as long as the tallest
        glyph drawn with a line at least PEN_PEER as thick as its own (and there is one).
        Glyphs are measured tallest first only until one is that thick (the prefixes'
        thickest never decreases, so a glyph measured before answers by bisection)."""
        least = PEN_PEER * _thickness(bar, self.labels)
        while (not self.best or self.best[-1][0] < least) and len(self.best) < len(self.glyphs):
            self._thickest(len(self.best) + 1)
        if not self.best or self.best[-1][0] < least:
            return False
        first = bisect_left(self.best, least, key=lambda best: best[0])
        return max(bar.w, bar.h) >= PEN_LONG * self.glyphs[first].h

    def written_like(self, bar: _Blob) -> bool:
        """Whether the bar is a stroke of the page's writing: another glyph is drawn with a
        line nearly as thick (PEN_PEER) and is tall enough that the bar is not PEN_HEIGHTS
        times its height. A marker's 1 beside the marker's digits (a form's thin print makes
        it look thick against the page's strokes); a pen is thicker than the writing and
        longer than a digit."""
        taller = bisect_left(self.glyphs, -max(bar.w, bar.h) / PEN_HEIGHTS, key=lambda b: -b.h)  # h > length / 2
        top, index, second = self._thickest(taller)
        other = second if index == bar.index else top
        return other > 0 and other >= PEN_PEER * _thickness(bar, self.labels)


def _text_height(glyphs: list[_Blob], pens: set[int]) -> float:
    """The typical height of the glyph-like blobs (`_glyph_like`) that are not pens, each
    counting as much as it has ink (up to the upper quartile's); 0 when there are none."""
    chosen = [b for b in glyphs if b.index not in pens]
    if not chosen:
        return 0.0
    # Weighted by ink: a page's dust, a fold's or a grid's faint bits are many but small,
    # and would otherwise halve the height (and with it every rule's least length). Capped:
    # one large thing is not most of the writing.
    chosen.sort(key=lambda b: b.h)
    areas = np.array([b.area for b in chosen], np.float64)
    weights = np.cumsum(np.minimum(areas, np.percentile(areas, 75, method="lower")))
    return float(chosen[int(np.searchsorted(weights, weights[-1] / 2, side="right"))].h)


def _thickness(blob: _Blob, labels: np.ndarray) -> float:
    """The diameter of the widest circle inside the blob, px."""
    crop = (labels[blob.y0 : blob.y1, blob.x0 : blob.x1] == blob.index).astype(np.uint8)
    padded = cv2.copyMakeBorder(crop, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    return 2 * float(cv2.distanceTransform(padded, cv2.DIST_L2, 3).max())


def _bar(blob: _Blob, labels: np.ndarray) -> bool:
    """A straight bar at any angle, solid ink, several times longer than thick: a pen or a
    pencil lying on the sheet (a "1" is one too, but no longer than the writing is tall)."""
    crop = (labels[blob.y0 : blob.y1, blob.x0 : blob.x1] == blob.index).astype(np.uint8)
    contours, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    (_, _), (w, h), _ = cv2.minAreaRect(max(contours, key=cv2.contourArea))
    return max(w, h) >= 4 * min(w, h) and blob.area >= 0.7 * w * h


def _filled(blob: _Blob, labels: np.ndarray, stroke: float) -> bool:
    """Compact, mostly ink, and as thick as it is wide: a blot or a dot, not strokes (a bold
    digit fills its box as much as a round blot does, but its strokes are thin: thinner
    than the box, and no more than a couple of times the page's other strokes). A digit
    with one loop written solid can be several times the page's strokes: its widest inner
    circle still spans no more than about two thirds of its width (BLOT_ROUND), a blot's
    nearly all of it; and a blot is about as long as it is wide, while a bold 9 whose head
    is solid spans its width but not its tail (BLOT_LONG)."""
    least = min(blob.w, blob.h)
    if blob.area < 0.6 * blob.w * blob.h or max(blob.w, blob.h) > 2 * least:
        return False
    thickness = _thickness(blob, labels)
    round_ = thickness >= BLOT_ROUND * least and thickness >= BLOT_LONG * max(blob.w, blob.h)
    return round_ and thickness >= BLOT_STROKES * stroke


def _kind(
    blob: _Blob,
    labels: np.ndarray,
    text_height: float,
    floors: tuple[float, float, float],
    peers: _Peers | None = None,
) -> str:
    """The blob's part: "glyph", "minor" (dust, a dot, a detached bit: joins a word it sits
    in) or "furniture". `floors`: the ink threshold, the faint floor (`_faint_floor`) and
    the page's stroke width; `peers`: the page's glyph-like blobs (`_Peers.written_like`)."""
    threshold, faint, stroke = floors
    size, least = max(blob.w, blob.h), min(blob.w, blob.h)
    if blob.strength < faint:
        return "furniture"  # a faint mark beside much darker writing: a grid, show-through
    if _on_edge(blob, labels.shape) and (
        size >= 0.2 * min(labels.shape) or size >= 1.2 * text_height > 0 or size >= 4 * least
    ):
        return "furniture"  # a page edge, the desk, a shadow's border, a pen lying across, a rule's end
    if _on_edge(blob, labels.shape) and size < 0.6 * text_height:
        return "minor"  # a bit of something cut by the page's edge: a digit cut so short is unreadable anyway
    if _on_edge(blob, labels.shape) and stroke > 0 and _thickness(blob, labels) >= BLOT_STROKES * stroke:
        # Thick and cut by the page's edge: a pen or a shadow reaching in from the desk. A
        # digit cut by the edge is written with the page's pen. (Judged before the text
        # height, which such a blob may have set when it is most of the ink.)
        return "furniture"
    if _filled(blob, labels, stroke):
        # A blot if large, else a dot (dust, a decimal point).
        return "furniture" if least >= max(10, 0.4 * text_height) else "minor"
    if size < max(MIN_GLYPH, GLYPH_SHARE * text_height):
        return "minor"
    if text_height and blob.w >= 1.5 * text_height and blob.h <= 0.3 * text_height:
        return "furniture"  # a short underline or a dash under the text
    if blob.w >= text_height > 0 and blob.h <= SLIVER * blob.w:
        return "furniture"  # flat and as long as a digit is tall: a piece of a fold or of a broken rule
    if least <= SLIVER * size and (size < 0.5 * text_height or blob.h < 0.3 * text_height):
        # A sliver under half a digit tall, or a flat one: a fold's or a blot's bit, a
        # detached bar (a 5's, a 7's: it joins the word it sits in). A 1 is a tall sliver.
        return "minor"
    if text_height and size >= 3 * text_height and blob.strength < 1.3 * threshold:
        return "furniture"  # faint and large: what is left of a soft shadow's edge
    if (
        size >= PEN_HEIGHTS * text_height > 0
        and _bar(blob, labels)
        and _thickness(blob, labels) >= PEN_STROKES * stroke
        and not (peers is not None and peers.written_like(blob))
    ):
        return "furniture"  # a pen lying on the sheet: a long straight bar, solid ink, thick
    return "glyph"


def _dashed(blobs: list[_Blob], text_height: float, stroke: float) -> set[int]:
    """The blobs that are pieces of a broken straight line: a sheet's fold, a dashed rule.
    A fold's crease is as thin as a pen's line and breaks into short dashes, each too short
    for a rule; stacked, they became one tall glyph that joined the digits beside it.
    Pieces count when they are thin (a stroke's width), lie in one column (or row) one after
    the other with small gaps, and run together for RULE_HEIGHTS text heights: no digit,
    and no column of 1s on successive lines (their gaps are a line's spacing), does that."""
    if not text_height:
        return set()
    # Thin: a stroke's width, and far under a glyph's (a pen lying on the page can make the
    # page's stroke width a digit's).
    thin = min(max(2.0 * stroke, 3.0), DASH_THIN * text_height)
    step = DASH_STEP * text_height
    found: set[int] = set()
    for vertical in (True, False):
        # Each piece as (start, end) along the line's direction and its centre across it.
        spans = [
            ((b.y0, b.y1, (b.x0 + b.x1) // 2) if vertical else (b.x0, b.x1, (b.y0 + b.y1) // 2), b)
            for b in blobs
            if (b.w if vertical else b.h) <= thin
        ]
        spans.sort(key=lambda item: item[0])
        # Chains still open, by their last piece's centre: a piece looks only at the few
        # chains within DASH_DRIFT of its own centre (and drops those it has left behind),
        # so a page of specks costs one pass.
        open_chains: dict[int, list[list[tuple[tuple[int, int, int], _Blob]]]] = {}
        chains = []
        for item in spans:
            (start, _end, across) = item[0]
            joined = None
            for at in range(across - DASH_DRIFT, across + DASH_DRIFT + 1):
                alive = [c for c in open_chains.get(at, []) if start - c[-1][0][1] <= step][-4:]
                open_chains[at] = alive
                if joined is None:
                    joined = next((c for c in alive if start >= c[-1][0][1]), None)
            if joined is None:
                joined = []
                chains.append(joined)
            else:
                open_chains[joined[-1][0][2]].remove(joined)
            joined.append(item)
            open_chains.setdefault(across, []).append(joined)
        for chain in chains:
            span = chain[-1][0][1] - chain[0][0][0]
            cover = sum(end - start for (start, end, _), _b in chain)
            if len(chain) >= DASH_PIECES and span >= RULE_HEIGHTS * text_height and cover >= DASH_COVER * span:
                found.update(b.index for _, b in chain)
    return found


# --- lines and words --------------------------------------------------------------------------


def _median(values: list[float] | list[int]) -> float:
    """The median of a short list (numpy's costs more than the sort, called per glyph)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


class _Line:
    """A text line being gathered, left to right."""

    def __init__(self, blob: _Blob) -> None:
        self.blobs = [blob]
        self._reach: tuple[float, float, float, int] | None = None

    def add(self, blob: _Blob) -> None:
        self.blobs.append(blob)
        self._reach = None

    def reach(self) -> tuple[float, float, float, int]:
        """Top, bottom and height of its last glyphs (a sloping line is followed), its right end.
        Kept until a glyph is added: every glyph asks every line (a page of a thousand short
        strokes asked 37,000 times, each a median over the line's glyphs)."""
        if self._reach is None:
            last = self.blobs[-3:]
            top = _median([b.y0 for b in last])
            bottom = _median([b.y1 for b in last])
            self._reach = (top, bottom, _median([b.h for b in self.blobs]), max(b.x1 for b in self.blobs))
        return self._reach

    def fit(self, blob: _Blob) -> float:
        """How well the blob continues the line: its vertical overlap with the line's last
        glyphs, as a share of the smaller height; or with its last glyph alone, as a share of
        the larger (a glyph of its size beside it); 0 when it is too far right. (The last
        glyph: a handwritten number after a printed label is taller than the label's letters,
        and its second digit may stand higher than their middle.)"""
        top, bottom, height, right = self.reach()
        if blob.x0 - right > LINE_GAP * height:
            return 0.0
        last = self.blobs[-1]
        beside = (min(blob.y1, last.y1) - max(blob.y0, last.y0)) / max(blob.h, last.h, 1)
        overlap = min(blob.y1, bottom) - max(blob.y0, top)
        return max(0.0, beside, overlap / max(1.0, min(blob.h, bottom - top)))


def _gather(glyphs: list[_Blob]) -> list[list[_Blob]]:
    """Glyphs into text lines: each joins the line it continues best (half its height in
    common with the line's last glyphs, or half the larger height with its last glyph, at
    least: `_Line.fit`), or starts one."""
    lines: list[_Line] = []
    for blob in sorted(glyphs, key=lambda b: (b.x0, b.y0)):
        scores = [line.fit(blob) for line in lines]
        best = int(np.argmax(scores)) if scores else -1
        if best >= 0 and scores[best] >= 0.5:
            lines[best].add(blob)
        else:
            lines.append(_Line(blob))
    return [line.blobs for line in lines]


def _split_words(blobs: list[_Blob], height: float, taken: np.ndarray | None = None) -> list[list[_Blob]]:
    """A line's glyphs (left to right) into words at gaps wider than WORD_GAP of its height;
    but not at a gap of up to COMB_GAP heights with a printed side standing in it (`taken`:
    the rules' pixels) between glyphs written one per box: the digits of a number in a comb.
    Only glyphs in a box go on across a wall: a word whose first glyph has no wall on its
    left (a printed label before the comb: its small letters may be too small to count as
    glyphs, "Date" is one glyph and dust) ends at the comb's first wall, however narrow the
    gap; and a word of several glyphs before the first wall takes nothing across a wide one."""
    words: list[list[_Blob]] = []
    right = None
    tallest = 0  # the last word's tallest glyph so far (kept as it grows: a long word is not rescanned)
    combed = False  # the last word's glyphs went on across a wide gap's wall: one per box
    top, bottom = min(b.y0 for b in blobs), max(b.y1 for b in blobs)

    def boxed(word: list[_Blob], tall: float) -> bool:
        """A wall on the left of the word's first glyph, within a box's width (and right of
        the word before it): the glyph is in a box."""
        first = word[0]
        start = max(words[-2][-1].x1 if len(words) > 1 else 0, first.x0 - int(COMB_GAP * tall))
        return _comb(taken, (start, top, first.x0, bottom), tall)

    for blob in sorted(blobs, key=lambda b: b.x0):
        if right is not None:
            # The glyphs' own height: a comb's digits may stand beside a label's smaller print.
            tall = max(blob.h, words[-1][-1].h)
            wall = _comb(taken, (right, top, blob.x0, bottom), tall)
            if len(words[-1]) >= 2 and tallest < HEIGHT_BREAK * blob.h and not combed:
                right = None  # a label's small print, joined to the digits by a dotted leader
            elif blob.x0 - right > WORD_GAP * height:
                # One glyph in a box, as wide as a digit at most (COMB_BOX: a label that
                # blurred into one glyph in a table's cell before the number's is wider).
                alone = len(words[-1]) == 1 and words[-1][0].w <= COMB_BOX * words[-1][0].h
                combed = wall and (combed or (alone and boxed(words[-1], tall)))
                if not combed:
                    right = None
            elif wall and not combed and not boxed(words[-1], tall):
                right = None  # a label's glyphs close before the comb's first wall
        if right is None:
            words.append([blob])
            right, tallest = blob.x1, blob.h
            combed = False
        else:
            words[-1].append(blob)
            right, tallest = max(right, blob.x1), max(tallest, blob.h)
    return words


def _comb(taken: np.ndarray | None, gap: Box, height: float) -> bool:
    """A gap between two glyphs no wider than COMB_GAP heights, with a printed side in it
    as tall as half the line: the wall between two boxes of a comb."""
    x0, y0, x1, y1 = gap
    if taken is None or x1 - x0 > COMB_GAP * height or x1 <= x0:
        return False
    columns = taken[y0:y1, x0:x1].sum(axis=0)
    return bool(columns.size) and int(columns.max()) >= 0.5 * (y1 - y0)


def _box(blobs: list[_Blob]) -> Box:
    return min(b.x0 for b in blobs), min(b.y0 for b in blobs), max(b.x1 for b in blobs), max(b.y1 for b in blobs)


def _attach(words: list[list[_Blob]], heights: list[float], minor: list[_Blob]) -> None:
    """Minor blobs join the word whose box, a little widened (most below: a comma), holds
    their centre: a decimal point, a detached bit of a glyph. The rest is dust."""
    boxes = [_box(w) for w in words]
    for blob in minor:
        cx, cy = (blob.x0 + blob.x1) / 2, (blob.y0 + blob.y1) / 2
        for word, (x0, y0, x1, y1), height in zip(words, boxes, heights, strict=True):
            if x0 - 0.2 * height <= cx <= x1 + 0.2 * height and y0 - 0.1 * height <= cy <= y1 + 0.3 * height:
                word.append(blob)
                break


def _features(mask: np.ndarray, ink: np.ndarray, glyphs: list[_Blob], pieces: int, height: float) -> WordFeatures:
    """The word's WordFeatures from its mask and ink crops (one distance transform)."""
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 3)
    ridge = distance[(distance > 0) & (distance >= cv2.dilate(distance, np.ones((3, 3), np.uint8)))]
    values = ink[mask > 0]
    heights = np.array([b.h for b in glyphs] or [0.0], np.float64)
    bottoms = np.array([b.y1 for b in glyphs] or [0.0], np.float64)
    return WordFeatures(
        blobs=len(glyphs),
        pieces=pieces,
        stroke_width=2.0 * float(ridge.mean()) if ridge.size else 0.0,
        stroke_cv=float(ridge.std() / ridge.mean()) if ridge.size else 0.0,
        height_cv=float(heights.std() / max(heights.mean(), 1.0)),
        baseline_spread=float(bottoms.std() / max(height, 1.0)),
        ink_mean=float(values.mean()) if values.size else 0.0,
        ink_cv=float(values.std() / max(values.mean(), 1e-6)) if values.size else 0.0,
        fill=float(values.size / mask.size),
        aspect=mask.shape[1] / max(mask.shape[0], 1),
    )


def _word(blobs: list[_Blob], glyphs: list[_Blob], height: float, maps: tuple[np.ndarray, ...]) -> Word:
    """A word from its blobs: its mask, and its ink strength with a pixel of soft rim around
    the strokes, but none of other blobs' or the furniture's ink (only blank paper around).
    `maps`: the blob labels, the ink strength and every ink pixel (furniture included)."""
    labels, strength, every = maps
    x0, y0, x1, y1 = box = _box(blobs)
    ids = tuple(sorted(b.index for b in blobs))
    crop = labels[y0:y1, x0:x1]
    mask = np.isin(crop, ids).astype(np.uint8)
    rim = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    rim[(every[y0:y1, x0:x1] > 0) & (mask == 0)] = 0  # other ink, a rule's included
    ink = strength[y0:y1, x0:x1] * rim
    return Word(box, ids, mask, ink, _features(mask, ink, glyphs, len(blobs), height))


def continues_past_its_ends(writing: Writing, word: Word) -> bool:
    """Whether a word of one upright stroke goes on past its top or bottom in other ink: a
    piece of a table's side left over where the side was broken, or a digit's tail that a
    ruled line cut off below it. A 1 written on a line has only the line's few rows below."""
    features = word.features
    if features.blobs != 1 or features.aspect > LONE_STROKE:
        return False
    x0, y0, x1, y1 = word.box
    reach = max(3, round(CONTINUES * (y1 - y0)))
    side = max(1, reach // 2)  # a slanted stroke goes on a little to one side
    columns = slice(max(0, x0 - side), x1 + side)
    # The rows just above and just below the word: none of its own ink is there.
    for top, bottom in ((y0 - reach, y0), (y1, y1 + reach)):
        if top < 0 or bottom > writing.mask.shape[0]:
            continue
        if writing.mask[top:bottom, columns].any(axis=1).mean() >= CONTINUED:
            return True
    return False


def _reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Top to bottom; lines side by side on one row (a gap split them) left to right."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda ln: ln.box[1] + ln.box[3]):
        if rows:
            last = rows[-1][-1].box
            overlap = min(last[3], line.box[3]) - max(last[1], line.box[1])
            if overlap >= 0.5 * min(last[3] - last[1], line.box[3] - line.box[1]):
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda ln: ln.box[0])]


def _height(line: list[_Blob]) -> float:
    """A line's typical glyph height. Pieces stacked in one column (the bar of a 5, a glyph
    cut in two by a ruled line) are measured together: alone they would halve it."""
    columns: list[list[int]] = []
    for b in sorted(line, key=lambda b: b.x0):
        last = columns[-1] if columns else None
        if last and min(b.x1, last[2]) - max(b.x0, last[0]) >= 0.5 * min(b.w, last[2] - last[0]):
            last[:] = [min(last[0], b.x0), min(last[1], b.y0), max(last[2], b.x1), max(last[3], b.y1)]
        else:
            columns.append([b.x0, b.y0, b.x1, b.y1])
    return _median([c[3] - c[1] for c in columns])


def _stacked(a: _Blob, b: _Blob, reach: float, taken: np.ndarray) -> bool:
    """Whether a and b (b.x0 >= a.x0) are two pieces of one glyph: one above the other,
    overlapping horizontally, and either a removed rule in the gap, or a gap so narrow
    (STACK_GAP of the taller piece) that no two lines of writing leave it: a 3 or a 5
    written in two strokes that do not quite meet."""
    overlap = min(a.x1, b.x1) - b.x0
    if overlap < 0.5 * min(a.w, b.w):
        return False
    top, bottom = (a, b) if a.y0 <= b.y0 else (b, a)
    gap = bottom.y0 - top.y1
    # Pieces may also interleave a little (a 3's upper stroke ending below its lower one's
    # start): glyphs side by side in a line overlap vertically by far more.
    close = -STACK_OVERLAP * min(a.h, b.h) <= gap <= STACK_GAP * max(a.h, b.h) and top.y1 < bottom.y1
    if close and overlap >= 0.6 * min(a.w, b.w):
        return True
    if not 0 <= gap <= reach:
        return False
    return bool(taken[top.y1 - 1 : bottom.y0 + 1, b.x0 : min(a.x1, b.x1)].any())


def _rejoin(
    glyphs: list[_Blob], minor: list[_Blob], taken: np.ndarray, text_height: float
) -> tuple[list[_Blob], dict[int, list[_Blob]], list[_Blob]]:
    """Glyphs (and bits: the top of a 1 just above a ruled line) cut apart by a removed rule
    where the crossing stroke could not be given back (it runs along the rule), joined
    again. Returns the glyphs, some now standing for several pieces, the pieces each
    stands for, and the minor blobs left."""
    pieces = sorted(glyphs + minor, key=lambda b: b.x0)
    parent = list(range(len(pieces)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    reach = max(4.0, 0.3 * text_height)
    for i, a in enumerate(pieces):
        for j in range(i + 1, len(pieces)):
            b = pieces[j]
            if b.x0 >= a.x1:
                break
            near = max(reach, STACK_GAP * max(a.h, b.h))
            if b.y0 - a.y1 <= near and a.y0 - b.y1 <= near and _stacked(a, b, reach, taken):
                parent[root(j)] = root(i)
    groups: dict[int, list[_Blob]] = {}
    for i, piece in enumerate(pieces):
        groups.setdefault(root(i), []).append(piece)
    glyph_ids = {b.index for b in glyphs}
    joined, members, left = [], {}, []
    for group in groups.values():
        if not any(b.index in glyph_ids for b in group):
            left.extend(group)
            continue
        lead = max(group, key=lambda b: b.area)
        x0, y0, x1, y1 = _box(group)
        area = sum(b.area for b in group)
        strength = sum(b.strength * b.area for b in group) / max(area, 1)
        joined.append(_Blob(lead.index, x0, y0, x1, y1, area, strength))
        members[lead.index] = group
    return joined, members, left


def _text_lines(
    glyphs: list[_Blob],
    minor: list[_Blob],
    members: dict[int, list[_Blob]],
    maps: tuple[np.ndarray, ...],
    text_height: float,
    taken: np.ndarray | None = None,
) -> list[TextLine]:
    """Lines of words from the glyphs (`members`: the pieces a joined glyph stands for),
    with the minor blobs that sit in a word. A line of one small glyph (LONE_SHARE) is
    no line (a speck, a hair), nor is one much fainter than the page's darkest (FAINT_LINE:
    what is left of a fold, a shadow's edge, a rule's end). A line of several glyphs may be
    fainter (FAINT_WORDS): a light ballpoint's number beside a form's bold black print."""
    gathered = _gather(glyphs)
    strengths = [sum(b.strength * b.area for b in line) / max(1, sum(b.area for b in line)) for line in gathered]
    grouped = []
    for line, strength in zip(gathered, strengths, strict=True):
        if len(line) == 1 and max(line[0].w, line[0].h) < LONE_SHARE * text_height:
            minor.extend(members.get(line[0].index, line))  # alone and small: it may still sit in a word
        elif strength >= (FAINT_LINE if len(line) == 1 else FAINT_WORDS) * max(strengths):
            grouped.append((line, _height(line)))
    words = [(word, height) for line, height in grouped for word in _split_words(line, height, taken)]
    parts = [[piece for b in word for piece in members.get(b.index, [b])] for word, _ in words]
    _attach(parts, [height for _, height in words], minor)
    lines, start = [], 0
    for line, height in grouped:
        count = len(_split_words(line, height, taken))
        built = tuple(_word(parts[start + k], words[start + k][0], height, maps) for k in range(count))
        start += count
        box = (min(w.box[0] for w in built), min(w.box[1] for w in built))
        box += (max(w.box[2] for w in built), max(w.box[3] for w in built))
        lines.append(TextLine(box, built, height, _median([b.y1 for b in line])))
    return _reading_order(lines)


def analyse_writing(gray: np.ndarray) -> Writing:
    """The writing on a sheet (module docstring): lines, words, and the maps behind them."""
    gray = as_gray(gray)
    if not dark_ink(gray):
        gray = cv2.bitwise_not(gray)  # light strokes on a dark ground: the same steps, inverted
    strength, threshold, mask = _ink(gray)
    cleaned, long_h, long_v = _long_rules(mask)
    labels, blobs = _blobs(cleaned, strength)
    glyphs = _glyph_like(blobs, gray.shape, _faint_floor(blobs, gray.shape))
    text_height = _text_height(glyphs, _pens(glyphs, labels))
    if text_height:
        cleaned, _ = _short_rules(cleaned, text_height, long_h, long_v, strength)
        labels, blobs = _blobs(cleaned, strength)
    faint = _faint_floor(blobs, gray.shape)
    glyphs = _glyph_like(blobs, gray.shape, faint)
    pens = _pens(glyphs, labels, blobs)
    text_height = _text_height(glyphs, pens) or text_height
    kinds: dict[str, list[_Blob]] = {"glyph": [], "minor": [], "furniture": []}
    floors = (threshold, faint, _page_stroke(labels, blobs))
    furniture = pens | _dashed(blobs, text_height, floors[2])
    peers = _Peers([g for g in glyphs if g.index not in furniture], labels)
    for blob in blobs:
        kind = "furniture" if blob.index in furniture else _kind(blob, labels, text_height, floors, peers)
        kinds[kind].append(blob)
    taken = cv2.bitwise_and(mask, 1 - cleaned)  # the rules' pixels
    _pen_parts(kinds, labels, taken, max(PEN_PART * floors[2], PEN_PART_HEIGHT * text_height))
    glyphs, members, minor = _rejoin(kinds["glyph"], kinds["minor"], taken, text_height)
    lines = _text_lines(glyphs, minor, members, (labels, strength, mask), text_height, taken)
    return Writing(lines, strength, mask, labels, text_height)


def _pen_parts(kinds: dict[str, list[_Blob]], labels: np.ndarray, rules: np.ndarray, least: float) -> None:
    """Move to furniture the glyphs and minor blobs that furniture at least `least` px thick
    reaches (within half that and 2 px of its core): a pen's cap or tip, or a glint along
    its body, left behind when the body was taken out as a rule or as furniture. Rules and
    box sides are a stroke or two thick, and a digit is written beside a pen, not on it."""
    if least <= 0:
        return
    is_furniture = np.zeros(int(labels.max()) + 1, np.uint8)  # by blob label
    is_furniture[[b.index for b in kinds["furniture"]]] = 1
    furniture = cv2.bitwise_or(is_furniture[labels], rules)
    furniture = cv2.copyMakeBorder(furniture, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    core = (cv2.distanceTransform(furniture, cv2.DIST_L2, 3)[1:-1, 1:-1] >= least / 2).astype(np.uint8)
    if not core.any():
        return
    # Within reach of the core: a distance transform, not a dilation, so the cost does not
    # grow with `least` (a text height may be hundreds of pixels).
    zone = cv2.distanceTransform(1 - core, cv2.DIST_L2, 3) <= least / 2 + 2
    reached = np.bincount(labels[zone], minlength=is_furniture.size)
    for kind in ("glyph", "minor"):
        kinds["furniture"] += [b for b in kinds[kind] if reached[b.index]]
        kinds[kind] = [b for b in kinds[kind] if not reached[b.index]]


def find_writing(gray_sheet: np.ndarray) -> list[TextLine]:
    """The handwriting's text lines on a (rectified) sheet, top to bottom, each with its
    words left to right; rules, borders, underlines, dust, shadows and blots left out."""
    return analyse_writing(gray_sheet).lines
