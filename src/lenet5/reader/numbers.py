"""Reading every number in a whole photo: a sheet of paper on a desk, a form, a page.

1. The sheet. The paper is found in the frame and straightened (lenet5.photo.sheet); the
   desk, the sheet's edges and its shadow are left outside. With no sheet in view (a
   close-up, a scan, a drawing) the whole picture is the page.
2. The writing. Ink is found on the page, rules, boxes, underlines, specks, blots and
   shadow edges are taken out, and what is left is grouped into lines and words
   (lenet5.photo.writing).
3. The numbers. Each line's words, left to right, are one number unless a wide gap or a
   printed word parts them (number_groups: also a number's halves on two lines joined, a
   small doubtful label at a number's end left out, small numbers the script network leans
   to call print left out); each is read by the number reader (segmentation, every grouping scored, the best
   path: lenet5.reader.segment and lenet5.reader.graph) on its own cleaned ink.

Numbers come top to bottom, each with its box and its digits' boxes in the original
picture's pixels. The work per picture is bounded: at most MAX_NUMBERS numbers, and the
reader's own limits per line (lenet5.reader.segment).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from lenet5.infer.backends import Backend
from lenet5.infer.photo import PRINTED, Page, PageWriting, dark_mass, find_page, page_writing, stroke_darkness
from lenet5.photo import TextLine, Word, continues_past_its_ends
from lenet5.reader.read import NumberReading, ReadDigit, reading_of, score_graph, scored
from lenet5.reader.segment import segment_ink
from lenet5.vision.preprocess import MAX_PIXELS, NoInkError, with_picture

MAX_NUMBERS = 32  # numbers read in one picture (a page of noise would make hundreds of "lines")
MAX_ARCS = 4000  # candidate digits scored in one picture, all its numbers together (about 0.5 s of work)
SHORT_WORD = 0.55  # a word of a number less than this share of its tallest word's height is no digit of it
# A lone glyph with less clearly dark ink than this share of what the page's other numbers
# have per glyph is a mark, not a digit (a 1 has about half an average digit's ink).
STRAY_INK = 0.2
TAIL_INSIDE = 0.8  # a lone word this much within a number's width...
TAIL_GAP = 0.25  # ...and at most this share of its height above or below it is part of it
NUMBER_GAP = 2.5  # line heights: words further apart on one line are different numbers
ACROSS_OVERLAP = 0.5  # numbers on two lines overlapping in height by half the shorter: one (_across_lines)
# A one-glyph word set aside as print is a digit of the handwritten number beside it when it
# is at least this share of the line's glyph height and its strokes are within this
# ratio of that word's darkness either way (the same pen on the same line; see _lone_strokes),
# and no wider than tall: a stroke (a 1, an open 6, a 7 without its bar) is narrow, a short
# printed word ("Qty", "No.") that blurred into one piece is wider than tall.
LONE_STROKE_HEIGHT = 0.75
LONE_STROKE_DARKNESS = 1.25
LONE_STROKE_WIDTH = 1.0
# A number's first or last word under this share of its tallest word's height, that the
# script network gives at least this share of print, is a label before (or after) it.
LABEL_HEIGHT = 0.75
LABEL_PRINTED = 0.3
# A whole number under this share of the height of the tallest number the script network
# gives under SURELY_WRITTEN of print, that it gives at least LABEL_LEANING, is a label.
LABEL_SMALL = 0.7
LABEL_LEANING = 0.5
SURELY_WRITTEN = 0.25
# On a page of several words, a number read with less confidence than this is a stray mark
# (a box's corner, a fragment of a rule, a speck that became a "1"), left out while any number
# is read with more. On the seed-1 desk sets: 26 of 79 wrong numbers below 0.4, none of 123
# right ones (the lowest right one: 0.50).
STRAY = 0.4

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class PageReading:
    """Every number found in one picture, top to bottom."""

    file: str
    numbers: list[NumberReading]
    sheet: bool  # a sheet of paper was found and straightened

    @property
    def number(self) -> str:
        """The numbers, top to bottom, separated by spaces (one number: just it)."""
        return " ".join(n.number for n in self.numbers)

    @property
    def confidence(self) -> float:
        """The least confident number's confidence: what the whole reading can be trusted to."""
        return min(n.confidence for n in self.numbers)

    @property
    def digits(self) -> list[ReadDigit]:
        return [d for n in self.numbers for d in n.digits]

    def to_dict(self) -> dict[str, object]:
        """What `lenet5 read --json` prints for it."""
        return self.to_json()

    def to_json(self) -> dict[str, object]:
        """Today's shape for one number (file, number, confidence, digits), plus each number
        on its own (`numbers`, top to bottom) and whether a sheet was straightened."""
        return {
            "file": self.file,
            "number": self.number,
            "confidence": self.confidence,
            "digits": [d.to_json() for d in self.digits],
            "numbers": [{k: v for k, v in n.to_json().items() if k != "file"} for n in self.numbers],
            "sheet": self.sheet,
        }


