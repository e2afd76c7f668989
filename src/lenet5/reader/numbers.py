"""Reading every number in a whole photo: a sheet of paper on a desk, a form, a page.

1. The sheet. The paper is found in the frame and straightened (lenet5.photo.sheet); the
   desk, the sheet's edges and its shadow are left outside. With no sheet in view (a
   close-up, a scan, a drawing) the whole picture is the page.
2. The writing. Ink is found on the page, rules, boxes, underlines, specks, blots and
   shadow edges are taken out, and what is left is grouped into lines and words
   (lenet5.photo.writing).
3. The numbers. Each line's words, left to right, are one number unless a wide gap parts
   them; each is read by the number reader (segmentation, every grouping scored, the best
   path: lenet5.reader.segment and lenet5.reader.graph) on its own cleaned ink.

Numbers come top to bottom, each with its box and its digits' boxes in the original
picture's pixels. The work per picture is bounded: at most MAX_NUMBERS numbers, and the
reader's own limits per line (lenet5.reader.segment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from lenet5.infer.backends import Backend
from lenet5.infer.photo import Page, find_page
from lenet5.photo import TextLine, Word, analyse_writing
from lenet5.photo.writing import ink_threshold
from lenet5.reader.graph import ScoredGraph
from lenet5.reader.read import NumberReading, ReadDigit
from lenet5.reader.segment import segment_ink
from lenet5.vision.preprocess import NoInkError

MAX_NUMBERS = 32  # numbers read in one picture (a page of noise would make hundreds of "lines")
NUMBER_GAP = 2.5  # line heights: words further apart on one line are different numbers

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class PageReading:
    """Every number found in one picture, top to bottom."""

    file: str
    numbers: list[NumberReading]
    sheet: bool  # a sheet of paper was found and straightened

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "sheet": self.sheet, "numbers": [n.to_json() for n in self.numbers]}


def read_page(backend: Backend, image: Image.Image, label: str = "image") -> PageReading:
    """Every number in the picture (module docstring); NoInkError when there is none."""
    page = find_page(image)
    writing = analyse_writing(page.gray)
    threshold = ink_threshold(writing.strength)
    numbers = []
    for words in number_words(writing.lines)[:MAX_NUMBERS]:
        reading = _read_words(backend, words, threshold, page, label)
        if reading is not None:
            numbers.append(reading)
    if not numbers:
        raise NoInkError(f"{label}: no number found")
    return PageReading(label, numbers, page.rectified is not None)


def number_words(lines: list[TextLine]) -> list[list[Word]]:
    """The words of each number: a line's words, parted where a gap is wider than
    NUMBER_GAP line heights."""
    numbers = []
    for line in lines:
        current: list[Word] = []
        for word in line.words:
            if current and word.box[0] - current[-1].box[2] > NUMBER_GAP * line.height:
                numbers.append(current)
                current = []
            current.append(word)
        if current:
            numbers.append(current)
    return numbers


def words_ink(words: list[Word]) -> tuple[np.ndarray, Box]:
    """The words' cleaned ink strength on one canvas (their union box), and that box."""
    x0, y0 = min(w.box[0] for w in words), min(w.box[1] for w in words)
    x1, y1 = max(w.box[2] for w in words), max(w.box[3] for w in words)
    canvas = np.zeros((y1 - y0, x1 - x0), np.float32)
    for w in words:
        region = canvas[w.box[1] - y0 : w.box[3] - y0, w.box[0] - x0 : w.box[2] - x0]
        np.maximum(region, w.ink, out=region)
    return canvas, (x0, y0, x1, y1)


def _read_words(backend: Backend, words: list[Word], threshold: float, page: Page, label: str) -> NumberReading | None:
    ink, (ox, oy, _, _) = words_ink(words)
    pad = 4  # the segmentation looks for page furniture along the borders: keep the ink off them
    ink = np.pad(ink, pad)
    try:
        found = segment_ink(ink, threshold)
    except NoInkError:
        return None
    digits, boxes = found.rendered()
    graph = ScoredGraph(len(found.pieces) + 1, found.arcs, backend.scores(backend.meta.normalize(digits)), boxes)
    read = []
    for digit, probability, (x0, y0, x1, y1) in graph.best_reading():
        box = (x0 + ox - pad, y0 + oy - pad, x1 + ox - pad, y1 + oy - pad)
        read.append(ReadDigit(digit, probability, page.to_original(box)))
    return NumberReading(label, read) if read else None
