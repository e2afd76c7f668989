"""`lenet5.reader.line_training` on a graph small enough to work out by hand: two pieces,
arcs (0, 1), (1, 2) and (0, 2), the number "35". The criterion, its surrogate and
gradient, the lines kept, reading them, and one line pass, with stand-in networks whose
probabilities the test chooses (no MNIST, no training: `make mutation` runs these)."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest

from lenet5.reader import line_training
from lenet5.reader.line_training import (
    LineGraph,
    _criterion,
    _scores,
    correct_arcs,
    evaluate_lines,
    line_loss,
    make_lines,
    train_line_epoch,
)
from lenet5.reader.segment import Piece, Segmentation
from lenet5.runtime import import_paddle

paddle = import_paddle()

ARCS = np.array([[0, 1], [1, 2], [0, 2]])


def _probs(digit_p: dict[int, float], junk: float) -> np.ndarray:
    """Eleven probabilities: the given digits', junk's, and the rest shared by the other digits."""
    row = np.zeros(11)
    row[10] = junk
    rest = [d for d in range(10) if d not in digit_p]
    row[rest] = (1.0 - junk - sum(digit_p.values())) / len(rest)
    for d, p in digit_p.items():
        row[d] = p
    return row


# A line read well: arcs 0 and 1 are the 3 and the 5; arc 2 (both pieces) is mostly junk.
GOOD = np.array([_probs({3: 0.6}, 0.2), _probs({5: 0.7}, 0.1), _probs({}, 0.5)])
# paths: 3-then-5 has 0.8 x 0.9 = 0.72 of not-junk, the merged arc 0.5; correct: 0.6 x 0.7
GOOD_CRITERION = math.log(1.22 / 0.42)
# A line read badly: the pieces look like junk, the merged arc like an 8.
BAD = np.array([_probs({3: 0.1}, 0.8), _probs({5: 0.1}, 0.8), _probs({8: 0.9}, 0.01)])
BAD_CRITERION = math.log((0.2 * 0.2 + 0.99) / (0.1 * 0.1))
PIECE = _probs({7: 0.5}, 0.05)  # the single pieces trained beside the lines: a 7 at 0.5


def _line(marker: int = 0, position: tuple[int, int, int] = (0, 1, -1)) -> LineGraph:
    # each arc's "picture" carries its number (marker + k) in every pixel, for stand-in networks
    pieces = np.stack([np.full((28, 28), marker + k, np.uint8) for k in range(3)])
    return LineGraph(ARCS, 3, pieces, np.array(position), np.array([3, 5]))


def test_correct_arcs_are_the_whole_digits_positions() -> None:
    coverage = np.array([[0.9, 0.0], [0.5, 0.5], [0.0, 0.95], [0.85, 0.35]])
    purity = np.array([[1.0, 0.0], [0.5, 0.5], [0.1, 0.9], [0.9, 0.1]])
    assert correct_arcs(coverage, purity).tolist() == [0, -1, 1, -1]


def test_the_criterion_of_a_small_graph() -> None:
    value, post_all, post_correct, arc_digit = _criterion(np.log(GOOD), _line())
    assert value == pytest.approx(GOOD_CRITERION, rel=1e-9)
    np.testing.assert_allclose(post_all, [0.72 / 1.22, 0.72 / 1.22, 0.5 / 1.22], rtol=1e-9)
    np.testing.assert_allclose(post_correct, [1.0, 1.0, 0.0], atol=1e-12)
    assert arc_digit.tolist() == [3, 5, 0]  # the merged arc is on no correct path
    # the 5 as the first piece's digit instead: the digits follow the positions
    assert _criterion(np.log(GOOD), _line(position=(1, 0, -1)))[3].tolist() == [5, 3, 0]


def _reference_criterion(logits: np.ndarray) -> float:
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    not_junk = p[:, :10].sum(axis=1)
    return math.log(not_junk[0] * not_junk[1] + not_junk[2]) - math.log(p[0, 3] * p[1, 5])


def test_the_surrogate_moves_the_network_as_the_criterion_would() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(6, 11))
    logits = paddle.to_tensor(base)
    logits.stop_gradient = False
    seen = []

    def normalize(x: np.ndarray) -> np.ndarray:
        seen.append(x.copy())
        return x.astype(np.float32)

    surrogate, value = line_loss(lambda _x: logits, [_line(), _line(3)], normalize)
    assert seen[0].shape == (6, 28, 28) and seen[0][:, 0, 0].tolist() == [0, 1, 2, 3, 4, 5]  # both lines, in order
    assert value == pytest.approx((_reference_criterion(base[:3]) + _reference_criterion(base[3:])) / 2, rel=1e-9)
    surrogate.backward()
    numeric = np.zeros_like(base)
    for index in np.ndindex(*base.shape):
        up, down = base.copy(), base.copy()
        up[index] += 1e-6
        down[index] -= 1e-6
        line = slice(0, 3) if index[0] < 3 else slice(3, 6)
        numeric[index] = (_reference_criterion(up[line]) - _reference_criterion(down[line])) / 2e-6 / 2
    np.testing.assert_allclose(logits.grad.numpy(), numeric, atol=1e-6)
    assert np.abs(numeric).max() > 1e-2


def test_the_surrogate_s_value() -> None:
    logits = paddle.to_tensor(np.log(GOOD))
    surrogate, value = line_loss(lambda _x: logits, [_line()], lambda x: x.astype(np.float32))
    # posterior-weighted log not-junk over all paths, minus the correct arcs' log digit
    expected = (0.72 * math.log(0.8 * 0.9) + 0.5 * math.log(0.5)) / 1.22 - math.log(0.6 * 0.7)
    assert float(surrogate) == pytest.approx(expected, rel=1e-6)
    # a float32 network's surrogate stays float32: the posteriors weigh it as float32
    logits32 = paddle.to_tensor(np.log(GOOD).astype(np.float32))
    assert line_loss(lambda _x: logits32, [_line()], lambda x: x.astype(np.float32))[0].dtype == paddle.float32
    assert value == pytest.approx(GOOD_CRITERION, rel=1e-9)


class Table(paddle.nn.Layer):
    """A stand-in network: the logits of the row numbered by the picture's first pixel."""

    def __init__(self, logits: np.ndarray) -> None:
        super().__init__()
        self.logits = paddle.create_parameter(
            list(logits.shape), "float32", default_initializer=paddle.nn.initializer.Assign(logits.astype(np.float32))
        )
        self.modes: list[str] = []

    def eval(self) -> None:
        self.modes.append("eval")
        super().eval()

    def forward(self, x: object) -> object:
        rows = paddle.cast(x[:, 0, 0, 0], "int64")
        return paddle.gather(self.logits, rows)


