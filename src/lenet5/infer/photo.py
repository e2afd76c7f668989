"""A whole photo, made ready for reading: upright, in grey levels, its sheet of paper found
and straightened (lenet5.photo), and the way back from the page to the picture's pixels.

A phone photo of a sheet lying on a desk shows the desk, the sheet's edges and its shadow:
none of that is writing, and reading the frame as a page takes a page edge for a "1". So
the page is the straightened sheet, cut a little inside its edges, when a sheet is in
view, and the whole picture otherwise (a close-up, a scan, a drawing).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from lenet5.infer import script
from lenet5.photo import Rectified, Word, Writing, analyse_writing, box_to_source, clip_box, find_sheet, rectify
from lenet5.photo.writing import ink_threshold
from lenet5.vision.page import soft_word_ink, word_stroke_width
from lenet5.vision.preprocess import (
    FINE_SIZE,
    MAX_PIXELS,
    WORKING_SIZE,
    NoInkError,
    PictureDigit,
    digit_on,
    render_mnist,
    to_grayscale,
    upright,
    with_picture,
)

Box = tuple[int, int, int, int]
SMALL = 32  # px high on the analysed page: smaller writing is looked at again in the finer picture...
# ...unless its strokes are this share of its height wide (word_stroke_width): on the tuning and
# report small-digit sets 0.15-0.2 gave the same readings; the digits chosen at tuning seed 3
# have a median of 0.086 and a 90th percentile of 0.17.
FINE_BOLD = 0.18
# A word whose strokes are less than this share as dark as the darkest word's is not writing
# on the page (see _not_faint). On the seed-1 desk sets no handwritten digit was below 0.41,
# while 202 of the 269 other marks kept as handwriting were.
FAINT = 0.35
# A word is set aside as print when the script network gives it at least this share of print.
# Above one half because losing a handwritten digit costs more than reading a label: on the
# seed-1 desk sets 0.7 set aside 10 of 194 handwritten words (0.5: 22) and 127 of 146 others.
PRINTED = 0.7
# ...unless its strokes are thinner than PEN_LINE of its own height: a ballpoint's even line
# looks like print to the script network (smooth, one width), but a font's stems are at least
# about a tenth of its capitals' height, more once a photo's blur has widened them.
PEN_LINE = 0.10
# Nor for a word of strokes over PEN_LINE_STROKES times the median of the page's words': a
# pen lying across a printed title, joined to its letters, is as thin for its height as a
# ballpoint's digit, but its body is several times as thick as anything written.
PEN_LINE_STROKES = 1.5
# One digit is about as wide as it is tall (MNIST's are at most ~1.2 x, a "1" far less): a
# word more than DIGIT_ASPECT times as wide as it is tall that the script network finds at
# least DOUBTFUL print is a label it was unsure of, and is the digit `predict` reads only when
# nothing else is left. (Wide and plainly handwritten, it stays in play: a digit cut by a
# ruled line leaves a wide top part.)
DIGIT_ASPECT = 2.0
# A mark within HAIR_FIT px of a circle, HAIR_BENT times farther from a line, over HAIR_SPAN
# degrees of the circle is a hair (is_hair). On the small-digit desk sets (tuning seeds 3/1/2,
# report seed 0) none of the 286 digits is one; the hairs chosen over faint digits fit their
# circles within 0.57-0.83 px over 95-131 degrees. Of MNIST's first 1,000 test digits drawn
# as 1 px lines (vision.pen.thin), 2 are (a 7 and a 9; 0.2%).
HAIR_FIT = 1.0
HAIR_BENT = 2.0
HAIR_SPAN = (30.0, 140.0)
# With no sheet in view, a "digit" the close-up finder finds spanning this share of the
# picture's width and of its height is a page's rules and edges (a close-up's digit is
# narrower than it is tall): the picture is read as a page.
PAGE_WIDE = 0.75
# With no sheet in view, a close-up find within this share of the picture's shorter side of
# its border is checked against the page's writing finder (photo_digit).
BORDER = 0.01
DOUBTFUL = 0.25
# A lone digit-shaped glyph the script network set aside as print is the digit after all
# when everything kept as handwriting is less than LONE_GLYPH as dark as it and holds less
# than LONE_GLYPH_MASS of its dark ink (see _lone_glyphs).
LONE_GLYPH = 0.7
LONE_GLYPH_MASS = 0.5


@dataclass(frozen=True)
class Page:
    """The page writing is looked for on, and the way back to the picture's pixels."""

    gray: np.ndarray  # uint8: the straightened sheet, or the whole picture (longer side <= 1024 px)
    rectified: Rectified | None  # how the sheet was straightened (None: no sheet in view)
    scale: tuple[float, float]  # the picture's own pixels per analysed pixel (x, y)
    fine: np.ndarray  # uint8: the whole picture at up to FINE_SIZE px, for a closer look at small writing
    fine_scale: float  # its pixels per analysed pixel
    # The original picture's (width, height): boxes are clipped to it. A straightened sheet
    # may reach past the frame (a corner outside the photo), and so may writing at its edge.
    picture_size: tuple[int, int] | None = None

    def to_original(self, box: Box) -> Box:
        """A box on the page in the original picture's pixels, inside the picture."""
        if self.rectified is not None:
            box = box_to_source(box, self.rectified.homography)
        x0, y0, x1, y1 = box
        sx, sy = self.scale
        out = round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)
        if self.picture_size is None:
            return out
        width, height = self.picture_size
        return clip_box(out, (height, width))

    def at_the_border(self, box: Box) -> bool:
        """Whether a box in the original picture's pixels comes within BORDER of the
        picture's shorter side of its border."""
        width, height = self.picture_size if self.picture_size is not None else self.gray.shape[::-1]
        near = BORDER * min(width, height)
        x0, y0, x1, y1 = box
        return min(x0, y0) <= near or x1 >= width - near or y1 >= height - near

    def fine_patch(self, box: Box, margin: float = 0.3) -> tuple[np.ndarray, Callable[[Box], Box]]:
        """The page around `box` (grown by `margin` of its size) cut from the fine picture,
        straightened as the page is, at the fine picture's resolution; and the map from the
        patch's pixels back to the page's."""
        k = self.fine_scale
        x0, y0, x1, y1 = box
        grow = margin * max(x1 - x0, y1 - y0) + 2
        left, top = max(0.0, x0 - grow), max(0.0, y0 - grow)
        size = (max(1, round((x1 + grow - left) * k)), max(1, round((y1 + grow - top) * k)))
        to_page = np.array([[1 / k, 0, left], [0, 1 / k, top], [0, 0, 1]])  # patch pixel -> page pixel
        page_to_source = self.rectified.homography if self.rectified is not None else np.eye(3)
        warp = np.diag([k, k, 1.0]) @ page_to_source @ to_page  # patch pixel -> fine pixel
        patch = cv2.warpPerspective(
            self.fine, warp, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
        )

        def back(found: Box) -> Box:
            a, b, c, d = found
            return (math.floor(a / k + left), math.floor(b / k + top), math.ceil(c / k + left), math.ceil(d / k + top))

        return patch, back