def read_page(
    backend: Backend, image: Image.Image, label: str = "image", digits: int | None = None, min_confidence: float = 0.0
) -> PageReading:
    """Every number in the picture (module docstring); NoInkError when there is none.
    `digits`: read each number as exactly that many digits (a word that cannot be is no
    number); `min_confidence`: numbers read with less confidence are left out."""
    page = find_page(image)
    found = page_writing(page)
    numbers: list[NumberReading] = []
    whole = _read_whole(backend, page, label, digits) if _one_line_close_up(page, found) else None
    if whole is not None and not _strays_at_the_border(whole, found, page):
        numbers.append(whole)
    else:
        budget = [MAX_ARCS]  # what is left of the picture's work, spent number by number
        for words in number_groups(found)[:MAX_NUMBERS]:
            reading = _read_words(backend, words, found.threshold, page, label, budget, digits)
            if reading is not None and reading.digits:
                numbers.append(reading)
        if any(n.confidence >= STRAY for n in numbers):
            numbers = [n for n in numbers if n.confidence >= STRAY]
    read = [n for n in numbers if n.digits]
    if not read:
        raise NoInkError(f"{label}: no number found" + (f" of {digits} digits" if digits and numbers else ""))
    sure = [n for n in read if n.confidence >= min_confidence]
    if not sure:
        best = max(n.confidence for n in read)
        raise NoInkError(f"{label}: no number read with confidence {min_confidence:g} or more (best: {best:.2f})")
    return PageReading(label, sure, page.rectified is not None)


def number_groups(found: PageWriting) -> list[list[Word]]:
    """The words of each number on the page, in reading order (the module docstring's steps)."""
    kept = _lone_strokes(found.writing.lines, found.kept)
    written = _label_ends(_across_lines(number_words(found.writing.lines, kept), found.writing.lines), found)
    return _printed_labels(_tails_joined(_not_fragments(written, found)), found)


def _printed_labels(numbers: list[list[Word]], found: PageWriting) -> list[list[Word]]:
    """Numbers without those that look like a form's printed labels beside its handwriting:
    smaller than the tallest number the script network is sure is handwritten (LABEL_SMALL),
    and kept as handwriting by that network only just ("Labels", "Apples" in a small
    font: at least LABEL_LEANING print, under PRINTED). A number with a word the network set
    aside that another rule took back (a 1, a ballpoint's line) is not judged again here."""

    def height(words: list[Word]) -> int:
        _, y0, _, y1 = _union(words)
        return y1 - y0

    def share(words: list[Word]) -> float:
        return max(found.printed.get(id(w), 0.0) for w in words)

    written = [height(words) for words in numbers if share(words) < SURELY_WRITTEN]
    if not written:
        return numbers
    tallest = max(written)
    return [
        words
        for words in numbers
        if not (height(words) < LABEL_SMALL * tallest and LABEL_LEANING <= share(words) < PRINTED)
    ]


def _one_line_close_up(page: Page, found: PageWriting) -> bool:
    """A close-up of one line with nothing set aside (no sheet in view, one line of writing,
    no printed label): the whole picture is read as one line, as the reader was built to."""
    lines = [line for line in found.writing.lines if any(found.kept(w) for w in line.words)]
    words = [w for line in found.writing.lines for w in line.words]
    return page.rectified is None and len(lines) <= 1 and all(found.kept(w) for w in words)


