"""Training pieces for the number reader's recogniser, cut by the reader itself.

LeCun et al. 1998 (Section VI) train the recogniser on the pieces the segmenter actually
produces, not on hand-made halves and pairs alone, because only then does it learn where
the segmenter's own cuts fall. Here: lines of MNIST digits (lenet5.reader.lines,
knowing which digit each pixel of ink belongs to) are photographed, segmented exactly as
`lenet5 read` segments a picture (lenet5.reader.read.segment), and every arc of the
segmentation graph is labelled:
- the digit, when the arc holds nearly all of one digit's ink and little of any other's
  (a clean cut, or a cut that leaves a sliver of the neighbour);
- junk, when it holds too little of any one digit or a real share of two;
- nothing (left out) in between, where no label would be honest.
"""

from __future__ import annotations

import cv2
import numpy as np

from lenet5.reader.junk import JUNK_LABEL, junk_pieces, sliver_pieces
from lenet5.reader.lines import compose_line, crop, enlarge_owner, photograph, vary
from lenet5.reader.segment import Segmentation, segment

WHOLE = 0.8  # an arc is the digit when it holds this share of the digit's ink ...
PURE = 0.8  # ... and this share of the arc's ink is that digit's
PART = 0.6  # junk when the best digit's share of either is below this,
SECOND = 0.3  # or when the arc holds this share of a second digit's ink
UNLABELLED = -1


