"""`lenet5.reader.graph` against brute force: every path of small segmentation graphs is
enumerated, and Viterbi, the forward algorithm and the posteriors must agree with it (no
model: `make mutation` runs these against that module)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lenet5.reader.graph import ScoredGraph, best_path, forward


def _paths(arcs: list[tuple[int, int]], nodes: int) -> list[list[int]]:
    """Every path from node 0 to node nodes-1, as lists of arc indices."""
    found = []

    def walk(node: int, taken: list[int]) -> None:
        if node == nodes - 1:
            found.append(taken)
            return
        for k, (i, j) in enumerate(arcs):
            if i == node:
                walk(j, [*taken, k])

    walk(0, [])
    return found


def _graph(nodes: int, seed: int, span: int = 3) -> tuple[list[tuple[int, int]], np.ndarray]:
    rng = np.random.default_rng(seed)
    arcs = [(i, j) for i in range(nodes - 1) for j in range(i + 1, min(nodes, i + span + 1))]
    arcs = [arc for arc in arcs if arc[1] == arc[0] + 1 or rng.random() < 0.7]
    order = rng.permutation(len(arcs))  # the functions must not rely on the arcs' order
    return [arcs[k] for k in order], rng.uniform(0.1, 5.0, len(arcs))


@pytest.mark.parametrize("seed", range(6))
def test_best_path_is_the_cheapest_of_all_paths(seed: int) -> None:
    nodes = 6 + seed % 3
    arcs, cost = _graph(nodes, seed)
    costs = {arc: float(c) for arc, c in zip(arcs, cost, strict=True)}
    every = _paths(arcs, nodes)
    cheapest = min(every, key=lambda path: sum(cost[k] for k in path))
    assert best_path(costs, nodes) == [arcs[k] for k in cheapest]
    for length in range(1, nodes + 1):
        of_length = [path for path in every if len(path) == length]
        if not of_length:
            with pytest.raises(ValueError, match=f"^the line cannot be read as {length} digits$"):
                best_path(costs, nodes, length)
            continue
        cheapest = min(of_length, key=lambda path: sum(cost[k] for k in path))
        assert best_path(costs, nodes, length) == [arcs[k] for k in cheapest]


def test_a_graph_without_a_path_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"^the segmentation graph has no path$"):
        best_path({(0, 1): 1.0, (2, 3): 1.0}, 4)


def test_ties_keep_the_first_path_found() -> None:
    # two equal ways to node 2: the first settled (through node 1) is kept
    costs = {(0, 1): 1.0, (1, 2): 1.0, (0, 2): 2.0}
    assert best_path(costs, 3) == [(0, 1), (1, 2)]
    assert best_path({(0, 2): 2.0, (0, 1): 1.0, (1, 2): 1.0}, 3) == [(0, 2)]
    assert best_path(costs, 3, 1) == [(0, 2)]
    assert best_path({(0, 1): 0.0, (1, 2): 0.0, (0, 2): 0.0}, 3, 2) == [(0, 1), (1, 2)]


def test_a_free_arc_is_still_taken() -> None:
    assert best_path({(0, 1): 0.0}, 2) == [(0, 1)]
    assert best_path({(0, 1): 0.0}, 2, 1) == [(0, 1)]


@pytest.mark.parametrize("seed", range(5))
def test_forward_is_the_log_sum_over_paths_and_the_arc_posteriors(seed: int) -> None:
    nodes = 5 + seed % 3
    arcs, _ = _graph(nodes, seed + 10)
    scores = np.random.default_rng(seed).normal(size=len(arcs))
    every = _paths(arcs, nodes)
    weights = np.array([math.exp(sum(scores[k] for k in path)) for path in every])
    total, posterior = forward(scores, np.array(arcs), nodes)
    assert total == pytest.approx(math.log(weights.sum()), rel=1e-12)
    expected = [
        sum(w for w, path in zip(weights, every, strict=True) if k in path) / weights.sum() for k in range(len(arcs))
    ]
    np.testing.assert_allclose(posterior, expected, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_constrained_forward_counts_only_the_correct_paths(seed: int) -> None:
    nodes = 6
    arcs, _ = _graph(nodes, seed + 20)
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=len(arcs))
    length = 3
    position = rng.integers(-1, length, size=len(arcs))  # -1: an arc no correct path uses
    every = [p for p in _paths(arcs, nodes) if [position[k] for k in p] == list(range(len(p))) and len(p) == length]
    total, posterior = forward(scores, np.array(arcs), nodes, position=position, length=length)
    if not every:
        assert total == -math.inf and not posterior.any()
        return
    weights = np.array([math.exp(sum(scores[k] for k in path)) for path in every])
    assert total == pytest.approx(math.log(weights.sum()), rel=1e-12)
    expected = [
        sum(w for w, path in zip(weights, every, strict=True) if k in path) / weights.sum() for k in range(len(arcs))
    ]
    np.testing.assert_allclose(posterior, expected, rtol=1e-10, atol=1e-15)


def test_constrained_forward_adds_up_paths_meeting_in_one_state() -> None:
    # two readings of two digits end at node 3: 0-1-3 and 0-2-3
    arcs = np.array([[0, 1], [1, 3], [0, 2], [2, 3]])
    scores = np.log(np.array([0.5, 0.4, 0.3, 0.2]))
    total, posterior = forward(scores, arcs, 4, position=np.array([0, 1, 0, 1]), length=2)
    assert total == pytest.approx(math.log(0.5 * 0.4 + 0.3 * 0.2))
    np.testing.assert_allclose(posterior, [0.2 / 0.26, 0.2 / 0.26, 0.06 / 0.26, 0.06 / 0.26])


def test_a_length_without_positions_is_ignored() -> None:
    arcs = np.array([[0, 1], [1, 2], [0, 2]])
    scores = np.log(np.array([0.5, 0.4, 0.3]))
    total, posterior = forward(scores, arcs, 3, length=2)
    assert total == pytest.approx(math.log(0.5))
    np.testing.assert_allclose(posterior, [0.4, 0.4, 0.6])


def test_constrained_forward_on_a_known_graph() -> None:
    # 0 -a-> 1 -b-> 2 and 0 -c-> 2: reading two digits goes through a and b only
    arcs = np.array([[0, 1], [1, 2], [0, 2]])
    scores = np.log(np.array([0.5, 0.4, 0.3]))
    total, posterior = forward(scores, arcs, 3, position=np.array([0, 1, -1]), length=2)
    assert total == pytest.approx(math.log(0.2))
    np.testing.assert_allclose(posterior, [1.0, 1.0, 0.0])
    total, posterior = forward(scores, arcs, 3, position=np.array([0, -1, 0]), length=1)
    assert total == pytest.approx(math.log(0.3))
    np.testing.assert_allclose(posterior, [0.0, 0.0, 1.0])
    total, posterior = forward(scores, arcs, 3)
    assert total == pytest.approx(math.log(0.5))
    np.testing.assert_allclose(posterior, [0.4, 0.4, 0.6])


def _scored(scores: list[list[float]], arcs: list[tuple[int, int]], nodes: int) -> ScoredGraph:
    boxes = [(10 * k, 0, 10 * k + 5, 9) for k in range(len(arcs))]
    return ScoredGraph(nodes, arcs, np.array(scores, dtype=np.float64), boxes)


def _probs(**digits: float) -> list[float]:
    row = [0.0] * 11
    for name, p in digits.items():
        row[10 if name == "junk" else int(name[1:])] = p
    return row


def test_digit_probabilities_scale_the_junk_share() -> None:
    graph = _scored([_probs(d3=0.3, d5=0.1, junk=0.6)], [(0, 1)], 2)
    np.testing.assert_allclose(graph.digit_probabilities()[0, [3, 5]], [0.3, 0.1])
    np.testing.assert_allclose(graph.digit_probabilities(0.0)[0, [3, 5]], [0.75, 0.25])
    np.testing.assert_allclose(graph.digit_probabilities(0.5)[0, [3, 5]], [0.3 / 0.7, 0.1 / 0.7])
    assert graph.digit_probabilities().shape == (1, 10)
    ten = ScoredGraph(2, [(0, 1)], np.array([[0.0, 0.2, 0.6] + [0.0] * 7]), [(0, 0, 1, 1)])
    np.testing.assert_allclose(ten.digit_probabilities()[0, 1:3], [0.25, 0.75])
    nothing = ScoredGraph(2, [(0, 1)], np.zeros((1, 11)), [(0, 0, 1, 1)])
    assert np.all(np.isfinite(nothing.digit_probabilities())) and not nothing.digit_probabilities().any()


def test_best_reading_takes_the_least_penalty_path() -> None:
    # pieces 0|1|2; arc (0,2) a sure 4, arcs (0,1),(1,2) a likely 1 and 7
    arcs = [(0, 1), (1, 2), (0, 2)]
    graph = _scored([_probs(d1=0.9, junk=0.1), _probs(d7=0.8, d1=0.2), _probs(d4=0.7, d9=0.3)], arcs, 3)
    # 0.9 * 0.8 = 0.72 beats 0.7
    assert graph.best_reading() == [(1, pytest.approx(0.9), (0, 0, 5, 9)), (7, pytest.approx(0.8), (10, 0, 15, 9))]
    # a penalty per digit makes the one-digit reading win: 0.7 * e^-1 > 0.72 * e^-2
    assert graph.best_reading(digit_penalty=1.0) == [(4, pytest.approx(0.7), (20, 0, 25, 9))]
    assert [d for d, _, _ in graph.best_reading(length=1)] == [4]
    assert [d for d, _, _ in graph.best_reading(junk_weight=0.0)] == [1, 7]
    with pytest.raises(ValueError):
        graph.best_reading(length=3)
    digit, probability, _ = graph.best_reading()[0]
    assert type(digit) is int and type(probability) is float


def test_a_flat_run_of_junk_at_a_lines_end_is_passed_over() -> None:
    # Pieces: a dash of a dotted underline (30 x 4 px) that touches the first digit, an 8,
    # a 5. The dash is junk to the network, and a 7 at 2%: read as one, "785".
    arcs = [(0, 1), (1, 2), (2, 3), (0, 2)]
    scores = [
        _probs(d7=0.02, junk=0.98),
        _probs(d8=0.95, junk=0.05),
        _probs(d5=0.9, junk=0.1),
        _probs(d8=0.01, junk=0.99),
    ]
    boxes = [(0, 40, 30, 44), (20, 0, 50, 44), (55, 0, 85, 44), (0, 0, 50, 44)]
    graph = ScoredGraph(4, arcs, np.array(scores), boxes)
    assert [d for d, _, _ in graph.best_reading()] == [8, 5]
    assert [box for _, _, box in graph.best_reading()] == [(20, 0, 50, 44), (55, 0, 85, 44)]
    assert [d for d, _, _ in graph.best_reading(length=3)] == [7, 8, 5]  # a length asked for is kept
    # A 2's base, cut from its body, is 2.5 times wider than tall: a digit's stroke, not passed over.
    base = ScoredGraph(4, arcs, np.array(scores), [(0, 35, 30, 47), *boxes[1:]])
    assert [d for d, _, _ in base.best_reading()] == [7, 8, 5]
    # Not without a junk class (nothing says it is no digit), nor the whole line.
    ten = ScoredGraph(4, arcs, np.array(scores)[:, :10], boxes)
    assert len(ten.best_reading()) == 3
    dash = ScoredGraph(2, [(0, 1)], np.array([_probs(d7=0.02, junk=0.98)]), [(0, 40, 30, 44)])
    assert [d for d, _, _ in dash.best_reading()] == [7]
    # Two dashes and nothing else: each alone is an end, both together the whole line; a
    # path of nothing but skips is read again without them.
    dashes = ScoredGraph(3, [(0, 1), (1, 2)], np.array([_probs(d7=0.02, junk=0.98)] * 2), [(0, 40, 30, 44)] * 2)
    assert [d for d, _, _ in dashes.best_reading()] == [7, 7]
    # Boxes with no height (the line training's graphs) are not flat; nor asked, the ends stay.
    assert len(ScoredGraph(4, arcs, np.array(scores), [(0, 0, 0, 0)] * 4).best_reading()) == 3
    assert len(graph.best_reading(skip_ends=False)) == 3


def test_junk_counts_against_an_arc() -> None:
    # the two-piece arc is a 4 at 0.5 of the digits, but mostly junk: with junk it loses
    arcs = [(0, 1), (1, 2), (0, 2)]
    single = _probs(d1=0.6, d7=0.3, junk=0.1)
    scores = [single, single, _probs(d4=0.3, junk=0.7)]
    graph = _scored(scores, arcs, 3)
    assert [d for d, _, _ in graph.best_reading()] == [1, 1]
    assert [d for d, _, _ in graph.best_reading(junk_weight=0.0)] == [4]


def test_a_zero_probability_arc_costs_much_but_not_infinitely() -> None:
    graph = _scored([[0.0] * 11], [(0, 1)], 2)
    ((digit, probability, box),) = graph.best_reading()
    assert digit == 0 and probability == 0.0 and box == (0, 0, 5, 9)


def test_posterior_of_the_reading_among_all_readings() -> None:
    arcs = [(0, 1), (1, 2), (0, 2)]
    graph = _scored([_probs(d1=0.9, junk=0.1), _probs(d7=0.8, d1=0.2), _probs(d4=0.7, d9=0.2, junk=0.1)], arcs, 3)
    reading = graph.best_reading()
    # every path's product of its arcs' digit mass: 0.9 * 1.0 + 0.9
    assert graph.posterior(reading) == pytest.approx(0.72 / (0.9 * 1.0 + 0.9))
    assert graph.posterior([]) == 0.0
    sure = _scored([_probs(d1=1.0)], [(0, 1)], 2)
    assert sure.posterior(sure.best_reading()) == pytest.approx(1.0)
    assert sure.posterior([(1, 5.0, (0, 0, 1, 1))]) == 1.0  # never above 1
    assert sure.posterior([(1, 0.0, (0, 0, 1, 1))]) == pytest.approx(1e-30)


def test_posterior_of_a_line_of_sure_digits_is_near_one() -> None:
    arcs = [(k, k + 1) for k in range(11)]
    graph = _scored([_probs(**{f"d{k % 10}": 0.999, "junk": 0.001}) for k in range(11)], arcs, 12)
    # the product of the eleven is 0.989; each path's junk share cancels out
    assert graph.posterior(graph.best_reading()) == pytest.approx(1.0, abs=1e-9)


def test_posterior_of_an_unreadable_graph_is_zero_based() -> None:
    graph = _scored([[0.0] * 11, [0.0] * 11], [(0, 1), (1, 2)], 3)
    value = graph.posterior([(0, 0.0, (0, 0, 1, 1)), (0, 0.0, (0, 0, 1, 1))])
    assert 0.0 <= value <= 1.0 and math.isfinite(value)


def test_brute_force_helper_finds_every_path() -> None:
    arcs = [(0, 1), (1, 2), (0, 2), (1, 3), (2, 3)]
    assert sorted(map(tuple, _paths(arcs, 4))) == sorted([(0, 1, 4), (0, 3), (2, 4)])
    assert list(itertools.chain.from_iterable(_paths([(0, 1)], 2))) == [0]