def _strays_at_the_border(whole: NumberReading, found: PageWriting, page: Page) -> bool:
    """Whether the whole picture's reading took in marks at its border (a corner of desk, a
    fleck of vignette: a page that fills the frame shows no sheet) that the writing finder,
    whose one line of writing lies clear of the border, left out."""
    words = [w for line in found.writing.lines for w in line.words]
    if not words or any(page.at_the_border(page.to_original(w.box)) for w in words):
        return False
    return any(page.at_the_border(d.box) for d in whole.digits)


def _read_whole(backend: Backend, page: Page, label: str, digits: int | None = None) -> NumberReading:
    try:
        graph = score_graph(backend, page.gray)
    except NoInkError:
        raise NoInkError(f"{label}: no number found") from None
    return reading_of(graph, label, page.to_original, backend.meta.calibration, digits)


def _tails_joined(numbers: list[list[Word]]) -> list[list[Word]]:
    """A lone word that lies under or over a number, within its width and touching its
    box, is part of it: a 9's or a 7's tail that reached below the line was found as a
    line of its own (and read as a stray 1 beside a number short of a digit)."""
    boxes = [_union(words) for words in numbers]
    widths = [box[2] - box[0] for box in boxes]
    by_width = sorted(range(len(boxes)), key=widths.__getitem__)
    sorted_widths = [widths[j] for j in by_width]
    joined: list[list[Word]] = [list(words) for words in numbers]
    for i, words in enumerate(numbers):
        if len(words) != 1:
            continue
        # A tail is narrower than its number: only numbers at least twice as wide are looked
        # at, so a page of many equal marks costs a sort, not every pair.
        wider = by_width[bisect_left(sorted_widths, 2 * widths[i]) :]
        host = min((j for j in wider if j != i and joined[j] and _holds_tail(boxes[j], boxes[i])), default=None)
        if host is not None:
            joined[host] = sorted([*joined[host], words[0]], key=lambda w: w.box[0])
            joined[i] = []
    return [words for words in joined if words]


def _across_lines(numbers: list[list[Word]], lines: list[TextLine]) -> list[list[Word]]:
    """Numbers on different lines of writing that stand side by side, within NUMBER_GAP of
    their height and overlapping in height by at least half the shorter, are one number. A
    number's first digit written a little lower than the rest, level with the form's printed
    label, was grouped into the label's line ("Invoice # 5 | 123743"): read as two numbers.
    Both must be at least SHORT_WORD as tall as the other. The numbers keep their order
    (line by line, top to bottom)."""
    line_of = {id(word): k for k, line in enumerate(lines) for word in line.words}
    joined: list[list[Word]] = [list(words) for words in numbers]
    grown: set[int] = set()  # numbers that took in another: number_words's height check again
    by_left = sorted(range(len(joined)), key=lambda k: joined[k][0].box[0])
    lefts = [joined[k][0].box[0] for k in by_left]
    for i in by_left:
        words = joined[i]
        if not words:
            continue
        x0, y0, x1, y1 = _union(words)
        height = y1 - y0
        # Only numbers starting at most NUMBER_GAP heights after this one ends are looked at.
        for j in by_left[bisect_left(lefts, x0 + 1) : bisect_right(lefts, x1 + NUMBER_GAP * height)]:
            other = joined[j]
            if not other or line_of.get(id(other[0])) == line_of.get(id(words[0])):
                continue
            a0, b0, _, b1 = _union(other)
            overlap = min(y1, b1) - max(y0, b0)
            shorter, taller = sorted((height, b1 - b0))
            # As tall as each other: a much shorter word below a number is its tail (_tails_joined).
            alike = shorter >= SHORT_WORD * taller
            if alike and a0 >= x1 - ACROSS_OVERLAP * height and overlap >= ACROSS_OVERLAP * shorter:
                words = sorted([*words, *other], key=lambda w: w.box[0])
                joined[i], joined[j] = words, []
                grown.add(i)
                x0, y0, x1, y1 = _union(words)
                height = y1 - y0
    return [_digit_high(words) if k in grown else words for k, words in enumerate(joined) if words]


