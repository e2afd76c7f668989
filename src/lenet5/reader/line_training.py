"""Training the reader's recogniser on whole readings (LeCun et al. 1998, Section VI).

Piece by piece (lenet5.reader.junk, lenet5.reader.pieces) the network learns what one digit and
what junk look like. But `lenet5 read` decides between whole paths through a line's
segmentation graph, and there a merged "92" read "2" at 0.71 beats "9" and "2" read at
0.8 each (0.71 > 0.8 x 0.8): a piece-level score can be good on every piece and still lose
the comparison that matters. The paper's remedy is to train through the graph, on the
criterion the reader decides by, its "discriminative forward" criterion:

    loss = -log sum_{correct paths} prod_arcs p(digit | arc)
           + log sum_{all paths} prod_arcs (1 - p(junk | arc))

The first sum runs over the paths that cut the line where its digits meet and read each
piece as its digit; the second over every path and every reading of it (the ten digits'
probabilities of an arc sum to 1 - p(junk)). The loss is zero only when the correct paths
hold all of the graph's probability, so it pushes up exactly the wrong paths that compete.

Both sums are forward passes over the graph (the forward algorithm, a log-sum-exp where
Viterbi takes a minimum). Their gradients with respect to each arc's log score are the
arc's posterior probabilities on the correct and on all paths (forward-backward), so the
network is trained with a weighted loss per arc:

    sum_arcs  posterior_all(arc) * log(1 - p(junk | arc)) - posterior_correct(arc) * log p(digit | arc)

whose gradient is that of the criterion. The posteriors are computed here in NumPy from
the same forward pass.

The lines are made as lenet5.reader.pieces makes them (training digits only), and a line
is used only if some path through its graph is correct: where the cuts cannot separate two
digits there is nothing to learn about choosing between paths.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from lenet5.reader.graph import forward
from lenet5.reader.pieces import segmented_line, whole_digits
from lenet5.runtime import import_paddle

paddle = import_paddle()
F = paddle.nn.functional

LINES_PER_STEP = 8  # lines per update: some 400-500 arcs
# Single pieces (digits, junk, the reader's own cuts) trained beside the lines with
# cross-entropy, as in the piece epochs, so one digit's reading does not drift.
PIECES_PER_STEP = 64
LINE_LR = 1e-4  # Adam's rate in the line passes: they fine-tune the piece-trained network
VALIDATION_LINES = 500  # validation lines, read after each line pass (and for the piece epoch kept) to choose


@dataclass(frozen=True)
class LineGraph:
    """One line's segmentation graph, ready for training."""

    arcs: np.ndarray  # int [arcs, 2]: (from node, to node), nodes 0..nodes-1
    nodes: int
    pieces: np.ndarray  # uint8 [arcs, 28, 28]: each arc rendered as the reader renders it
    position: np.ndarray  # int [arcs]: which digit of the number the arc holds whole, -1: none
    digits: np.ndarray  # int [digits]: the number's digits, left to right


def correct_arcs(coverage: np.ndarray, purity: np.ndarray) -> np.ndarray:
    """Per arc, the position of the digit it holds whole (-1 when none)."""
    best, whole, _junk = whole_digits(coverage, purity)
    return np.where(whole, best, -1)


def make_lines(images: np.ndarray, labels: np.ndarray, count: int, rng: np.random.Generator) -> list[LineGraph]:
    """`count` lines of these digits with at least one correct path each."""
    lines: list[LineGraph] = []
    while len(lines) < count:
        found, coverage, purity, digits = segmented_line(images, labels, rng)
        arcs = np.array(found.arcs, dtype=np.int64).reshape(-1, 2)
        position = correct_arcs(coverage, purity)
        if not np.isfinite(forward(np.zeros(len(arcs)), arcs, len(found.pieces) + 1, position, len(digits))[0]):
            continue
        pieces, _boxes = found.rendered()
        lines.append(LineGraph(arcs, len(found.pieces) + 1, pieces, position, digits))
    return lines


def _criterion(log_p: np.ndarray, line: LineGraph) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """The forward criterion of one line from its arcs' log-probabilities [arcs, 11], with
    each arc's posterior on all paths and on the correct ones, and the digit each arc would
    be as part of a correct path (0 where it is none)."""
    arc_digit = np.where(line.position >= 0, line.digits[np.maximum(line.position, 0)], 0)
    log_all, post_all = forward(np.logaddexp.reduce(log_p[:, :10], axis=1), line.arcs, line.nodes)
    correct_scores = log_p[np.arange(len(arc_digit)), arc_digit]
    log_correct, post_correct = forward(correct_scores, line.arcs, line.nodes, line.position, len(line.digits))
    return log_all - log_correct, post_all, post_correct, arc_digit


