"""Training on whole readings (lenet5.reader.line_training): the forward criterion over the
segmentation graph, its gradient, the lines it is trained on, and the line passes of a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA_DIR, quiet, tiny_config
from lenet5.data import mnist
from lenet5.data.normalize import NORMALIZATIONS
from lenet5.reader.graph import forward as _forward
from lenet5.reader.line_training import LineGraph, correct_arcs, line_loss, make_lines
from lenet5.store.run_dir import RunDir

paddle = pytest.importorskip("paddle")


def _paths(arcs: np.ndarray, node: int, last: int) -> list[list[int]]:
    """Every path from `node` to `last`, as lists of arc indices (by brute force)."""
    if node == last:
        return [[]]
    return [[a, *rest] for a, (i, j) in enumerate(arcs) if i == node for rest in _paths(arcs, int(j), last)]


def _brute_force(scores, arcs, nodes, keep=lambda path: True):
    paths = [p for p in _paths(arcs, 0, nodes - 1) if keep(p)]
    totals = np.array([scores[p].sum() for p in paths])
    log_z = np.logaddexp.reduce(totals) if paths else -np.inf
    posterior = np.zeros(len(arcs))
    for path, total in zip(paths, totals, strict=True):
        posterior[path] += np.exp(total - log_z)
    return log_z, posterior


@pytest.fixture
def graph() -> tuple[np.ndarray, np.ndarray, int]:
    nodes = 7
    arcs = np.array([(i, j) for i in range(nodes) for j in range(i + 1, min(nodes, i + 4))])
    return np.random.default_rng(0).normal(size=len(arcs)), arcs, nodes


def test_the_forward_pass_sums_every_path(graph):
    scores, arcs, nodes = graph
    log_z, posterior = _forward(scores, arcs, nodes)
    want_z, want_posterior = _brute_force(scores, arcs, nodes)
    assert len(_paths(arcs, 0, nodes - 1)) == 24  # ways to reach nodes 0-6: 1, 1, 2, 4, 7, 13, 24
    assert log_z == pytest.approx(want_z, abs=1e-12)
    np.testing.assert_allclose(posterior, want_posterior, atol=1e-12)
    assert posterior[arcs[:, 0] == 0].sum() == pytest.approx(1.0)  # every path leaves the first node once


def test_the_correct_paths_read_the_digits_in_order(graph):
    scores, arcs, nodes = graph
    # Arcs ending by node 3 may hold digit 0, arcs starting at 3 or later digit 1.
    position = np.where(arcs[:, 1] <= 3, 0, np.where(arcs[:, 0] >= 3, 1, -1))
    position[1] = -1  # arc (0, 2) holds no digit whole
    log_z, posterior = _forward(scores, arcs, nodes, position, 2)
    want_z, want_posterior = _brute_force(scores, arcs, nodes, lambda p: list(position[p]) == [0, 1])
    assert np.isfinite(want_z) and log_z == pytest.approx(want_z, abs=1e-12)
    np.testing.assert_allclose(posterior, want_posterior, atol=1e-12)
    assert posterior[1] == 0.0
    # Three digits cannot be read from arcs that hold only two.
    assert _forward(scores, arcs, nodes, position, 3)[0] == -np.inf


def test_an_arc_is_correct_only_for_the_digit_it_holds_whole():
    coverage = np.array([[0.95, 0.0], [0.6, 0.0], [0.9, 0.5], [0.0, 0.9]])
    purity = np.array([[0.9, 0.1], [0.9, 0.0], [0.7, 0.3], [0.05, 0.95]])
    np.testing.assert_array_equal(correct_arcs(coverage, purity), [0, -1, -1, 1])


def _criterion(logits: np.ndarray, line: LineGraph) -> float:
    """The forward criterion written out directly from its definition, in NumPy."""
    log_p = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    digit = np.where(line.position >= 0, line.digits[np.maximum(line.position, 0)], 0)
    log_all, _ = _forward(np.logaddexp.reduce(log_p[:, :10], axis=1), line.arcs, line.nodes)
    log_correct, _ = _forward(
        log_p[np.arange(len(digit)), digit], line.arcs, line.nodes, line.position, len(line.digits)
    )
    return log_all - log_correct


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    data = mnist.load(DATA_DIR)
    return data.train_images[:2000], data.train_labels[:2000]


@pytest.fixture(scope="module")
def lines(digits) -> list[LineGraph]:
    return make_lines(*digits, 6, np.random.default_rng(4))


def test_lines_have_a_correct_path_and_render_every_arc(lines, digits):
    for line in lines:
        assert line.pieces.shape == (len(line.arcs), 28, 28) and line.pieces.dtype == np.uint8
        assert 2 <= len(line.digits) <= 5
        assert set(line.position.tolist()) >= set(range(len(line.digits)))
        assert _forward(np.zeros(len(line.arcs)), line.arcs, line.nodes, line.position, len(line.digits))[0] > -np.inf
    again = make_lines(*digits, 6, np.random.default_rng(4))
    for a, b in zip(lines, again, strict=True):
        assert np.array_equal(a.pieces, b.pieces) and np.array_equal(a.digits, b.digits)


def test_the_surrogate_has_the_criterion_s_gradient(lines):
    """What the network is trained with must move it as the criterion itself would."""
    line = lines[0]
    logits = paddle.to_tensor(np.random.default_rng(1).normal(size=(len(line.arcs), 11)).astype(np.float64))
    logits.stop_gradient = False
    surrogate, value = line_loss(lambda _x: logits, [line], lambda x: x.astype(np.float32))
    surrogate.backward()
    base = logits.numpy()
    assert value == pytest.approx(_criterion(base, line), rel=1e-9)
    numeric = np.zeros_like(base)
    step = 1e-6
    for index in np.ndindex(*base.shape):
        up, down = base.copy(), base.copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (_criterion(up, line) - _criterion(down, line)) / (2 * step)
    np.testing.assert_allclose(logits.grad.numpy(), numeric, atol=1e-6)
    assert np.abs(numeric).max() > 1e-2  # a real gradient, not zero against zero


def test_line_training_lowers_the_criterion_on_its_lines(lines):
    from lenet5.models import create_model
    from lenet5.reader.line_training import evaluate_lines

    paddle.seed(0)
    model = create_model("seed", num_classes=11)
    normalize = NORMALIZATIONS["seed"]
    before, _ = evaluate_lines(model, lines, normalize)
    optimizer = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    for _ in range(30):
        surrogate, _value = line_loss(model, lines, normalize)
        surrogate.backward()
        optimizer.step()
        optimizer.clear_grad()
    after, read_right = evaluate_lines(model, lines, normalize)
    assert after < 0.5 * before
    assert read_right >= 0.5


def test_selection_in_the_line_passes_follows_validation_lines():
    from lenet5.train.selection import is_better

    kept = {"val_cost": 0.1, "val_accuracy": 0.99, "val_line_cost": 0.5, "val_line_accuracy": 0.80}
    better_lines = {"val_cost": 0.2, "val_accuracy": 0.98, "val_line_cost": 0.6, "val_line_accuracy": 0.81}
    assert is_better(better_lines, kept, "lines")
    assert not is_better(better_lines, kept, "accuracy")
    assert is_better({**kept, "val_line_cost": 0.4}, kept, "lines")  # a tie in lines read: the lower criterion
    assert not is_better(kept, kept, "lines")


LINE_RUN = {"junk": 0.5, "epochs": 1, "line_epochs": 2, "lines": 24, "train_limit": 1000, "val_size": 500}
TINY_VALIDATION_LINES = 100  # the recipe reads 500 after every pass: most of a tiny run's time


@pytest.fixture(scope="module", autouse=True)
def _few_validation_lines():
    """Every tiny line run of this module (the shared one, and those compared with it, a
    resumed one included) makes and reads the same 100 validation lines."""
    from lenet5.reader import line_training

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(line_training, "VALIDATION_LINES", TINY_VALIDATION_LINES)
        yield


@pytest.fixture(scope="module")
def line_run(tmp_path_factory) -> Path:
    from lenet5.train.loop import train

    out = tmp_path_factory.mktemp("lines") / "run"
    train(tiny_config(**LINE_RUN), out, echo=quiet, progress=False)
    return out


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_run_ends_with_line_passes_chosen_on_validation_lines(line_run):
    rows = _rows(line_run)
    assert [row["epoch"] for row in rows] == [0, 1, 2]
    assert "val_line_accuracy" not in rows[0] and "train_line_cost" not in rows[0]  # a piece epoch
    assert all(0 <= row["val_line_accuracy"] <= 1 and row["val_line_cost"] > 0 for row in rows[1:])
    assert all(row["train_line_cost"] > 0 for row in rows[1:])
    summary = json.loads((line_run / "summary.json").read_text())
    # The piece epoch kept (read on the validation lines when the line passes began)
    # competes with the line passes.
    line_best = max(rows[1:], key=lambda row: (row["val_line_accuracy"], -row["val_line_cost"]))
    if summary["best_epoch"] == 0:
        key = (summary["val_line_accuracy"], -summary["val_line_cost"])
        assert key >= (line_best["val_line_accuracy"], -line_best["val_line_cost"])
    else:
        assert summary["best_epoch"] == line_best["epoch"]
        assert summary["val_line_accuracy"] == line_best["val_line_accuracy"]
    assert summary["selected_by"] == "val_cost, then val_line_accuracy"  # the tiny runs choose on cost


def test_line_passes_change_the_network(line_run, tmp_path):
    """The line passes train: the exported weights differ from the piece epoch they began with."""
    from lenet5.train.loop import train

    train(tiny_config(**{**LINE_RUN, "line_epochs": 0}), tmp_path / "pieces", echo=quiet, progress=False)
    with_lines, pieces_only = _rows(line_run), _rows(tmp_path / "pieces")
    same = ("train_cost", "val_cost", "val_accuracy", "test_cost", "test_accuracy")
    assert [with_lines[0][k] for k in same] == [pieces_only[0][k] for k in same]
    assert len(pieces_only) == 1
    for later in with_lines[1:]:
        assert later["val_cost"] != pieces_only[0]["val_cost"]
    assert with_lines[1]["val_line_cost"] != with_lines[2]["val_line_cost"]


def test_an_interrupted_line_pass_resumes_to_the_same_end(line_run, tmp_path, monkeypatch):
    from lenet5.errors import TrainingInterrupted
    from lenet5.reader import line_training as whole_lines
    from lenet5.train import loop

    real = whole_lines.train_line_epoch
    calls = {"n": 0}

    def second_pass_interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(whole_lines, "train_line_epoch", second_pass_interrupted)
    out = tmp_path / "broken"
    with pytest.raises(TrainingInterrupted) as info:
        loop.train(tiny_config(**LINE_RUN), out, echo=quiet, progress=False)
    assert info.value.completed_epochs == 2
    monkeypatch.setattr(whole_lines, "train_line_epoch", real)
    loop.train(RunDir(out).read_settings(), out, resume=True, echo=quiet, progress=False)
    timing = (*loop.TIMING_KEYS, "eval_seconds")
    strip = lambda rows: [{k: v for k, v in r.items() if k not in timing} for r in rows]  # noqa: E731
    assert strip(_rows(out)) == strip(_rows(line_run))
    assert len(_rows(out)) == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"line_epochs": 2}, "--line-epochs needs --junk"),
        ({"junk": 0.5, "line_epochs": -1}, "--line-epochs -1"),
        ({"junk": 0.5, "line_epochs": 1, "lines": 0}, "--lines 0"),
    ],
)
def test_training_refuses_senseless_line_passes(overrides, message):
    from lenet5.errors import UserError

    with pytest.raises(UserError, match=message):
        tiny_config(**overrides)


def test_the_reader_recipe_ends_with_line_passes():
    from lenet5.settings import recipe

    assert (recipe("reader").line_epochs, recipe("reader").lines) == (3, 5000)
    assert recipe("strong").line_epochs == 0 and recipe("seed").line_epochs == 0


def test_the_command_line_passes_line_passes_on(tmp_path):
    from conftest import run_cli

    result = run_cli("train", "--recipe", "strong", "--line-epochs", "2", "--out", str(tmp_path / "run"))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "error: --line-epochs needs --junk: the reader's paths are chosen with the junk class"
    ]
    assert not (tmp_path / "run").exists()


def test_the_curves_shade_the_line_passes(line_run):
    import matplotlib.pyplot as plt

    from lenet5.plots.curves import curves_figure

    rows = _rows(line_run)
    figure = curves_figure(rows, 1)
    for ax in figure.axes:
        spans = [patch for patch in ax.patches if patch.get_label() == "line passes"]
        assert len(spans) == 1
        box = spans[0].get_bbox()
        assert (box.x0, box.x1) == (0.5, 2.5)  # epochs 1 and 2, not the piece epoch 0
    plt.close(figure)
    piece_epochs_only = curves_figure(rows[:1], 0)
    assert not [patch for ax in piece_epochs_only.axes for patch in ax.patches if patch.get_label() == "line passes"]
    plt.close(piece_epochs_only)


def test_digit_accuracy_of_a_junk_model_is_the_best_of_the_ten_digits() -> None:
    """The junk class never wins a digit's argmax: a test digit is a digit."""
    from types import SimpleNamespace

    from lenet5.train.loop import _digit_accuracy

    labels = np.array([3, 7, 1, 0], dtype=np.int64)

    class JunkOnTop:
        """Right on every digit among the ten, but junk scores higher on the first two."""

        def eval(self) -> None:
            pass

        def __call__(self, x):
            import paddle

            n = x.shape[0]
            logits = np.zeros((n, 11), np.float32)
            logits[np.arange(n), labels[:n]] = 5.0
            logits[:2, 10] = 9.0
            return paddle.to_tensor(logits)

    data = SimpleNamespace(
        normalize=lambda images: images.astype(np.float32)[:, None] / 255,
        digits_test=SimpleNamespace(images=np.zeros((4, 28, 28), np.uint8), labels=labels),
    )
    assert _digit_accuracy(JunkOnTop(), data, batch_size=4) == 1.0