def _holds_tail(number: Box, tail: Box) -> bool:
    a, b, c, d = number
    x0, y0, x1, y1 = tail
    inside = min(x1, c) - max(x0, a) >= TAIL_INSIDE * (x1 - x0)
    gap = max(b - y1, y0 - d)  # negative: the boxes overlap in height
    return inside and gap <= TAIL_GAP * (d - b)


def _union(words: list[Word]) -> Box:
    return (
        min(w.box[0] for w in words),
        min(w.box[1] for w in words),
        max(w.box[2] for w in words),
        max(w.box[3] for w in words),
    )


def _not_fragments(numbers: list[list[Word]], found: PageWriting) -> list[list[Word]]:
    """Numbers without those of one stroke that is part of other ink (a table side's
    leftover, a digit's tail below a ruled line), and without lone glyphs of far less dark
    ink than the page's written digits have each (a crease, a mark in a hand's shadow):
    each would be read as a stray 1."""
    numbers = [words for words in numbers if len(words) > 1 or not continues_past_its_ends(found.writing, words[0])]
    per_glyph = [
        sum(dark_mass(w, found.threshold) for w in words) / max(1, sum(w.features.blobs for w in words))
        for words in numbers
    ]
    # The most ink per glyph among the *other* numbers: the page's largest, or for the number
    # that has it, the second largest (one pass, whatever the number of marks on the page).
    best = max(range(len(numbers)), key=per_glyph.__getitem__, default=None)
    second = max((v for j, v in enumerate(per_glyph) if j != best), default=None)
    kept = []
    for i, words in enumerate(numbers):
        others = second if i == best else per_glyph[best]
        lone = len(words) == 1 and words[0].features.blobs <= 1  # its ink per glyph is all its ink
        if lone and others is not None and per_glyph[i] < STRAY_INK * others:
            continue
        kept.append(words)
    return kept


def _lone_strokes(lines: list[TextLine], kept: Callable[[Word], bool]) -> Callable[[Word], bool]:
    """`kept`, and also each one-glyph word set aside as print that stands next to a kept
    word on its line, within NUMBER_GAP line heights, about as tall and as dark as it.

    The script network is least sure of one glyph alone, and a single stroke (a 1, a 6
    written as an open curve, a 7 without its bar) has no style for it to judge: such a
    digit written a little apart from the rest of its number was set aside as print and the
    number read a digit short. Beside a handwritten number, as tall as its digits and
    written with the same ink, it is one of them. A form's printed label is several glyphs,
    smaller than the handwriting, or darker (toner against a pen), and stays set aside."""
    rescued: set[int] = set()
    for line in lines:
        words = line.words
        for k, word in enumerate(words):
            if kept(word) or word.features.blobs != 1:
                continue
            neighbours = [words[j] for j in (k - 1, k + 1) if 0 <= j < len(words) and kept(words[j])]
            if any(_same_number_stroke(word, other, line.height) for other in neighbours):
                rescued.add(id(word))
    if not rescued:
        return kept
    return lambda word: kept(word) or id(word) in rescued


def _same_number_stroke(glyph: Word, beside: Word, line_height: float) -> bool:
    gap = max(glyph.box[0] - beside.box[2], beside.box[0] - glyph.box[2])
    height = glyph.box[3] - glyph.box[1]
    tall = height >= LONE_STROKE_HEIGHT * line_height and glyph.box[2] - glyph.box[0] <= LONE_STROKE_WIDTH * height
    own, other = stroke_darkness(glyph), stroke_darkness(beside)
    alike = other > 0 and 1 / LONE_STROKE_DARKNESS <= own / other <= LONE_STROKE_DARKNESS
    return gap <= NUMBER_GAP * line_height and tall and alike


def number_words(lines: list[TextLine], kept: Callable[[Word], bool]) -> list[list[Word]]:
    """The words of each number: a line's kept (handwritten) words, parted where a gap is
    wider than NUMBER_GAP line heights or a word that was set aside (a printed label)
    stands between them."""
    numbers = []
    for line in lines:
        current: list[Word] = []
        for word in line.words:
            wide = current and word.box[0] - current[-1].box[2] > NUMBER_GAP * line.height
            if (not kept(word) or wide) and current:
                numbers.append(current)
                current = []
            if kept(word):
                current.append(word)
        if current:
            numbers.append(current)
    return [_digit_high(words) for words in numbers]


