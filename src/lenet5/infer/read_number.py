"""Reading a written number: every digit of one line, left to right.

LeNet-5 was built to read ZIP codes and cheque amounts, and this follows the paper's way
of doing it (LeCun et al. 1998, Section V, "heuristic over-segmentation"; the figures it
follows are described in docs/reading-numbers.md):

1. Ink. The picture's ink against its local background, exactly as for one digit
   (lenet5.infer.page): uneven light and coloured paper come out flat.
2. Over-segmentation. Connected blobs of ink, specks and page furniture dropped, and each
   blob wider than a digit cut at the low points of its ink's vertical profile (where two
   digits touch, the column holds little ink). This makes more pieces than there are digits,
   on purpose: a broken 5 is two blobs, a touching "23" gets several candidate cuts.
3. The segmentation graph. Pieces are ordered left to right; a node sits between two
   pieces, and an arc from node i to node j is the candidate digit made of pieces i..j-1
   (at most four, no wider than a digit can be, no clear gap inside).
4. Recognition of every arc. Each candidate is rendered as an MNIST digit (the same
   rendering as `predict`) and the network scores all of them in one batch. With a model
   trained with a junk class (`--recipe reader`, the shipped "reader" model), a half, a
   pair or a digit with a slice of its neighbour scores as junk, so it loses.
5. The best path. The reading is the path from the first node to the last of least total
   penalty, -log p(digit) summed over its arcs: dynamic programming (Viterbi) over the graph.

Boxes are given in the original picture's pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from lenet5.errors import UserError
from lenet5.infer import page
from lenet5.infer.backends import Backend
from lenet5.infer.preprocess import NoInkError, open_image, render_mnist, to_grayscale

MAX_PIECES_PER_DIGIT = 4  # an arc joins at most this many pieces (a 5's bar, a broken 0, cut slices)
MAX_DIGIT_WIDTH = 1.3  # of the line height: no single digit is wider (a wide 0 or 2 is about 1)
CUT_WIDTH = 0.8  # blobs wider than this (of the line height) may be several touching digits
MIN_CUT_SPACING = 0.18  # candidate cuts at least this far apart (of the line height)
GAP = 0.35  # a clear gap this wide (of the line height) between pieces: never inside one digit
SPECK = 0.03  # blobs with less ink than this share of the largest are dust


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


@dataclass(frozen=True)
class Piece:
    """An elementary segment: the pixels of one blob within a column range."""

    blob: int
    x0: int
    x1: int  # exclusive
    y0: int
    y1: int
    mass: float

    @property
    def centre(self) -> float:
        return (self.x0 + self.x1) / 2


def _line_height(blobs: list[page.Blob]) -> float:
    """The height of a digit on this line: the median height of the substantial blobs."""
    heaviest = max(b.mass for b in blobs)
    return float(np.median([b.height for b in blobs if b.mass > 0.3 * heaviest]))


def _cut_columns(column_ink: np.ndarray, height: float) -> list[int]:
    """Candidate cuts through a blob that may be several touching digits: columns where the
    smoothed vertical profile has a local minimum, away from the blob's ends, lowest first
    and at least MIN_CUT_SPACING apart, about two per digit the blob could hold."""
    width = len(column_ink)
    smooth = np.convolve(column_ink, np.ones(3) / 3, mode="same")
    margin = max(1, int(0.25 * height))
    inner = np.arange(margin, width - margin)
    if len(inner) == 0:
        return []
    minima = [x for x in inner if smooth[x] <= smooth[max(0, x - 1)] and smooth[x] <= smooth[min(width - 1, x + 1)]]
    minima.sort(key=lambda x: smooth[x])
    spacing = MIN_CUT_SPACING * height
    wanted = max(1, 2 * round(width / height))
    cuts: list[int] = []
    for x in minima:
        if all(abs(x - c) >= spacing for c in cuts):
            cuts.append(int(x))
        if len(cuts) >= wanted:
            break
    return sorted(cuts)


def over_segment(labels: np.ndarray, blobs: list[page.Blob], height: float) -> list[Piece]:
    """Elementary pieces, left to right: each blob, cut where it may hold touching digits."""
    pieces: list[Piece] = []
    for blob in blobs:
        own = labels[blob.y0 : blob.y1, blob.x0 : blob.x1] == blob.index
        bounds = [0, blob.width]
        if blob.width > CUT_WIDTH * height:
            bounds = [0, *_cut_columns(own.sum(axis=0).astype(np.float64), height), blob.width]
        for left, right in zip(bounds, bounds[1:], strict=False):
            rows = np.flatnonzero(own[:, left:right].any(axis=1))
            if len(rows) == 0:
                continue
            pieces.append(
                Piece(
                    blob.index,
                    blob.x0 + left,
                    blob.x0 + right,
                    blob.y0 + int(rows[0]),
                    blob.y0 + int(rows[-1]) + 1,
                    float(own[:, left:right].sum()),
                )
            )
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


def _render_arc(ink: np.ndarray, labels: np.ndarray, pieces: list[Piece]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The arc's own ink (only its pieces' pixels, with their soft rim) as an MNIST digit."""
    x0, y0 = min(p.x0 for p in pieces), min(p.y0 for p in pieces)
    x1, y1 = max(p.x1 for p in pieces), max(p.y1 for p in pieces)
    own = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    window = labels[y0:y1, x0:x1]
    for p in pieces:
        own[:, p.x0 - x0 : p.x1 - x0] |= window[:, p.x0 - x0 : p.x1 - x0] == p.blob
    rim = cv2.dilate(own, np.ones((3, 3), np.uint8))  # the anti-aliased edge just below the threshold
    crop = ink[y0:y1, x0:x1] * rim
    rows, cols = np.flatnonzero(crop.max(axis=1) > 0), np.flatnonzero(crop.max(axis=0) > 0)
    crop = crop[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return render_mnist(page.normalise_stroke(crop, own[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])), (
        x0,
        y0,
        x1,
        y1,
    )


def best_path(costs: dict[tuple[int, int], float], nodes: int) -> list[tuple[int, int]]:
    """The arcs of the least-cost path from node 0 to node `nodes - 1` (Viterbi)."""
    best = [math.inf] * nodes
    back: list[int | None] = [None] * nodes
    best[0] = 0.0
    for j in range(1, nodes):
        for (i, jj), cost in costs.items():
            if jj == j and best[i] + cost < best[j]:
                best[j], back[j] = best[i] + cost, i
    path, j = [], nodes - 1
    while j > 0:
        i = back[j]
        if i is None:
            raise ValueError("the segmentation graph has no path")  # cannot happen: single pieces are arcs
        path.append((i, j))
        j = i
    return path[::-1]


def read_gray(backend: Backend, gray: np.ndarray) -> list[tuple[int, float, tuple[int, int, int, int]]]:
    """(digit, probability, box in `gray`'s pixels) for each digit of the number, left to right."""
    strength = page.ink_strength(gray)
    threshold = page.ink_threshold(strength)
    mask = (strength > threshold).astype(np.uint8)
    labels, blobs = page.find_blobs(mask, strength)
    h, w = mask.shape
    blobs = [b for b in blobs if not page.is_page_furniture(b, h, w)]
    if not blobs:
        raise NoInkError("no ink found (blank or near-uniform image)")
    heaviest = max(b.mass for b in blobs)
    blobs = [b for b in blobs if b.mass >= SPECK * heaviest]
    height = _line_height(blobs)
    pieces = over_segment(labels, blobs, height)
    arcs = _arcs(pieces, height)
    # Soft ink 0..1, as for one digit: the threshold's half is the floor, the strokes' 90th
    # percentile the peak.
    core = strength[mask > 0]
    peak = float(np.percentile(core, 90)) if core.size else 1.0
    floor = threshold / 2
    ink = np.clip((strength - floor) / max(peak - floor, 1e-6), 0.0, 1.0).astype(np.float32)
    rendered = [_render_arc(ink, labels, pieces[i:j]) for i, j in arcs]
    digits = np.stack([r[0] for r in rendered])
    scores = backend.scores(backend.meta["normalization"](digits))
    digit_scores = scores[:, :10]
    costs = {arc: -math.log(max(float(digit_scores[k].max()), 1e-12)) for k, arc in enumerate(arcs)}
    reading = []
    for arc in best_path(costs, len(pieces) + 1):
        k = arcs.index(arc)
        probs = digit_scores[k]
        best = int(np.argmax(probs))
        reading.append((best, float(probs[best]), rendered[k][1]))
    return reading


def read_number(backend: Backend, image: Image.Image, label: str = "image") -> NumberReading:
    ImageOps.exif_transpose(image, in_place=True)
    original = image.size
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


def read_file(backend: Backend, source: str | Path | bytes, name: str | None = None, max_pixels: int | None = None) -> NumberReading:
    """A file path or bytes -> the number in it. Every failure is a UserError naming the file."""
    label = name or str(source if not isinstance(source, bytes) else "<bytes>")
    image = open_image(source, name, max_pixels) if max_pixels else open_image(source, name)
    try:
        return read_number(backend, image, label)
    except UserError:
        raise
    except (OSError, ValueError, TypeError, MemoryError, cv2.error) as exc:
        raise UserError(f"{label}: cannot process this image ({type(exc).__name__}: {exc})") from None