def _as_input(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32)[:, None]


def test_scores_are_the_softmax_in_order_over_batches() -> None:
    logits = np.random.default_rng(1).normal(size=(5, 11))
    line = LineGraph(ARCS, 3, np.stack([np.full((28, 28), k, np.uint8) for k in range(3)]), np.zeros(3), np.zeros(2))
    other = LineGraph(ARCS[:2], 3, np.stack([np.full((28, 28), k, np.uint8) for k in (3, 4)]), np.zeros(2), np.zeros(2))
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    for batch in (2, 2000):
        probs = _scores(Table(logits), [line, other], _as_input, batch=batch)
        np.testing.assert_allclose(probs, expected, rtol=1e-5)


def test_evaluate_lines_reads_each_line_as_the_reader_does() -> None:
    model = Table(np.log(np.concatenate([GOOD, BAD, BAD])))
    cost, right = evaluate_lines(model, [_line(0), _line(3), _line(6)], _as_input)
    assert model.modes == ["eval"]  # batch-norm as when reading
    assert right == pytest.approx(1 / 3)  # "35" read right, the other two lines read "8"
    assert cost == pytest.approx((GOOD_CRITERION + 2 * BAD_CRITERION) / 3, rel=1e-5)
    model = Table(np.log(np.concatenate([BAD, BAD, GOOD])))
    assert evaluate_lines(model, [_line(0), _line(3), _line(6)], _as_input)[1] == pytest.approx(1 / 3)


class Steps:
    """A stand-in optimiser: records its calls and the gradient it was given; moves nothing."""

    def __init__(self, model: Table) -> None:
        self.model, self.calls = model, []

    def step(self) -> None:
        self.calls.append(("step", self.model.logits.grad.numpy().copy()))

    def clear_grad(self) -> None:
        self.calls.append(("clear",))
        self.model.logits.clear_gradient()


def test_a_line_pass_counts_and_averages_what_it_saw(capsys: pytest.CaptureFixture[str]) -> None:
    # rows 0-2: the good line's arcs, 3-5: the bad one's, 6: every single piece
    model = Table(np.log(np.concatenate([GOOD, BAD, PIECE[None]])))
    optimizer = Steps(model)
    lines = [_line(0)] * 5 + [_line(3)] * 4  # 9 lines: steps of 8 and 1
    x_pieces = np.full((10, 1, 28, 28), 6, np.float32)
    y_pieces = np.full(10, 7, np.int64)
    loss = paddle.nn.CrossEntropyLoss(reduction="none")
    done = train_line_epoch(
        model, optimizer, loss, lines, x_pieces, y_pieces, _as_input, np.random.default_rng(0), progress=False
    )
    assert model.modes == ["eval"]
    assert [c[0] for c in optimizer.calls] == ["step", "clear", "step", "clear"]
    assert done.steps == 2
    assert done.images == 9 * 3 + 2 * 64
    assert done.criterion == pytest.approx((5 * GOOD_CRITERION + 4 * BAD_CRITERION) / 9, rel=1e-5)
    assert done.piece_cost == pytest.approx(math.log(2), rel=1e-5)  # every piece a 7 at 0.5
    assert done.piece_accuracy == 1.0
    assert 0 <= done.seconds < 60
    # the pieces' share of the first step's gradient: their mean cross-entropy's, softmax - one-hot
    grad = optimizer.calls[0][1]
    np.testing.assert_allclose(grad[6], PIECE - np.eye(11)[7], atol=1e-6)
    assert capsys.readouterr().err == ""