def _label_ends(numbers: list[list[Word]], found: PageWriting) -> list[list[Word]]:
    """Numbers without a first or last word that is both smaller than their tallest
    (LABEL_HEIGHT) and doubtful print (LABEL_PRINTED): a form's label ("Ref.", "#") that the
    script network was not sure enough of to set aside, written just before the digits."""
    trimmed = []
    for words in numbers:
        tallest = max(w.box[3] - w.box[1] for w in words)
        # Kept by the script network, but with doubt (a lone stroke taken back beside the
        # digits by _lone_strokes was judged there: a 1, whatever the network says).
        doubtful = [found.kept(w) and found.printed.get(id(w), 0.0) >= LABEL_PRINTED for w in words]
        labels = [d and w.box[3] - w.box[1] < LABEL_HEIGHT * tallest for d, w in zip(doubtful, words, strict=True)]
        start, end = 0, len(words)
        while end - start > 1 and labels[start]:
            start += 1
        while end - start > 1 and labels[end - 1]:
            end -= 1
        trimmed.append(words[start:end])
    return trimmed


def _digit_high(words: list[Word]) -> list[Word]:
    """The words of a number without those much shorter than its tallest glyph: a form's
    small printed label that passed as handwriting ("ID", "Coffee") beside the written
    digits, which share one height. The tallest glyph, not the tallest word: a word of
    digits written along a slope is much taller than each of them."""
    if len(words) < 2:
        return words
    tallest = max(_tallest_glyph(w) for w in words)
    return [w for w in words if w.box[3] - w.box[1] >= SHORT_WORD * tallest]


def _tallest_glyph(word: Word) -> int:
    """The height of the tallest connected piece of the word's ink, px."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(word.mask, connectivity=8)
    return int(stats[1:, cv2.CC_STAT_HEIGHT].max()) if count > 1 else word.box[3] - word.box[1]


def words_ink(words: list[Word]) -> tuple[np.ndarray, Box]:
    """The words' cleaned ink strength on one canvas (their union box), and that box."""
    x0, y0, x1, y1 = _union(words)
    canvas = np.zeros((y1 - y0, x1 - x0), np.float32)
    for w in words:
        region = canvas[w.box[1] - y0 : w.box[3] - y0, w.box[0] - x0 : w.box[2] - x0]
        np.maximum(region, w.ink, out=region)
    return canvas, (x0, y0, x1, y1)


def _read_words(
    backend: Backend,
    words: list[Word],
    threshold: float,
    page: Page,
    label: str,
    budget: list[int],
    digits: int | None = None,
) -> NumberReading | None:
    ink, (ox, oy, _, _) = words_ink(words)
    pad = 4  # a margin of paper round the ink, as a close-up has
    ink = np.pad(ink, pad)
    try:
        found = segment_ink(ink, threshold, furniture=False)
    except NoInkError:
        return None
    if len(found.arcs) > budget[0]:
        return None  # the picture's work is spent: the rest is not read
    budget[0] -= len(found.arcs)
    graph = scored(backend, found)

    def to_original(box: Box) -> Box:
        x0, y0, x1, y1 = box
        return page.to_original((x0 + ox - pad, y0 + oy - pad, x1 + ox - pad, y1 + oy - pad))

    return reading_of(graph, label, to_original, backend.meta.calibration, digits)


def read_file(
    backend: Backend,
    source: str | Path | bytes,
    name: str | None = None,
    max_pixels: int = MAX_PIXELS,
    digits: int | None = None,
    min_confidence: float = 0.0,
) -> tuple[PageReading, Image.Image]:
    """A file path or bytes -> every number in it (read_page), and the picture (upright) it
    was read from. Every failure is a UserError naming the file."""
    picture: list[Image.Image] = []

    def work(image: Image.Image, label: str) -> PageReading:
        picture.append(image)
        return read_page(backend, image, label, digits, min_confidence)

    reading = with_picture(source, work, name, max_pixels)
    return reading, picture[0]
