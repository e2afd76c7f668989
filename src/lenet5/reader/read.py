"""Reading a written number: every digit of one line, left to right.

LeNet-5 was built to read ZIP codes and cheque amounts, and this follows the paper's way
of doing it (LeCun et al. 1998, Section V, "heuristic over-segmentation"; the figures it
follows are described in docs/reading-numbers.md): the line's ink is cut into more pieces
than there are digits and the graph of all ways to group them is built
(lenet5.reader.segment, steps 1-3); the network scores every grouping and the path of
least total penalty is the reading (lenet5.reader.graph, steps 4-5). This module ties the
steps together: a picture or a file in, a NumberReading out. Boxes are given in the
original picture's pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from lenet5.errors import UserError
from lenet5.infer.backends import Backend
from lenet5.reader.graph import ScoredGraph
from lenet5.reader.segment import segment
from lenet5.vision.preprocess import NoInkError, open_image, to_grayscale, upright


@dataclass(frozen=True)
class ReadDigit:
    digit: int
    probability: float
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the original picture

    def to_json(self) -> dict[str, object]:
        return {"digit": self.digit, "probability": self.probability, "box": list(self.box)}


@dataclass(frozen=True)
class NumberReading:
    file: str
    digits: list[ReadDigit]

    @property
    def number(self) -> str:
        return "".join(str(d.digit) for d in self.digits)

    @property
    def confidence(self) -> float:
        """The probability that every digit is right, taking the digits as independent."""
        return float(math.prod(d.probability for d in self.digits))

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "number": self.number,
            "confidence": self.confidence,
            "digits": [d.to_json() for d in self.digits],
        }


def read_gray(backend: Backend, gray: np.ndarray) -> list[tuple[int, float, tuple[int, int, int, int]]]:
    """(digit, probability, box in `gray`'s pixels) for each digit of the number, left to right."""
    return score_graph(backend, gray).best_reading()


def score_graph(backend: Backend, gray: np.ndarray) -> ScoredGraph:
    """Steps 1-4 of the module docstring: ink, over-segmentation, the graph, every arc scored."""
    found = segment(gray)
    digits, boxes = found.rendered()
    scores = backend.scores(backend.meta.normalize(digits))
    return ScoredGraph(len(found.pieces) + 1, found.arcs, scores, boxes)


def read_number(backend: Backend, image: Image.Image, label: str = "image") -> NumberReading:
    original = upright(image)
    gray = to_grayscale(image)
    try:
        found = read_gray(backend, gray)
    except NoInkError:
        raise NoInkError(f"{label}: no ink found (blank or near-uniform image)") from None
    sx, sy = original[0] / gray.shape[1], original[1] / gray.shape[0]
    digits = [
        ReadDigit(d, p, (round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)))
        for d, p, (x0, y0, x1, y1) in found
    ]
    return NumberReading(label, digits)


def read_file(
    backend: Backend, source: str | Path | bytes, name: str | None = None, max_pixels: int | None = None
) -> tuple[NumberReading, Image.Image]:
    """A file path or bytes -> the number in it, and the picture (upright) it was read from.
    Every failure is a UserError naming the file."""
    label = name or str(source if not isinstance(source, bytes) else "<bytes>")
    image = open_image(source, name, max_pixels) if max_pixels else open_image(source, name)
    try:
        return read_number(backend, image, label), image
    except UserError:
        raise
    except (OSError, ValueError, TypeError, MemoryError, cv2.error) as exc:
        raise UserError(f"{label}: cannot process this image ({type(exc).__name__}: {exc})") from None
