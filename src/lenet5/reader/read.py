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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from lenet5.infer.backends import Backend
from lenet5.reader.graph import ScoredGraph
from lenet5.reader.segment import Segmentation, segment
from lenet5.store.model_folder import Calibration
from lenet5.vision.preprocess import NoInkError, scaled_box, to_grayscale, upright

Box = tuple[int, int, int, int]
SCORE_BATCH = 512  # arcs scored in one call of the network


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
    confidence: float  # the probability that the whole number is read right (number_confidence)

    @property
    def number(self) -> str:
        return "".join(str(d.digit) for d in self.digits)

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        """The box around all its digits, in the picture's pixels."""
        if not self.digits:
            return None
        boxes = np.array([d.box for d in self.digits])
        return int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max())

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "number": self.number,
            "confidence": self.confidence,
            "box": list(self.box) if self.box else None,
            "digits": [d.to_json() for d in self.digits],
        }


def read_gray(backend: Backend, gray: np.ndarray) -> list[tuple[int, float, tuple[int, int, int, int]]]:
    """(digit, probability, box in `gray`'s pixels) for each digit of the number, left to right."""
    return score_graph(backend, gray).best_reading()


def score_graph(backend: Backend, gray: np.ndarray) -> ScoredGraph:
    """Steps 1-4 of the module docstring: ink, over-segmentation, the graph, every arc scored."""
    return scored(backend, segment(gray))


def scored(backend: Backend, found: Segmentation) -> ScoredGraph:
    """Step 4: every arc of the graph rendered and scored, a batch at a time (the memory a
    picture can take is bounded by SCORE_BATCH inputs, whatever it holds)."""
    digits, boxes = found.rendered()
    normalize = backend.meta.normalize
    parts = [backend.scores(normalize(digits[i : i + SCORE_BATCH])) for i in range(0, len(digits), SCORE_BATCH)]
    scores = np.concatenate(parts) if parts else np.zeros((0, backend.classes), np.float32)
    return ScoredGraph(len(found.pieces) + 1, found.arcs, scores, boxes)


def number_confidence(probabilities: Sequence[float], calibration: Calibration | None) -> float:
    """How sure a whole reading is: its weakest digit's probability, mapped by the model's
    calibration (Platt scaling fitted on lines of validation digits, bench/calibration.py).

    A number is right only if every digit is, and its weakest digit is where it goes wrong.
    Measured on lines of test digits (docs/results.md, "Calibration"), it ranks right
    readings above wrong ones about as well as the product of the digits' probabilities and
    far better than the reading's posterior among all readings of the graph; unlike the
    product it does not sink with the number's length (eleven sure digits are not eleven
    times less sure than one). The raw probabilities, taken from lines that the network
    also judges for junk, are too low; the mapping fixes that."""
    if not probabilities:
        return 0.0
    weakest = min(max(float(min(probabilities)), 1e-9), 1 - 1e-9)
    if calibration is None or calibration.number_platt is None:
        return weakest
    a, b = calibration.number_platt
    return 1.0 / (1.0 + math.exp(-(a * math.log(weakest / (1 - weakest)) + b)))


def reading_of(
    graph: ScoredGraph,
    label: str,
    to_original: Callable[[Box], Box],
    calibration: Calibration | None = None,
    digits: int | None = None,
) -> NumberReading:
    """The graph's best reading (of exactly `digits` digits, if given: none if it cannot be
    read so) as a NumberReading, its boxes mapped by `to_original`."""
    try:
        best = graph.best_reading(length=digits)
    except ValueError:
        return NumberReading(label, [], 0.0)
    digits = [ReadDigit(d, p, to_original(box)) for d, p, box in best]
    return NumberReading(label, digits, number_confidence([p for _d, p, _box in best], calibration))


def read_number(backend: Backend, image: Image.Image, label: str = "image", digits: int | None = None) -> NumberReading:
    """The whole picture read as one line of digits (a close-up of a number)."""
    original = upright(image)
    gray = to_grayscale(image)
    try:
        graph = score_graph(backend, gray)
    except NoInkError:
        raise NoInkError(f"{label}: no number found (blank or near-uniform image)") from None
    return reading_of(graph, label, lambda box: scaled_box(box, original, gray.shape), backend.meta.calibration, digits)
