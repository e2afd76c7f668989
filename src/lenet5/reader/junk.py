"""Pieces that are not one whole digit, for training a recogniser that can say so.

Reading a written number (lenet5.reader.read) cuts the ink into candidate pieces
and lets the network choose among the ways to group them. That works only if the network
gives a low score to a piece that is half a digit, two digits, or a digit with a slice of
its neighbour: LeCun et al. 1998 (Sections V-VI) train the recogniser on such "junk"
pieces for this reason. Here they are made from MNIST digits of the same split, cut and
paired the way the number reader cuts and pairs ink, and rendered by the same function
that renders a piece at reading time (lenet5.vision.preprocess.render_mnist), so the
network sees junk exactly as the reader will show it.

Three kinds, about a third each:
- a fragment: one digit cut at 30-70% of its ink width, the left or the right part;
- a pair: two digits side by side, from 3 px overlapping (touching) to 3 px apart;
- a digit with 25-60% of a neighbour attached, on its left or right.

And the other side of that boundary, labelled as the digit itself: a digit with a sliver
(5-15% of the width) of a touching neighbour still attached, which is what a cut through
two touching digits leaves. Without these, the junk class learns to reject every piece
with a stray stroke, and so the right cut between touching digits.
"""

from __future__ import annotations

import numpy as np

from lenet5.reader.lines import crop
from lenet5.vision.preprocess import render_mnist

JUNK_LABEL = 10  # the eleventh class


def _side_by_side(left: np.ndarray, right: np.ndarray, gap: int, shift: int) -> tuple[np.ndarray, int]:
    """Two crops on one canvas, `gap` px apart (negative: overlapping), the right one `shift`
    px lower; the ink where they overlap is the brighter of the two. Also returns where the
    right crop starts."""
    start = left.shape[1] + gap
    top_right = max(0, shift)
    top_left = max(0, -shift)
    height = max(top_left + left.shape[0], top_right + right.shape[0])
    width = max(left.shape[1], start + right.shape[1])
    canvas = np.zeros((height, width), dtype=np.float32)
    canvas[top_left : top_left + left.shape[0], : left.shape[1]] = left
    region = canvas[top_right : top_right + right.shape[0], start : start + right.shape[1]]
    np.maximum(region, right, out=region)
    return canvas, start


def _with_slice_of(a: np.ndarray, b: np.ndarray, keep: int, gap: int, shift: int, b_on_right: bool) -> np.ndarray:
    """`a` whole with the `keep` columns of `b` nearest to it: b's left edge when b is on
    the right, its right edge when b is on the left."""
    if b_on_right:
        canvas, start = _side_by_side(a, b, gap, shift)
        return canvas[:, : start + keep]
    canvas, _ = _side_by_side(b, a, gap, shift)
    return canvas[:, max(0, b.shape[1] - keep) :]


def _trim(piece: np.ndarray) -> np.ndarray | None:
    rows = np.flatnonzero(piece.max(axis=1) > 0.05)
    cols = np.flatnonzero(piece.max(axis=0) > 0.05)
    if len(rows) < 3 or len(cols) < 2:
        return None
    return piece[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def junk_pieces(images: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` junk pieces (uint8 [count, 28, 28], MNIST conventions) made from `images`."""
    out = np.zeros((count, 28, 28), dtype=np.uint8)
    made = 0
    while made < count:
        kind = rng.integers(3)
        a = crop(images[rng.integers(len(images))])
        if kind == 0:
            cut = max(1, round(rng.uniform(0.3, 0.7) * a.shape[1]))
            piece = a[:, :cut] if rng.random() < 0.5 else a[:, cut:]
        else:
            b = crop(images[rng.integers(len(images))])
            gap, shift = int(rng.integers(-3, 4)), int(rng.integers(-3, 4))
            if kind == 1:
                piece, _ = _side_by_side(a, b, gap, shift)
            else:
                keep = max(1, round(rng.uniform(0.25, 0.6) * b.shape[1]))
                piece = _with_slice_of(a, b, keep, gap, shift, b_on_right=rng.random() < 0.5)
        trimmed = _trim(piece)
        if trimmed is None or trimmed.shape[1] < 0.3 * trimmed.shape[0]:
            continue  # nothing left, or a lone upright stroke: a piece no one could tell from a "1"
        out[made] = render_mnist(trimmed)
        made += 1
    return out


def sliver_pieces(
    images: np.ndarray, labels: np.ndarray, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`count` digits with a thin slice of a touching neighbour on one side, labelled as the digit."""
    out = np.zeros((count, 28, 28), dtype=np.uint8)
    out_labels = np.zeros(count, dtype=labels.dtype)
    made = 0
    while made < count:
        index = rng.integers(len(images))
        a, b = crop(images[index]), crop(images[rng.integers(len(images))])
        keep = max(1, round(rng.uniform(0.05, 0.15) * b.shape[1]))
        gap, shift = -int(rng.integers(0, 3)), int(rng.integers(-3, 4))
        piece = _with_slice_of(a, b, keep, gap, shift, b_on_right=rng.random() < 0.5)
        trimmed = _trim(piece)
        if trimmed is None:
            continue
        out[made], out_labels[made] = render_mnist(trimmed), labels[index]
        made += 1
    return out, out_labels