def line_loss(model: object, lines: list[LineGraph], normalize: object) -> tuple[object, float]:
    """The forward criterion's surrogate over these lines (a Paddle scalar whose gradient
    is the criterion's, averaged over the lines) and the criterion's own value."""
    x = normalize(np.concatenate([line.pieces for line in lines]))
    logits = model(paddle.to_tensor(x))
    log_p = F.log_softmax(logits, axis=-1)
    log_not_junk = paddle.logsumexp(log_p[:, :10], axis=1)
    values = log_p.numpy()
    weight_all, weight_correct, label = [], [], []
    criterion = 0.0
    start = 0
    for line in lines:
        n = len(line.arcs)
        value, post_all, post_correct, arc_digit = _criterion(values[start : start + n], line)
        start += n
        criterion += value
        weight_all.append(post_all)
        weight_correct.append(post_correct)
        label.append(arc_digit)
    w_all = paddle.to_tensor(np.concatenate(weight_all).astype(np.float32))
    w_correct = paddle.to_tensor(np.concatenate(weight_correct).astype(np.float32))
    digit = paddle.to_tensor(np.concatenate(label).reshape(-1, 1))
    log_p_digit = paddle.take_along_axis(log_p, digit, axis=1).reshape([-1])
    surrogate = ((w_all * log_not_junk).sum() - (w_correct * log_p_digit).sum()) / len(lines)
    return surrogate, criterion / len(lines)


def _scores(model: object, lines: list[LineGraph], normalize: object, batch: int = 2000) -> np.ndarray:
    """Every arc's probabilities (eleven classes) over these lines, in order, without gradients."""
    x = normalize(np.concatenate([line.pieces for line in lines]))
    with paddle.no_grad():
        out = [F.softmax(model(paddle.to_tensor(x[i : i + batch])), axis=-1).numpy() for i in range(0, len(x), batch)]
    return np.concatenate(out)


def evaluate_lines(model: object, lines: list[LineGraph], normalize: object) -> tuple[float, float]:
    """(mean forward criterion, share of lines read right) as `lenet5 read` decodes them:
    the best path, each arc read as its likeliest digit (ScoredGraph.best_reading)."""
    from lenet5.reader.graph import ScoredGraph

    model.eval()
    probs = _scores(model, lines, normalize)
    cost, right, start = 0.0, 0, 0
    for line in lines:
        n = len(line.arcs)
        part = probs[start : start + n]
        start += n
        graph = ScoredGraph(line.nodes, [tuple(a) for a in line.arcs.tolist()], part, [(0, 0, 0, 0)] * n)
        read = [digit for digit, _p, _box in graph.best_reading(skip_ends=False)]  # as trained: every arc a digit
        right += read == line.digits.tolist()
        cost += _criterion(np.log(np.maximum(part, 1e-30)), line)[0]
    return cost / len(lines), right / len(lines)


@dataclass(frozen=True)
class LinePass:
    criterion: float  # mean over the lines
    piece_cost: float  # mean cross-entropy of the pieces trained beside them
    piece_accuracy: float
    seconds: float
    steps: int
    images: int  # arcs and pieces put through the network


def train_line_epoch(
    model: object,
    optimizer: object,
    loss_fn: object,
    lines: list[LineGraph],
    x_pieces: np.ndarray,
    y_pieces: np.ndarray,
    normalize: object,
    rng: np.random.Generator,
    desc: str = "lines",
    progress: bool | None = None,
) -> LinePass:
    """One pass over the lines in an order drawn from `rng`: each update takes
    LINES_PER_STEP lines (the forward criterion) and PIECES_PER_STEP pieces (cross-entropy;
    `x_pieces` normalised). Batch-norm keeps the statistics of the piece epochs
    (model.eval()): one line's arcs, mostly junk, are nothing like what it normalises
    when reading."""
    model.eval()
    order = rng.permutation(len(lines))
    steps = -(-len(lines) // LINES_PER_STEP)
    bar = tqdm(total=steps, desc=desc, unit="batch", disable=None if progress is None else not progress,
               leave=False, file=sys.stderr)  # fmt: skip
    criterion = piece_cost = 0.0
    correct = images = 0
    started = time.perf_counter()
    for first in range(0, len(order), LINES_PER_STEP):
        batch = [lines[k] for k in order[first : first + LINES_PER_STEP]]
        surrogate, value = line_loss(model, batch, normalize)
        pick = rng.integers(0, len(y_pieces), PIECES_PER_STEP)
        outputs = model(paddle.to_tensor(x_pieces[pick]))
        per_piece = loss_fn(outputs, paddle.to_tensor(y_pieces[pick]))
        (surrogate + per_piece.mean()).backward()
        optimizer.step()
        optimizer.clear_grad()
        criterion += value * len(batch)
        piece_cost += per_piece.sum().item()
        correct += int((outputs.numpy().argmax(axis=1) == y_pieces[pick]).sum())
        images += sum(len(line.arcs) for line in batch) + PIECES_PER_STEP
        bar.update(1)
    bar.close()
    pieces = steps * PIECES_PER_STEP
    return LinePass(
        criterion / len(lines), piece_cost / pieces, correct / pieces, time.perf_counter() - started, steps, images
    )
