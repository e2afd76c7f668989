"""Steps 4-5 of reading a number (lenet5.reader.read): the network's scores on every arc of
the segmentation graph, and the path through it of least total penalty.

4. Recognition of every arc. Each candidate is rendered as an MNIST digit (the same
   rendering as `predict`) and the network scores all of them in one batch. With a model
   trained with a junk class (`--recipe reader`, the shipped "reader" model), a half, a
   pair or a digit with a slice of its neighbour scores as junk, so it loses.
5. The best path. The reading is the path from the first node to the last of least total
   penalty, -log p(digit) summed over its arcs: dynamic programming (Viterbi) over the graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

JUNK_WEIGHT = 1.0  # how much of the junk class's probability counts against an arc (ScoredGraph)
DIGIT_PENALTY = 0.0  # added to every digit of a reading (ScoredGraph.best_reading)
FLAT_PIECE = 4.0  # a piece this many times wider than tall is no digit alone (a 2's base is about 2.5)...
SKIP_PENALTY = 1.0  # ...and at a line's end may be passed over at this cost (nats) beyond -log p(junk)


def best_path(costs: dict[tuple[int, int], float], nodes: int, length: int | None = None) -> list[tuple[int, int]]:
    """The arcs of the least-cost path from node 0 to node `nodes - 1` (Viterbi); with
    `length`, the least-cost path of exactly that many arcs (digits), which may not exist
    (ValueError)."""
    if length is not None:
        return _best_path_of_length(costs, nodes, length)
    best = [math.inf] * nodes
    back: list[int | None] = [None] * nodes
    best[0] = 0.0
    # Arcs in order of their end node: every arc into node i is settled before any leaves it.
    for (i, j), cost in sorted(costs.items(), key=lambda item: item[0][1]):
        if best[i] + cost < best[j]:
            best[j], back[j] = best[i] + cost, i
    path, j = [], nodes - 1
    while j > 0:
        i = back[j]
        if i is None:
            raise ValueError("the segmentation graph has no path")  # cannot happen: single pieces are arcs
        path.append((i, j))
        j = i
    return path[::-1]


def _best_path_of_length(costs: dict[tuple[int, int], float], nodes: int, length: int) -> list[tuple[int, int]]:
    """Viterbi over (node, arcs taken so far): the cheapest way to each node in k arcs."""
    best = np.full((nodes, length + 1), math.inf)
    back = np.full((nodes, length + 1), -1, dtype=np.int64)
    best[0, 0] = 0.0
    for (i, j), cost in sorted(costs.items(), key=lambda item: item[0][1]):
        through = best[i, :length] + cost
        better = through < best[j, 1:]
        best[j, 1:][better] = through[better]
        back[j, 1:][better] = i
    if not math.isfinite(best[nodes - 1, length]):
        raise ValueError(f"the line cannot be read as {length} digits")
    path, j, k = [], nodes - 1, length
    while k > 0:
        i = int(back[j, k])
        path.append((i, j))
        j, k = i, k - 1
    return path[::-1]


def forward(
    scores: np.ndarray, arcs: np.ndarray, nodes: int, position: np.ndarray | None = None, length: int = 0
) -> tuple[float, np.ndarray]:
    """log sum over paths from node 0 to the last of exp(sum of the arcs' scores), and
    each arc's posterior probability of lying on a path (forward-backward).

    With `position`, only the correct paths count: arcs that hold digits 0, 1, ...,
    `length` - 1 in that order (the states are (node, digits read so far))."""
    constrained = position is not None
    steps = length + 1 if constrained else 1
    pos = position if constrained else np.zeros(len(arcs), dtype=np.int64)
    usable = pos >= 0
    alpha = np.full((nodes, steps), -np.inf)
    beta = np.full((nodes, steps), -np.inf)
    alpha[0, 0] = 0.0
    beta[nodes - 1, steps - 1] = 0.0
    shift = 1 if constrained else 0  # a correct arc moves to the next digit
    # Arcs by end node: every arc into node i is added before any arc leaves it (and the
    # reverse for beta).
    for a in np.argsort(arcs[:, 1], kind="stable"):
        if usable[a]:
            (i, j), p = arcs[a], pos[a]
            alpha[j, p + shift] = np.logaddexp(alpha[j, p + shift], alpha[i, p] + scores[a])
    for a in np.argsort(-arcs[:, 0], kind="stable"):
        if usable[a]:
            (i, j), p = arcs[a], pos[a]
            beta[i, p] = np.logaddexp(beta[i, p], scores[a] + beta[j, p + shift])
    total = alpha[nodes - 1, steps - 1]
    posterior = np.zeros(len(arcs))
    if np.isfinite(total):
        i, j = arcs[usable, 0], arcs[usable, 1]
        p = pos[usable]
        posterior[usable] = np.exp(alpha[i, p] + scores[usable] + beta[j, p + shift] - total)
    return float(total), posterior


@dataclass(frozen=True)
class ScoredGraph:
    """The segmentation graph of one line with the network's scores on every arc."""

    nodes: int
    arcs: list[tuple[int, int]]
    scores: np.ndarray  # [arcs, 10 or 11]: the network's probabilities (11th: junk)
    boxes: list[tuple[int, int, int, int]]  # each arc's box in the analysed picture's pixels

    def digit_probabilities(self, junk_weight: float = JUNK_WEIGHT) -> np.ndarray:
        """The ten digits' probabilities per arc, with the junk class's share scaled by
        `junk_weight` before renormalising (1: the network's own; 0: junk ignored)."""
        digits = self.scores[:, :10]
        junk = self.scores[:, 10:].sum(axis=1, keepdims=True)
        return digits / np.maximum(digits.sum(axis=1, keepdims=True) + junk_weight * junk, 1e-12)

    def best_reading(
        self,
        junk_weight: float = JUNK_WEIGHT,
        digit_penalty: float = DIGIT_PENALTY,
        length: int | None = None,
        skip_ends: bool = True,
    ) -> list[tuple[int, float, tuple[int, int, int, int]]]:
        """(digit, probability, box) along the least-penalty path: each arc costs
        -log p(its best digit) + `digit_penalty` (which keeps slivers from becoming digits).
        With `length`, the best reading of exactly that many digits (ValueError if none).
        With `skip_ends` (and no `length`), flat junk at the line's ends may be passed over
        (`_end_skips`); never all of the line: a path that reads nothing is read again
        without. (The posterior, `posterior`, knows of no skips.)"""
        probs = self.digit_probabilities(junk_weight)
        best = probs.max(axis=1)
        costs = {arc: digit_penalty - math.log(max(float(best[k]), 1e-12)) for k, arc in enumerate(self.arcs)}
        index = {arc: k for k, arc in enumerate(self.arcs)}
        skips = self._end_skips(junk_weight) if skip_ends and length is None else {}
        skipped = {k for k, cost in skips.items() if cost < costs[self.arcs[k]]}
        path = best_path({**costs, **{self.arcs[k]: skips[k] for k in skipped}}, self.nodes, length)
        if skipped and all(index[arc] in skipped for arc in path):
            path, skipped = best_path(costs, self.nodes, length), set()
        reading = []
        for arc in path:
            k = index[arc]
            if k in skipped:
                continue
            digit = int(np.argmax(probs[k]))
            reading.append((digit, float(probs[k, digit]), self.boxes[k]))
        return reading

    def _end_skips(self, junk_weight: float) -> dict[int, float]:
        """The arcs at the line's ends that may be passed over as no digit, with the cost of
        doing so: flat (FLAT_PIECE: no digit is), starting at the first piece or ending at the
        last, and taken by the network for junk: -log p(junk) + SKIP_PENALTY. The dashes of
        a dotted underline that a digit touches stay with it through the writing finder, and
        were read as a digit of 1-3%. Only with a junk class, and only arcs with a box (the
        line training's graphs have none)."""
        if self.scores.shape[1] <= 10 or self.nodes < 3:
            return {}
        junk = junk_weight * self.scores[:, 10:].sum(axis=1)
        share = junk / np.maximum(self.scores[:, :10].sum(axis=1) + junk, 1e-12)
        skips = {}
        for k, (i, j) in enumerate(self.arcs):
            x0, y0, x1, y1 = self.boxes[k]
            end = (i == 0 or j == self.nodes - 1) and (i, j) != (0, self.nodes - 1)
            if end and y1 > y0 and x1 - x0 >= FLAT_PIECE * (y1 - y0):
                skips[k] = SKIP_PENALTY - math.log(max(float(share[k]), 1e-12))
        return skips

    def posterior(self, reading: list[tuple[int, float, tuple[int, int, int, int]]]) -> float:
        """The probability of `reading` (best_reading's) among every reading of the line: its
        digits' probabilities multiplied, over the sum, by the forward algorithm, of that
        product over every path and every digit of each arc. Not the product alone: a line of
        eleven sure digits is not eleven times less certain than one, and a "1" that the
        network half takes for junk loses its share of junk on every path alike. Every arc
        is a digit here: a reading that passed over flat junk at its ends (`best_reading`'s
        `skip_ends`) is scored without those arcs' share, so it comes out surer than it is
        (bench/calibration.py's lines have no such junk)."""
        if not reading:
            return 0.0
        probs = self.digit_probabilities()
        arcs = np.array(self.arcs, dtype=np.int64).reshape(-1, 2)
        log_total, _ = forward(np.log(np.maximum(probs.sum(axis=1), 1e-30)), arcs, self.nodes)
        log_reading = sum(math.log(max(p, 1e-30)) for _digit, p, _box in reading)
        return float(min(1.0, math.exp(log_reading - log_total)))