def find_page(image: Image.Image) -> Page:
    """The picture upright and grey (longer side at most 1024 px), its sheet straightened,
    and a finer copy (up to FINE_SIZE px) for small writing."""
    original = upright(image)
    fine = to_grayscale(image, FINE_SIZE)
    if fine.dtype != np.uint8:  # a 16-bit picture: 0..255 floats
        fine = np.clip(fine, 0, 255).astype(np.uint8)
    factor = max(fine.shape) / WORKING_SIZE
    gray = fine
    if factor > 1:
        size = (max(1, round(fine.shape[1] / factor)), max(1, round(fine.shape[0] / factor)))
        gray = cv2.resize(fine, size, interpolation=cv2.INTER_AREA)
    sheet = find_sheet(gray)
    rectified = rectify(gray, sheet) if sheet is not None else None
    page = rectified.image if rectified is not None else gray
    scale = (original[0] / gray.shape[1], original[1] / gray.shape[0])
    return Page(page, rectified, scale, fine, fine.shape[1] / gray.shape[1], (original[0], original[1]))


@dataclass(frozen=True)
class PageWriting:
    """The writing on a page: its lines of words, which words are handwritten, the ink threshold."""

    writing: Writing
    handwritten: frozenset[int]  # id() of the words kept as handwriting
    threshold: float  # ink strength above which a pixel is ink
    printed: dict[int, float] = field(default_factory=dict)  # id() -> the script network's share of print

    def kept(self, word: Word) -> bool:
        return id(word) in self.handwritten