def ink_shares(found: Segmentation, owner: np.ndarray, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per arc and digit: the share of the digit's ink inside the arc (coverage), and the
    share of the arc's ink that is the digit's (purity); both [arcs, digits]. `owner` is
    the digit index of each pixel of the picture that was segmented (-1: none), at any
    scale of it."""
    size = found.ink.shape[1], found.ink.shape[0]
    owner = cv2.resize(owner.astype(np.int16), size, interpolation=cv2.INTER_NEAREST)
    # Ink per piece and digit; an arc's is the sum over its pieces.
    per_piece = np.zeros((len(found.pieces), digits + 1), dtype=np.float64)
    for k, p in enumerate(found.pieces):
        ink = found.ink[p.y0 : p.y1, p.x0 : p.x1] * p.mask
        who = owner[p.y0 : p.y1, p.x0 : p.x1].astype(np.int64) + 1  # 0: nobody's ink (blur, noise)
        per_piece[k] = np.bincount(who.ravel(), weights=ink.ravel(), minlength=digits + 1)
    cumulative = np.vstack([np.zeros(digits + 1), np.cumsum(per_piece, axis=0)])
    arcs = np.array(found.arcs).reshape(-1, 2)
    per_arc = cumulative[arcs[:, 1]] - cumulative[arcs[:, 0]]
    totals = per_piece.sum(axis=0)
    coverage = per_arc[:, 1:] / np.maximum(totals[1:], 1e-9)
    purity = per_arc[:, 1:] / np.maximum(per_arc[:, 1:].sum(axis=1, keepdims=True), 1e-9)
    return coverage, purity


def whole_digits(coverage: np.ndarray, purity: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per arc: the index of the digit it holds most of, whether it holds that digit whole
    (and little else), and whether it is junk (too little of any digit, or a real share of
    two)."""
    rows = np.arange(len(coverage))
    both = np.minimum(coverage, purity)
    best = both.argmax(axis=1)
    # A thin "1" swallowed whole beside a "6" is little of the arc's ink but a whole digit:
    # an arc with a real share of a second digit is junk however pure the first looks.
    others = coverage.copy()
    others[rows, best] = 0.0
    second = others.max(axis=1, initial=0.0)
    whole = (coverage[rows, best] >= WHOLE) & (purity[rows, best] >= PURE) & (second < SECOND)
    junk = (both[rows, best] < PART) | (second >= SECOND)
    return best, whole, junk


def arc_labels(coverage: np.ndarray, purity: np.ndarray, digit_labels: np.ndarray) -> np.ndarray:
    """Each arc's training label: its digit, JUNK_LABEL, or UNLABELLED (left out)."""
    labels = np.full(len(coverage), UNLABELLED, dtype=np.int64)
    best, whole, junk = whole_digits(coverage, purity)
    labels[whole] = digit_labels[best[whole]]
    labels[junk] = JUNK_LABEL
    return labels


# How often each spacing is drawn, and its range of distances in MNIST pixels (wider than
# bench/number_sets.py's, so the recogniser is not fitted to one set's spacing).
SPACING_MIX = {"separated": (0.2, (2, 10)), "close": (0.3, (1, 4)), "touching": (0.5, (1, 4))}


def segmented_line(
    images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, lengths: tuple[int, int] = (2, 6)
) -> tuple[Segmentation, np.ndarray, np.ndarray, np.ndarray]:
    """A line of `lengths[0]` to `lengths[1] - 1` of these digits (spacing drawn from
    SPACING_MIX), photographed and segmented as `lenet5 read` does: the segmentation, each
    arc's coverage and purity per digit (ink_shares), and the digits' labels in order."""
    spacings = list(SPACING_MIX)
    spacing = spacings[rng.choice(len(spacings), p=[SPACING_MIX[s][0] for s in spacings])]
    picks = rng.integers(0, len(images), int(rng.integers(*lengths)))
    digits = [vary(crop(images[i]), rng) for i in picks]
    line, owner = compose_line(digits, spacing, rng, SPACING_MIX[spacing][1])
    scale = int(rng.integers(2, 4))
    found = segment(photograph(line, rng, scale))
    return found, *ink_shares(found, enlarge_owner(owner, scale), len(picks)), labels[picks]


def segmented_pieces(
    images: np.ndarray, labels: np.ndarray, count: int, rng: np.random.Generator, junk_share: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """`count` arcs (uint8 [count, 28, 28], MNIST conventions) cut by the reader from lines
    of 2-5 of these digits, and their labels (a digit, or JUNK_LABEL for about
    `junk_share` of them)."""
    want_junk = round(junk_share * count)
    pieces: list[np.ndarray] = []
    piece_labels: list[int] = []
    junk_made = 0
    while len(pieces) < count:
        found, coverage, purity, digit_labels = segmented_line(images, labels, rng)
        arc_label = arc_labels(coverage, purity, digit_labels)
        keep = [k for k, label in enumerate(arc_label) if label != UNLABELLED]
        # Junk arcs outnumber digit arcs many times over: keep them only while the junk
        # quota is short of its share of what has been made.
        chosen = []
        for k in rng.permutation(keep):
            if arc_label[k] == JUNK_LABEL:
                if junk_made >= want_junk * (len(pieces) + len(chosen) + 1) / count:
                    continue
                junk_made += 1
            chosen.append(int(k))
        rendered, _boxes = found.rendered(chosen)
        pieces += list(rendered)
        piece_labels += [int(arc_label[k]) for k in chosen]
    return np.stack(pieces[:count]), np.array(piece_labels[:count], dtype=labels.dtype)


def with_junk(
    images: np.ndarray, labels: np.ndarray, share: float, seed: int | list[int], segmented: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The digits plus `share` times as many junk pieces made from them (label 10), half
    as many again digits with a sliver of a neighbour (labelled as the digit), and
    `segmented` times as many pieces cut from lines of them by the number reader itself
    (segmented_pieces), shuffled in among them by a generator seeded with `seed`."""
    count = round(share * len(labels))
    if count == 0:
        return images, labels
    rng = np.random.default_rng(seed)
    junk = junk_pieces(images, count, rng)
    slivers, sliver_labels = sliver_pieces(images, labels, count // 2, rng)
    parts = [images, junk, slivers]
    part_labels = [labels, np.full(count, JUNK_LABEL, dtype=labels.dtype), sliver_labels]
    if segmented > 0:
        cut, cut_labels = segmented_pieces(images, labels, round(segmented * len(labels)), rng)
        parts.append(cut)
        part_labels.append(cut_labels)
    all_images, all_labels = np.concatenate(parts), np.concatenate(part_labels)
    order = rng.permutation(len(all_labels))
    return all_images[order], all_labels[order]