def test_a_line_pass_shows_its_bar_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    model = Table(np.log(np.concatenate([GOOD, BAD, PIECE[None]])))
    train_line_epoch(
        model,
        Steps(model),
        paddle.nn.CrossEntropyLoss(reduction="none"),
        [_line(0)],
        np.full((2, 1, 28, 28), 6, np.float32),
        np.full(2, 7, np.int64),
        _as_input,
        np.random.default_rng(0),
        desc="passing",
        progress=True,
    )
    err = capsys.readouterr().err
    assert "passing" in err and "batch" in err


class Bar:
    """A stand-in tqdm: records how it was made, its updates and its closing."""

    made: ClassVar[list[Bar]] = []

    def __init__(self, **kwargs: object) -> None:
        self.kwargs, self.updates, self.closed = kwargs, [], False
        Bar.made.append(self)

    def update(self, n: int) -> None:
        self.updates.append(n)

    def close(self) -> None:
        self.closed = True


def test_a_line_pass_s_bar_counts_its_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(line_training, "tqdm", Bar)
    Bar.made = []
    model = Table(np.log(np.concatenate([GOOD, BAD, PIECE[None]])))
    x_pieces, y_pieces = np.full((2, 1, 28, 28), 6, np.float32), np.full(2, 7, np.int64)
    loss = paddle.nn.CrossEntropyLoss(reduction="none")
    for progress in (None, False, True):
        lines = [_line(0)] * 9  # steps of 8 and 1
        train_line_epoch(
            model, Steps(model), loss, lines, x_pieces, y_pieces, _as_input, np.random.default_rng(0), progress=progress
        )
    # progress None: tqdm shows the bar only on a terminal; False: never; True: always
    assert [bar.kwargs["disable"] for bar in Bar.made] == [None, True, False]
    for bar in Bar.made:
        assert bar.kwargs["total"] == 2 and bar.kwargs["desc"] == "lines" and bar.kwargs["unit"] == "batch"
        assert bar.kwargs["leave"] is False  # the bar is wiped when the pass ends
        assert bar.updates == [1, 1] and bar.closed


def test_a_line_pass_draws_single_pieces_from_all_of_them() -> None:
    # rows 6 and 7: pieces read as a 7 at 0.5 and as a 2 at 0.9
    model = Table(np.log(np.concatenate([GOOD, BAD, PIECE[None], _probs({2: 0.9}, 0.05)[None]])))
    loss = paddle.nn.CrossEntropyLoss(reduction="none")
    one = np.full((1, 1, 28, 28), 7, np.float32)  # a single piece: it is drawn every time
    done = train_line_epoch(
        model, Steps(model), loss, [_line(0)], one, np.array([2]), _as_input, np.random.default_rng(0), progress=False
    )
    assert done.piece_accuracy == 1.0 and done.piece_cost == pytest.approx(-math.log(0.9), rel=1e-5)
    # two kinds of pieces: each read right, whatever the draw
    x_pieces = np.concatenate([np.full((3, 1, 28, 28), 6, np.float32), np.full((3, 1, 28, 28), 7, np.float32)])
    y_pieces = np.array([7, 7, 7, 2, 2, 2])
    done = train_line_epoch(
        model, Steps(model), loss, [_line(0)], x_pieces, y_pieces, _as_input, np.random.default_rng(0), progress=False
    )
    assert done.piece_accuracy == 1.0
    assert -math.log(0.9) < done.piece_cost < math.log(2)


def test_make_lines_keeps_only_lines_with_a_correct_path(monkeypatch: pytest.MonkeyPatch) -> None:
    ink = np.zeros((20, 30), np.float32)
    ink[5:15, 3:6] = 1.0
    ink[5:15, 20:23] = 1.0
    mask = np.ones((10, 3), bool)
    found = Segmentation(ink, 1.0, [Piece(mask, 3, 5, 6, 15), Piece(mask, 20, 5, 23, 15)], [(0, 1), (1, 2), (0, 2)])
    whole = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    swapped = whole[:, ::-1].copy()  # the 5 left of the 3: no path reads the digits in order
    script = [(found, swapped, swapped, np.array([3, 5])), (found, whole, whole, np.array([3, 5]))]
    images, labels, rng = np.zeros((1, 28, 28)), np.zeros(1), np.random.default_rng(0)
    seen = []

    def segmented_line(*args: object) -> tuple:
        seen.append(args)
        return script.pop(0)

    monkeypatch.setattr(line_training, "segmented_line", segmented_line)
    (line,) = make_lines(images, labels, 1, rng)
    assert len(seen) == 2 and all(a[0] is images and a[1] is labels and a[2] is rng for a in seen)
    assert line.arcs.tolist() == [[0, 1], [1, 2], [0, 2]] and line.arcs.dtype == np.int64
    assert line.nodes == 3
    assert line.position.tolist() == [0, 1, -1] and line.digits.tolist() == [3, 5]
    np.testing.assert_array_equal(line.pieces, found.rendered()[0])
    assert line.pieces.shape == (3, 28, 28)