def page_writing(page: Page) -> PageWriting:
    """The page's writing (lenet5.photo.writing), with printed words set aside when there is
    handwriting beside them (a form's labels). A page of print only is kept whole: a typed
    number is still read."""
    writing = analyse_writing(page.gray)
    threshold = ink_threshold(writing.strength)
    words = [word for line in writing.lines for word in line.words]
    marks = [w for w in words if not is_hair(w.mask)] or words
    model = script.shipped()
    if model is None:
        return PageWriting(writing, frozenset(map(id, marks)), threshold)
    printed = {id(w): script.printed_share(model, w.ink, threshold) for w in words}
    typical = float(np.median([w.features.stroke_width for w in words])) if words else 0.0
    handwritten = [w for w in marks if printed[id(w)] < PRINTED or _pen_line(w, typical)]
    kept = _not_faint(handwritten if handwritten else marks)
    return PageWriting(writing, frozenset(map(id, kept)), threshold, printed)


def is_hair(mask: np.ndarray) -> bool:
    """Whether a mark is one piece lying along an arc of a circle: its pixels within HAIR_FIT
    px (root mean square) of the circle fitted to them, at least HAIR_BENT times as far from
    the straight line fitted to them, and spanning HAIR_SPAN degrees of the circle. A hair
    or a fibre on the sheet curves evenly; a digit does not: a 1 is nearly straight (a
    circle fits it no better than a line), a 0 closes its circle, and the others turn at
    corners or loops that no one circle follows within a pixel."""
    if cv2.connectedComponents(mask.astype(np.uint8))[0] != 2:
        return False
    ys, xs = np.nonzero(mask)
    if xs.size < 10:
        return False
    x, y = xs.astype(np.float64), ys.astype(np.float64)
    # The algebraic circle fit: x^2 + y^2 = a x + b y + c, by least squares.
    (a, b, c), *_ = np.linalg.lstsq(np.stack([x, y, np.ones_like(x)], 1), x**2 + y**2, rcond=None)
    cx, cy = a / 2, b / 2
    radius = math.sqrt(max(c + cx**2 + cy**2, 1e-12))
    off = np.hypot(x - cx, y - cy) - radius
    fit = math.sqrt(float(np.mean(off**2)))
    spread = np.cov(np.stack([x, y])) if x.size > 1 else np.zeros((2, 2))
    straight = math.sqrt(max(float(np.linalg.eigvalsh(spread)[0]), 0.0))  # RMS off the best line
    if fit > HAIR_FIT or straight < HAIR_BENT * fit:
        return False
    angles = np.sort(np.arctan2(y - cy, x - cx))
    widest_gap = float(np.diff(np.append(angles, angles[0] + 2 * math.pi)).max())
    return HAIR_SPAN[0] <= math.degrees(2 * math.pi - widest_gap) <= HAIR_SPAN[1]


def _pen_line(word: Word, typical_stroke: float) -> bool:
    """Whether a word is written with a line thinner than any font's stems (PEN_LINE), and
    no thicker than the page's words' typical strokes (PEN_LINE_STROKES)."""
    stroke = word.features.stroke_width
    return stroke < PEN_LINE * (word.box[3] - word.box[1]) and (
        not typical_stroke or stroke <= PEN_LINE_STROKES * typical_stroke
    )


def dark_mass(word: Word, threshold: float) -> float:
    """A word's clearly dark ink: its strength summed where over twice the ink threshold."""
    return float(word.ink[word.ink > 2 * threshold].sum())


def stroke_darkness(word: Word) -> float:
    """How dark a word's strokes are: the 90th percentile of its ink strength."""
    strokes = word.ink[word.mask > 0]
    return float(np.percentile(strokes, 90)) if strokes.size else 0.0


def _not_faint(words: list[Word]) -> list[Word]:
    """Words whose strokes are at least FAINT as dark as the darkest one's: what shows
    through from the sheet's back, a pencil's ghost of an erased word, a fold's shadow and
    the grain of a desk are all much fainter than the pen that wrote on the page."""
    darkness = [stroke_darkness(w) for w in words]
    darkest = max(darkness, default=0.0)
    return [w for w, d in zip(words, darkness, strict=True) if d >= FAINT * darkest]


def photo_digit(image: Image.Image, label: str = "image") -> PictureDigit:
    """The most prominent handwritten digit on the photo's page, its box in the picture's pixels.

    The word of most dark ink among those kept as handwriting is the digit; its own cleaned
    ink (rules that cross it, edges, the desk and other words taken out by the writing
    finder) is rendered as soft ink (lenet5.vision.page.soft_word_ink). With no sheet in
    view the picture is read as a close-up (`_close_up_digit`), unless what that finds spans
    the picture, or lies at its border while the writing finder sees a digit elsewhere."""
    page = find_page(image)
    close = _close_up_digit(page, label) if page.rectified is None else None
    if close is None:
        return _page_digit(page, label)
    if not page.at_the_border(close.box):
        return close
    # What the close-up finder took at the picture's border may be a corner of desk, the
    # sheet's edge or a fleck of its vignette, the digit lost among ruled lines: a page
    # that fills the frame shows no sheet. The page's writing finder, which knows edges and
    # rules, is asked too; a digit it finds elsewhere, clear of the border, is the one.
    try:
        written = _page_digit(page, label)
    except NoInkError:
        return close
    x0, y0, x1, y1 = close.box
    a0, b0, a1, b1 = written.box
    apart = min(x1, a1) <= max(x0, a0) or min(y1, b1) <= max(y0, b0)
    if apart and not page.at_the_border(written.box):
        return written
    return close


def _page_digit(page: Page, label: str) -> PictureDigit:
    """The digit as the page's writing finder sees it (photo_digit's docstring)."""
    found = page_writing(page)
    every = [w for line in found.writing.lines for w in line.words]
    words = _lone_glyphs(every, [w for w in every if found.kept(w)], found)
    if not words:
        raise NoInkError(f"{label}: no digit found")
    # The word of most clearly dark ink: a shadow's edge or a grey smudge may cover more
    # pixels than a pen's digit, but faintly. Not a label the script network doubted, while
    # there is anything else: it holds more ink than a small digit beside it.
    plausible = [w for w in words if _digit_shaped(w) or found.printed.get(id(w), 0.0) < DOUBTFUL]
    word = max(plausible or words, key=lambda w: dark_mass(w, found.threshold))
    others = max(0, word.features.blobs - 1) + sum(1 for w in words if w is not word and _digit_sized(w, word))
    height = word.box[3] - word.box[1]
    if (
        height < SMALL
        and page.fine_scale >= 1.5
        and word_stroke_width(word.ink, word.mask, found.threshold) < FINE_BOLD * height
    ):
        # A small digit: a closer look at the finer picture renders it from more pixels. Not
        # a bold one (a marker's): it has no finer detail to show, and the close-up finder's
        # background, sized for a pen's line, takes a solid loop for paper (a filled 9 came
        # out as a smudge of its rim).
        patch, back = page.fine_patch(word.box)
        try:
            close = digit_on(_only_the_word(patch, back, word), label)
            return PictureDigit(close.digit, page.to_original(back(close.box)), others)
        except NoInkError:
            pass  # what the page finder saw is still there to render
    ink = soft_word_ink(word.ink, word.mask, found.threshold)
    return PictureDigit(render_mnist(ink), page.to_original(word.box), others)


def _close_up_digit(page: Page, label: str) -> PictureDigit | None:
    """The digit on a picture with no sheet in view (a close-up, a crop, a scan, a drawing),
    found as before sheets were looked for (lenet5.vision.page.find_digit). The writing
    finder expects writing small on a page: a digit that fills the picture has strokes as
    wide as its page-wide closing, and a digit cut by the picture's edge is furniture to it;
    on the synthetic close-ups of bench/photo_accuracy.py it read 84% (clean), 44% (a hard
    shadow across), 65% (low resolution), where the close-up finder reads 99%, 98%, 92%.
    None when what it found spans most of the picture both ways (PAGE_WIDE): that is a
    page whose edge went unseen (its rules and edges joined into one "digit"), for the
    writing finder. A picture with no ink at all raises NoInkError ("no digit found")."""
    close = digit_on(page.gray, label)
    x0, y0, x1, y1 = close.box
    height, width = page.gray.shape
    if x1 - x0 >= PAGE_WIDE * width and y1 - y0 >= PAGE_WIDE * height:
        return None
    return PictureDigit(close.digit, page.to_original(close.box), close.other_digits)


def _digit_shaped(word: Word) -> bool:
    x0, y0, x1, y1 = word.box
    return (x1 - x0) <= DIGIT_ASPECT * (y1 - y0)


def _lone_glyphs(every: list[Word], kept: list[Word], found: PageWriting) -> list[Word]:
    """The words to choose the digit from: those kept as handwriting, unless they are all
    much fainter than a digit-shaped glyph set aside as print; then those glyphs. The script
    network is least sure of one glyph alone (a neat handwritten 3 may look typed to it),
    and a pen's digit is the darkest writing on its page: what is left beside it as
    "handwriting" is then a hair, a scratch or a fold, not what was written. Slighter as
    well as fainter: a digit in a light pen beside a black printed page number is fainter
    than the number but holds as much ink."""
    if not kept:
        return kept
    darkest = max(stroke_darkness(w) for w in kept)
    heaviest = max(dark_mass(w, found.threshold) for w in kept)
    lone = [
        w
        for w in every
        if not found.kept(w)
        and _digit_shaped(w)
        and not is_hair(w.mask)
        and darkest < LONE_GLYPH * stroke_darkness(w)
        and heaviest < LONE_GLYPH_MASS * dark_mass(w, found.threshold)
    ]
    return lone or kept


def _only_the_word(patch: np.ndarray, back: Callable[[Box], Box], word: Word) -> np.ndarray:
    """The fine patch with everything but the word's own ink (grown by a page pixel) painted
    as the paper around it: the patch is cut from the picture, so a ruled line or a box's
    side that the page's writing finder took out would cross the digit again."""
    height, width = patch.shape
    x0, y0, x1, y1 = back((0, 0, width, height))  # the patch's area on the page
    canvas = np.zeros((max(1, y1 - y0), max(1, x1 - x0)), np.uint8)
    wx0, wy0, wx1, wy1 = word.box
    cx0, cy0 = wx0 - x0, wy0 - y0
    inside = canvas[max(0, cy0) : cy0 + (wy1 - wy0), max(0, cx0) : cx0 + (wx1 - wx0)]
    inside[:] = word.mask[max(0, -cy0) : max(0, -cy0) + inside.shape[0], max(0, -cx0) : max(0, -cx0) + inside.shape[1]]
    canvas = cv2.dilate(canvas, np.ones((3, 3), np.uint8))
    keep = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
    if not keep.any() or keep.all():
        return patch
    paper = np.median(patch[~keep])
    return np.where(keep, patch, paper).astype(patch.dtype)


def _digit_sized(other: Word, word: Word) -> bool:
    """Another handwritten word as tall as the digit: the picture may hold a number."""
    return (other.box[3] - other.box[1]) > 0.5 * (word.box[3] - word.box[1])


def read_photo_digit(source: str | Path | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS) -> PictureDigit:
    """A file path or bytes -> the digit on it (photo_digit); every failure a UserError."""
    return with_picture(source, photo_digit, name, max_pixels)
