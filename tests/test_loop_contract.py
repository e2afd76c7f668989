"""`lenet5.train.loop`, the training loop, with stand-ins for what it drives: the data are a
dozen digits made here, a pass is one real Adam step with the costs the test chooses, and
evaluation answers with the counts the test chooses, so every metric, the epoch kept and
every line of the log are known in advance (`make mutation` runs these; test_training.py
trains real runs).

The network, its optimizer, the checkpoints, the model folder and its card are the real
ones: what is kept and exported is checked on the weights themselves.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lenet5.data import fashion
from lenet5.data.normalize import NORMALIZATIONS
from lenet5.data.splits import Split
from lenet5.errors import TrainingInterrupted, UserError
from lenet5.export.card import RunFacts, model_card
from lenet5.metrics import Evaluation
from lenet5.settings import validated
from lenet5.store import checkpoint
from lenet5.store.model_folder import load_meta
from lenet5.store.run_dir import RunDir
from lenet5.train import loop
from lenet5.train.data import TrainingData
from lenet5.train.distributed import SINGLE, World
from lenet5.train.epochs import PassResult
from lenet5.train.losses import LOSSES, smoothed_cross_entropy

paddle = loop.paddle
REAL_JIT_SAVE = paddle.jit.save
NORM = NORMALIZATIONS["seed"]
TWO = World(rank=0, size=2, local_size=2, backend="gloo")
OTHER = World(rank=1, size=2, local_size=2, backend="gloo")
COMMAND = ["lenet5", "train", "--epochs", "2"]


def _split(n: int, first: int, classes: int = 10) -> Split:
    """n digits whose pixel (0, 0) holds their number (`first`, first + 1, ...), the rest a
    fixed pattern; labels first, first + 1, ... modulo `classes`."""
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 10:18, 12:16] = 200
    images[:, 0, 0] = np.arange(first, first + n)
    return Split(images, np.arange(first, first + n, dtype=np.int64) % classes)


def _data(test_is_val: bool = False, classes: int = 10) -> TrainingData:
    train, val, test = _split(12, 0, classes), _split(4, 20, classes), _split(6, 40, classes)
    digits = _split(5, 60)
    return TrainingData(
        normalize=NORM,
        train=train,
        x_train=NORM(train.images),
        y_train=train.labels,
        val=val,
        x_val=NORM(val.images),
        y_val=val.labels,
        x_test=NORM(test.images),
        y_test=test.labels,
        digits_test=digits,
        source="mnist",
        test_is_val=test_is_val,
    )


def _settings(**overrides: Any):
    values = {"epochs": 2, "batch_size": 4, "val_size": 4, "log_every": 0, "eval_batch_size": 3, "recipe": "seed"}
    return validated({**values, **overrides}, "")


# What each epoch's pass and evaluations say. The epoch kept is 0 (lowest validation cost,
# best validation accuracy), although epoch 1 does better on the test split.
PASSES = {
    0: PassResult(cost=1.5, accuracy=0.25, seconds=2.0, steps=3, images=12),
    1: PassResult(cost=1.25, accuracy=0.5, seconds=4.0, steps=3, images=12),
    2: PassResult(cost=1.0, accuracy=0.75, seconds=1.0, steps=3, images=12),
}
VAL = {0: Evaluation(4, 3, 2.0), 1: Evaluation(4, 2, 3.0), 2: Evaluation(4, 4, 1.0)}  # costs .5 .75 .25
TEST = {0: Evaluation(6, 3, 6.0), 1: Evaluation(6, 6, 1.5), 2: Evaluation(6, 2, 3.0)}  # costs 1 .25 .5
PREDICTED = np.array([3, 1, 2, 0])


@dataclass
class Stage:
    """The stand-ins' script and what they were called with."""

    data: TrainingData = field(default_factory=_data)
    passes: dict[int, PassResult] = field(default_factory=lambda: dict(PASSES))
    val: dict[int, Evaluation] = field(default_factory=lambda: dict(VAL))
    test: dict[int, Evaluation] = field(default_factory=lambda: dict(TEST))
    fail: dict[int, BaseException] = field(default_factory=dict)  # raised in that epoch's pass
    lr: float | None = None  # what a pass sets the optimizer's rate to
    epoch: int = -1
    loaded: list[Any] = field(default_factory=list)
    passed: list[tuple[int, Any]] = field(default_factory=list)  # (epoch, session)
    evaluated: list[dict[str, Any]] = field(default_factory=list)
    drawn: list[tuple[int, Path, int | None]] = field(default_factory=list)
    described: list[Any] = field(default_factory=list)

    def load(self, settings: Any, echo: Any) -> TrainingData:
        self.loaded.append(settings)
        if 99 in self.fail:
            raise self.fail[99]
        echo("stand-in data")
        return self.data

    def run_pass(self, session: Any, epoch: int) -> PassResult:
        self.passed.append((epoch, session))
        if epoch in self.fail:
            raise self.fail[epoch]
        self.epoch = epoch
        # One real update, so each epoch's weights differ and a resumed run must restore them.
        x, y = paddle.to_tensor(session.data.x_train[:4]), paddle.to_tensor(session.data.y_train[:4])
        session.update_loss(session.train_model(x), y).mean().backward()
        session.optimizer.step()
        session.optimizer.clear_grad()
        if session.average is not None:
            session.average.update(epoch)
        if self.lr is not None:
            session.optimizer.set_lr(self.lr)
        return self.passes[epoch]

    def evaluate(self, model, loss_fn, inputs, labels, batch_size=1000, keep_predictions=False, world=SINGLE):
        is_val = labels is self.data.y_val
        assert is_val or labels is self.data.y_test
        assert inputs is (self.data.x_val if is_val else self.data.x_test)
        self.evaluated.append(
            {
                "val": is_val,
                "model": model,
                "loss": loss_fn,
                "batch": batch_size,
                "keep": keep_predictions,
                "world": world,
            }
        )
        result = (self.val if is_val else self.test)[self.epoch]
        return Evaluation(result.n, result.correct, result.total_cost, PREDICTED if keep_predictions else None)

    def plot(self, history: list[dict[str, Any]], path: Path, best_epoch: int | None) -> None:
        self.drawn.append((len(history), path, best_epoch))


@pytest.fixture
def stage(monkeypatch: pytest.MonkeyPatch) -> Stage:
    stage = Stage()
    monkeypatch.setattr(loop, "load_training_data", stage.load)
    monkeypatch.setattr(loop, "run_pass", stage.run_pass)
    monkeypatch.setattr(loop, "evaluate", stage.evaluate)
    monkeypatch.setattr(loop, "plot_curves", stage.plot)
    monkeypatch.setattr(loop, "_git_commit", lambda: "abc1234")
    monkeypatch.setattr(loop.kernels, "describe", lambda: {"conv2d": "stand-in", "threads": 1})
    monkeypatch.setattr(loop.sdlm_fused, "describe", lambda session: stage.described.append(session) or {"sdlm": "no"})
    # The model folder is written by the real code, all but Paddle's tracing of the graph
    # (a second or more in each new process): one test below exports for real.
    monkeypatch.setattr(paddle.jit, "save", _graph_stand_in)
    return stage


def _graph_stand_in(layer: Any, path: str, input_spec: Any = None) -> None:
    Path(path + ".json").write_text("{}")
    Path(path + ".pdiparams").write_bytes(b"")


def _train(out: Path, settings: Any = None, **options: Any) -> tuple[dict[str, Any], list[str]]:
    lines: list[str] = []
    options = {"echo": lines.append, "progress": False, "command": COMMAND, **options}
    summary = loop.train(settings or _settings(), out, **options)
    return summary, lines


def _rows(out: Path) -> list[dict[str, Any]]:
    rows = RunDir(out).read_metrics()
    for row in rows:
        assert 0 <= row.pop("eval_seconds") < 60
    return rows


def _arrays(path: Path, prefix: str) -> dict[str, np.ndarray]:
    arrays, _meta = checkpoint.read(path)
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


ROW0 = {
    "epoch": 0,
    "steps": 3,
    "train_cost": 1.5,
    "train_accuracy": 0.25,
    "val_cost": 0.5,
    "val_accuracy": 0.75,
    "test_cost": 1.0,
    "test_accuracy": 0.5,
    "train_seconds": 2.0,
    "images_per_second": 6.0,
    "processes": 1,
}
ROW1 = {
    **ROW0,
    "epoch": 1,
    "train_cost": 1.25,
    "train_accuracy": 0.5,
    "val_cost": 0.75,
    "val_accuracy": 0.5,
    "test_cost": 0.25,
    "test_accuracy": 1.0,
    "train_seconds": 4.0,
    "images_per_second": 3.0,
}
BEST0 = {"epoch": 0, "val_cost": 0.5, "val_accuracy": 0.75, "test_cost": 1.0, "test_accuracy": 0.5}


# --- a whole run -------------------------------------------------------------------------


def test_a_run_writes_its_metrics_its_summary_and_says_so_as_the_article_does(stage: Stage, tmp_path: Path) -> None:
    out = tmp_path / "run"
    summary, lines = _train(out)
    assert _rows(out) == [ROW0, ROW1]
    assert 0 <= summary.pop("wall_seconds") < 60
    assert summary == {
        "model": "seed",
        "selected_by": "val_cost",
        "best_epoch": 0,
        "val_cost": 0.5,
        "val_accuracy": 0.75,
        "test_cost": 1.0,
        "test_accuracy": 0.5,
        "epochs": 2,
        "final_train_cost": 1.25,
        "final_train_accuracy": 0.5,
        "train_seconds": 6.0,
        "images_per_second": 4.0,  # (6 x 2 + 3 x 4) images in 6 s
        "run_dir": str(out),
    }
    written = json.loads((out / "summary.json").read_text())
    assert 0 <= written.pop("wall_seconds") < 60 and written == summary
    assert lines == [
        "stand-in data",
        "Validation with Epoch 0, avg_cost: 0.500000, acc: 0.7500",
        "Test with Epoch 0, avg_cost: 1.000000, acc: 0.5000",
        "Validation with Epoch 1, avg_cost: 0.750000, acc: 0.5000",
        "Test with Epoch 1, avg_cost: 0.250000, acc: 1.0000",
        "Best epoch 0 (validation cost 0.500000), test accuracy 50.00%",
        f"Run directory: {out}",
    ]
    # The curves after the first epoch (never drawn before) and after the last.
    assert stage.drawn == [(1, out / "curves.png", 0), (2, out / "curves.png", 0)]
    assert [epoch for epoch, _session in stage.passed] == [0, 1]


def test_each_epoch_is_scored_on_validation_then_test_with_the_kept_network(stage: Stage, tmp_path: Path) -> None:
    _train(tmp_path / "run")
    session = stage.passed[0][1]
    assert session.progress is False and session.train_model is session.model and session.update_loss_fn is None
    assert session.loss_fn is LOSSES["cross_entropy"] and session.average is None
    expected = {"model": session.model, "loss": session.loss_fn, "batch": 3, "keep": False, "world": SINGLE}
    assert stage.evaluated == [{**expected, "val": True}, {**expected, "val": False}] * 2
    assert stage.loaded == [_settings()]


def test_without_test_each_epoch_the_kept_network_is_scored_on_test_once_at_the_end(
    stage: Stage, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    summary, lines = _train(out, _settings(test_each_epoch=False))
    session = stage.passed[0][1]
    val = {"model": session.model, "loss": session.loss_fn, "batch": 3, "keep": False, "world": SINGLE, "val": True}
    assert stage.evaluated[:2] == [val, val]  # no test digits while training
    last = stage.evaluated[2]
    assert len(stage.evaluated) == 3 and last["val"] is False and last["model"] is not session.model
    assert (last["loss"], last["batch"], last["world"]) == (session.loss_fn, 3, SINGLE)
    # ... scored by the epoch kept (0), read back from best.npz, not by the last one
    kept = {k: v.numpy() for k, v in last["model"].state_dict().items()}
    assert _same(kept, _arrays(out / "checkpoints" / "best.npz", "model/"))
    assert not _same(kept, {k: v.numpy() for k, v in session.model.state_dict().items()})
    # the stand-in answers with its last epoch's test counts: 6 of 6 right, cost 1.5 / 6
    scored = {"test_cost": 0.25, "test_accuracy": 1.0}
    assert _rows(out) == [{**ROW0, **scored}, {**ROW1, "test_cost": None, "test_accuracy": None}]
    assert (summary["best_epoch"], summary["test_cost"], summary["test_accuracy"]) == (0, 0.25, 1.0)
    assert lines == [
        "stand-in data",
        "Validation with Epoch 0, avg_cost: 0.500000, acc: 0.7500",
        "Validation with Epoch 1, avg_cost: 0.750000, acc: 0.5000",
        "Best epoch 0 (validation cost 0.500000), test accuracy 100.00%",
        f"Run directory: {out}",
    ]
    # drawn after each epoch as before, then once more with the test point
    assert stage.drawn == [(1, out / "curves.png", 0), (2, out / "curves.png", 0), (2, out / "curves.png", 0)]
    meta = json.loads((out / "model" / "lenet5.json").read_text())
    assert meta["test_accuracy"] == 1.0 and meta["summary"]["test_accuracy"] == 1.0


def test_config_json_says_how_the_run_was_made(stage: Stage, tmp_path: Path) -> None:
    out = tmp_path / "run"
    before = datetime.now(UTC).replace(microsecond=0)
    _train(out)
    config = json.loads((out / "config.json").read_text())
    created = datetime.fromisoformat(config.pop("created"))
    assert created.tzinfo is not None and before <= created <= datetime.now(UTC)
    assert config == {
        "train": _jsonable(_settings().model_dump()),
        "data": {"source": "mnist", "test_is_val": False},
        "normalization": {"name": "seed", "scale": 2.0, "offset": -1.0, "size": 28},
        "splits": {"train": 12, "val": 4, "test": 6},
        "versions": loop._versions(),
        "kernels": {"conv2d": "stand-in", "threads": 1, "sdlm": "no"},
        "distributed": {"processes": 1, "nnodes": 1, "backend": "none"},
        "command": COMMAND,
        "commit": "abc1234",
    }
    assert stage.described == [stage.passed[0][1]]
    assert (out / "config.json").read_text().count('"created"') == 1


def test_the_command_recorded_is_this_processs_unless_given(stage: Stage, tmp_path: Path) -> None:
    _train(tmp_path / "run", command=None)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["command"] == sys.argv


def test_the_checkpoints_hold_the_kept_epoch_and_the_last(stage: Stage, tmp_path: Path, monkeypatch) -> None:
    exported: list[dict[str, np.ndarray]] = []
    real = loop.save_model_folder

    def spy(net, model, out, meta):
        exported.append({k: v.numpy() for k, v in net.state_dict().items()})
        return real(net, model, out, meta)

    monkeypatch.setattr(loop, "save_model_folder", spy)
    out = tmp_path / "run"
    _train(out)
    best, last = out / "checkpoints" / "best.npz", out / "checkpoints" / "last.npz"
    assert checkpoint.read(best)[1] == {"epoch": 0, "config": _jsonable(_settings().model_dump())}
    meta = checkpoint.read(last)[1]
    assert 0 <= meta.pop("wall_seconds") < 60
    assert meta.pop("optimizer_extras") is not None
    assert all(0 <= row.pop("eval_seconds") < 60 for row in meta["history"])
    assert meta == {"history": [ROW0, ROW1], "best": BEST0, "config": _jsonable(_settings().model_dump())}
    # best.npz: epoch 0's weights (no optimizer state); last.npz: epoch 1's, with Adam's.
    assert not _arrays(best, "optim/") and _arrays(last, "optim/")
    assert not _same(_arrays(best, "model/"), _arrays(last, "model/"))
    assert len(exported) == 1 and _same(exported[0], _arrays(best, "model/"))


def test_the_model_folder_is_the_kept_epoch_with_its_card(stage: Stage, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(paddle.jit, "save", REAL_JIT_SAVE)
    out = tmp_path / "run"
    summary, _lines = _train(out)
    meta = json.loads((out / "model" / "lenet5.json").read_text())
    assert (meta["model"], meta["epoch"], meta["test_accuracy"], meta["val_accuracy"]) == ("seed", 0, 0.5, 0.75)
    assert meta["recipe"] == "seed" and "test_accuracy_with_junk" not in meta and "class_names" not in meta
    assert meta["training"] == _jsonable(_settings().published())
    assert meta["summary"] == {k: v for k, v in summary.items() if k != "run_dir"}
    card = model_card(load_meta(out / "model"), [RunFacts.of(RunDir(out))], "paddle")
    assert (out / "model" / "README.md").read_text() == card
    assert (out / "model" / "inference.pdiparams").stat().st_size > 100_000  # the real graph and weights


def test_selecting_by_accuracy_keeps_another_epoch(stage: Stage, tmp_path: Path) -> None:
    # Epoch 1: validation accuracy 1.0 but a higher cost than epoch 0.
    stage.val[1] = Evaluation(4, 4, 3.0)
    summary, _lines = _train(tmp_path / "cost")
    assert summary["best_epoch"] == 0
    stage.passed.clear()
    summary, lines = _train(tmp_path / "accuracy", _settings(select_by="accuracy"))
    assert (summary["best_epoch"], summary["selected_by"], summary["test_accuracy"]) == (1, "val_accuracy", 1.0)
    assert lines[-2] == "Best epoch 1 (validation accuracy 100.00%), test accuracy 100.00%"
    stage.val[1] = Evaluation(4, 2, 3.0)  # now epoch 0 has the best accuracy too: 3 of 4
    summary, lines = _train(tmp_path / "accuracy_0", _settings(select_by="accuracy"))
    assert lines[-2] == "Best epoch 0 (validation accuracy 75.00%), test accuracy 50.00%"


def test_a_later_epoch_that_does_better_is_kept(stage: Stage, tmp_path: Path) -> None:
    stage.val[1] = Evaluation(4, 4, 1.0)  # cost 0.25
    summary, _lines = _train(tmp_path / "run", _settings(epochs=3))
    assert summary["best_epoch"] == 1 and summary["epochs"] == 3
    assert (summary["final_train_cost"], summary["final_train_accuracy"]) == (1.0, 0.75)  # the last epoch's
    assert [d[2] for d in stage.drawn] == [0, 1]  # drawn after epoch 0, then after the last


# --- claiming the run directory ----------------------------------------------------------


def test_a_new_run_needs_a_new_or_empty_folder(tmp_path: Path) -> None:
    def refusal(root: Path, resume: bool = False) -> str:
        with pytest.raises(UserError) as info:
            loop.claim_run_dir(RunDir(root), resume)
        return str(info.value)

    loop.claim_run_dir(RunDir(tmp_path / "new"), False)  # nothing is made yet
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    loop.claim_run_dir(RunDir(tmp_path / "empty"), False)
    (tmp_path / "file").write_text("x")
    assert refusal(tmp_path / "file") == f"{tmp_path / 'file'}: exists and is not a folder; choose another --out"
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    assert refusal(tmp_path / "link") == f"{tmp_path / 'link'}: exists and is not a folder; choose another --out"
    for name, make in (("config", "config.json"), ("checkpoints", "checkpoints")):
        root = tmp_path / name
        root.mkdir()
        (root / make).write_text("{}") if make.endswith(".json") else (root / make).mkdir()
        assert refusal(root) == f"{root}: already holds a run; use --resume {root} or another --out"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    message = "folder is not empty; a new run needs a new or empty folder for --out"
    assert refusal(tmp_path / "full") == f"{tmp_path / 'full'}: {message}"
    assert refusal(tmp_path / "empty", resume=True) == f"{tmp_path / 'empty'}: not a run directory (no config.json)"


def test_resuming_sweeps_what_a_killed_run_left_and_nothing_else(tmp_path: Path) -> None:
    root = tmp_path / "run"
    (root / "checkpoints").mkdir(parents=True)
    (root / "config.json").write_text("{}")
    left = [root / ".summary.json.k1ll3d_x.tmp", root / "checkpoints" / ".last.npz.k1ll3d_x.tmp"]
    for path in left:
        path.write_text("half")
    (root / "notes.txt").write_text("mine")
    loop.claim_run_dir(RunDir(root), True)
    assert not any(path.exists() for path in left) and (root / "notes.txt").read_text() == "mine"


def test_rank_0_claims_the_folder_and_every_worker_hears_the_refusal(tmp_path: Path, monkeypatch) -> None:
    heard: list[tuple[World, str | None]] = []
    monkeypatch.setattr(loop.distributed, "agree", lambda world, problem: heard.append((world, problem)))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    loop._claim(RunDir(tmp_path / "full"), False, TWO)
    loop._claim(RunDir(tmp_path / "full"), False, OTHER)  # the others do not look
    loop._claim(RunDir(tmp_path / "new"), False, TWO)
    message = f"{tmp_path / 'full'}: folder is not empty; a new run needs a new or empty folder for --out"
    assert heard == [(TWO, message), (OTHER, None), (TWO, None)]


def test_a_refused_folder_is_one_line_and_nothing_is_written(stage: Stage, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="folder is not empty"):
        _train(out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and not stage.loaded


def test_workers_refuse_what_cannot_be_split(tmp_path: Path) -> None:
    loop._check_world(_settings(junk=0.5, line_epochs=1, lines=2), SINGLE)
    loop._check_world(_settings(), TWO)
    with pytest.raises(UserError) as info:
        loop._check_world(_settings(junk=0.5, line_epochs=1, lines=2), TWO)
    assert str(info.value) == "--nproc 2: the line passes (--line-epochs) run in one process"
    with pytest.raises(UserError, match=r"^--nproc 2: the 1998 recipe"):
        loop._check_world(_settings(model="lenet5", optimizer="sdlm"), TWO)
    loop._check_world(_settings(model="lenet5", optimizer="sdlm"), SINGLE)


# --- Ctrl-C, resume, lost workers ----------------------------------------------------------


def test_ctrl_c_names_the_epochs_on_disk_and_resume_goes_on_from_there(stage: Stage, tmp_path: Path) -> None:
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    settings = _settings(ema=0.5)
    _train(straight, settings)
    stage.fail = {1: KeyboardInterrupt()}
    with pytest.raises(TrainingInterrupted) as info:
        _train(broken, settings)
    assert (info.value.run_dir, info.value.completed_epochs, info.value.resumable) == (broken, 1, True)
    wall = checkpoint.read(broken / "checkpoints" / "last.npz")[1]["wall_seconds"]
    # A resumed run keeps its config.json (the first run's command, not this one's).
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "command": ["first"]}))
    with pytest.raises(TrainingInterrupted) as info:  # interrupted again before its first epoch
        _train(broken, settings, resume=True)
    assert info.value.completed_epochs == 1
    stage.fail, stage.passed = {}, []
    summary, lines = _train(broken, settings, resume=True)
    assert lines[:2] == ["stand-in data", f"Resuming {broken} after epoch 0"]
    assert [epoch for epoch, _session in stage.passed] == [1]
    assert json.loads((broken / "config.json").read_text())["command"] == ["first"]
    assert _rows(broken) == _rows(straight) == [ROW0, ROW1]
    assert summary["wall_seconds"] >= wall and summary["best_epoch"] == 0
    # Weights, Adam's moments and the weight average all went on where they stopped.
    for prefix in ("model/", "optim/", "average/"):
        resumed, reference = (
            _arrays(broken / "checkpoints" / "last.npz", prefix),
            _arrays(straight / "checkpoints" / "last.npz", prefix),
        )
        assert resumed and _same(resumed, reference), prefix


def test_the_wall_time_adds_up_over_resumed_sessions(stage: Stage, tmp_path: Path) -> None:
    out = tmp_path / "run"
    stage.fail = {1: KeyboardInterrupt()}
    with pytest.raises(TrainingInterrupted):
        _train(out)
    # Say the first session took 1000 s: the resumed run carries it on.
    arrays, meta = checkpoint.read(out / "checkpoints" / "last.npz")
    net = loop.network_for(_settings())
    net.set_state_dict({k[6:]: paddle.to_tensor(v) for k, v in arrays.items() if k.startswith("model/")})
    optimizer = paddle.optimizer.Adam(parameters=net.parameters())
    meta.pop("optimizer_extras")
    stage.fail = {}
    # A last.npz without its wall time is refused as the damaged checkpoint it is.
    checkpoint.save(
        out / "checkpoints" / "last.npz", net, optimizer, {k: v for k, v in meta.items() if k != "wall_seconds"}
    )
    with pytest.raises(UserError, match=r"last\.npz: not a usable lenet5 checkpoint \(wall_seconds: "):
        _train(out, resume=True)
    checkpoint.save(out / "checkpoints" / "last.npz", net, optimizer, {**meta, "wall_seconds": 1000.0})
    summary, _lines = _train(out, resume=True)
    assert 1000 <= summary["wall_seconds"] < 1060
    assert 1000 <= checkpoint.read(out / "checkpoints" / "last.npz")[1]["wall_seconds"] < 1060


def test_ctrl_c_before_the_run_began_is_not_resumable(stage: Stage, tmp_path: Path) -> None:
    stage.fail = {99: KeyboardInterrupt()}
    with pytest.raises(TrainingInterrupted) as info:
        _train(tmp_path / "run")
    assert (info.value.completed_epochs, info.value.resumable) == (0, False)
    stage.fail = {0: KeyboardInterrupt()}
    with pytest.raises(TrainingInterrupted) as info:
        _train(tmp_path / "other")
    assert (info.value.completed_epochs, info.value.resumable) == (0, True)


def test_resuming_a_run_with_no_epoch_starts_from_the_first(stage: Stage, tmp_path: Path) -> None:
    out = tmp_path / "run"
    stage.fail = {0: KeyboardInterrupt()}
    with pytest.raises(TrainingInterrupted):
        _train(out)
    config = (out / "config.json").read_text()
    stage.fail = {}
    summary, lines = _train(out, resume=True)
    assert lines[1] == f"Resuming {out}: no epoch was completed, starting from the first"
    assert (out / "config.json").read_text() == config and summary["epochs"] == 2


def test_resume_needs_a_run(stage: Stage, tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        _train(tmp_path / "nothing", resume=True)
    assert str(info.value) == f"{tmp_path / 'nothing'}: not a run directory (no config.json)"


def test_a_finished_run_resumed_only_summarises_again(stage: Stage, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first, _lines = _train(out)
    stage.passed.clear()
    again, lines = _train(out, resume=True)
    assert not stage.passed and lines[1] == f"Resuming {out} after epoch 1"
    assert loop.summary_metrics(again) == loop.summary_metrics(first)


def test_what_a_resume_says_about_the_number_of_processes() -> None:
    three = World(rank=0, size=3, local_size=3, backend="gloo")
    assert loop._process_change([], SINGLE) == ""
    assert loop._process_change([{"processes": 1}], SINGLE) == ""
    assert loop._process_change([{"epoch": 0}], SINGLE) == ""  # rows from before the field: one process
    assert loop._process_change([{"processes": 2}], TWO) == " with 2 processes"
    assert loop._process_change([{"processes": 2}, {"processes": 3}], three) == " with 3 processes"
    assert loop._process_change([{"processes": 1}, {"processes": 3}, {"processes": 2}], TWO) == " with 2 processes"
    same_batch = "(same global batch)"
    assert loop._process_change([{"processes": 2}], SINGLE) == f" with 1 process(es); it ran with 2 before {same_batch}"
    assert loop._process_change([], TWO) == f" with 2 process(es); it ran with 1 before {same_batch}"
    assert loop._process_change([{"epoch": 0}], three) == f" with 3 process(es); it ran with 1 before {same_batch}"


@pytest.fixture
def two_workers(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Stand-ins for what only real workers do: joining, agreeing, averaging batch norm,
    and Paddle's DataParallel wrapper."""
    calls: dict[str, list[Any]] = {"join": [], "agree": [], "batch_norm": [], "wrapped": []}

    class Wrapped:
        def __init__(self, model: Any) -> None:
            calls["wrapped"].append(model)
            self.model = model

        def __call__(self, x: Any) -> Any:
            return self.model(x)

    monkeypatch.setattr(loop.distributed, "join", lambda world: calls["join"].append(world))
    monkeypatch.setattr(loop.distributed, "agree", lambda world, problem: calls["agree"].append((world, problem)))
    monkeypatch.setattr(loop.distributed, "average_batch_norm", lambda w, m: calls["batch_norm"].append((w, m)))
    monkeypatch.setattr(loop.paddle, "DataParallel", Wrapped)
    return calls


def test_the_other_workers_train_quietly_and_write_nothing(
    stage: Stage, tmp_path: Path, two_workers, monkeypatch
) -> None:
    monkeypatch.setattr(loop.distributed, "launched_world", lambda: OTHER)
    out = tmp_path / "run"
    result, lines = _train(out, progress=True)
    assert result == {"rank": 1, "epochs": 2}
    assert lines == [] and not out.exists()
    session = stage.passed[0][1]
    assert session.progress is False and isinstance(session.train_model, loop.paddle.DataParallel)
    assert two_workers["join"] == [OTHER] and two_workers["agree"] == [(OTHER, None)]
    assert two_workers["wrapped"] == [session.model]
    assert two_workers["batch_norm"] == [(OTHER, session.model)] * 2
    assert [e["world"] for e in stage.evaluated] == [OTHER] * 4
    assert all(0 <= row.pop("eval_seconds") < 60 for row in session.history) and session.saved == 2
    assert session.history == [{**ROW0, "processes": 2}, {**ROW1, "processes": 2}]
    stage.fail = {0: KeyboardInterrupt()}
    with pytest.raises(SystemExit) as info:  # rank 0 says what was saved
        _train(tmp_path / "again")
    assert info.value.code == 130


def test_rank_0_of_two_writes_the_run(stage: Stage, tmp_path: Path, two_workers, monkeypatch) -> None:
    monkeypatch.setattr(loop.distributed, "launched_world", lambda: TWO)
    out = tmp_path / "run"
    summary, lines = _train(out, _settings(ema=0.5))
    session = stage.passed[0][1]
    assert summary["best_epoch"] == 0 and lines[-1] == f"Run directory: {out}"
    assert [row["processes"] for row in _rows(out)] == [2, 2]
    assert json.loads((out / "config.json").read_text())["distributed"] == {
        "processes": 2,
        "nnodes": 1,
        "backend": "gloo",
    }
    assert two_workers["batch_norm"] == [(TWO, session.model), (TWO, session.average_network)] * 2
    assert two_workers["agree"] == [(TWO, None)]
    assert stage.evaluated[0]["model"] is session.average_network is session.kept


def test_a_run_of_two_workers_resumed_in_one_says_so(stage: Stage, tmp_path: Path, two_workers, monkeypatch) -> None:
    monkeypatch.setattr(loop.distributed, "launched_world", lambda: TWO)
    out = tmp_path / "run"
    stage.fail = {1: KeyboardInterrupt()}
    with pytest.raises(TrainingInterrupted):
        _train(out)
    monkeypatch.setattr(loop.distributed, "launched_world", lambda: SINGLE)
    stage.fail = {}
    _summary, lines = _train(out, resume=True)
    same_batch = "with 1 process(es); it ran with 2 before (same global batch)"
    assert lines[1] == f"Resuming {out} after epoch 0 {same_batch}"
    assert [row["processes"] for row in _rows(out)] == [2, 1]


def test_a_lost_worker_is_one_line_naming_what_is_saved(stage: Stage, tmp_path: Path, two_workers, monkeypatch) -> None:
    monkeypatch.setattr(loop.distributed, "launched_world", lambda: TWO)
    out = tmp_path / "run"
    stage.fail = {1: RuntimeError("gloo: Connection closed by peer [pair_rank = 1]")}
    with pytest.raises(UserError) as info:
        _train(out)
    assert str(info.value) == (
        "rank 0: lost contact with worker rank 1 during training (gloo: Connection closed by peer "
        f"[pair_rank = 1]); 1 completed epoch(s) are saved, continue with: lenet5 train --resume {out} --nproc 2"
    )
    stage.fail = {0: RuntimeError("something else")}
    with pytest.raises(RuntimeError, match=r"^something else$"):
        _train(tmp_path / "other")
    stage.fail = {99: RuntimeError("gloo: Connection reset by peer")}  # while loading, before any epoch
    with pytest.raises(UserError, match=r"\); 0 completed epoch\(s\) are saved, continue with: "):
        _train(tmp_path / "early")


def test_one_process_passes_runtime_errors_on(stage: Stage, tmp_path: Path, monkeypatch) -> None:
    asked: list[Any] = []
    monkeypatch.setattr(loop.distributed, "lost_worker", lambda exc: asked.append(exc) or "lost")
    stage.fail = {0: RuntimeError("gloo: not a worker")}
    with pytest.raises(RuntimeError, match=r"^gloo: not a worker$"):
        _train(tmp_path / "run")
    assert asked == []


# --- what the loop sets up --------------------------------------------------------------


def test_the_1998_optimizer_is_told_the_batch_size(stage: Stage, tmp_path: Path) -> None:
    settings = _settings(model="lenet5", optimizer="sdlm", batch_size=4)
    session = _session(stage, tmp_path, settings)
    assert type(session.optimizer).__name__ == "SDLM" and session.optimizer.batch_size == 4


def test_label_smoothing_changes_the_updates_not_the_scores(stage: Stage, tmp_path: Path) -> None:
    _train(tmp_path / "run", _settings(label_smoothing=0.25))
    session = stage.passed[0][1]
    logits = paddle.to_tensor(np.array([[2.0, 0.0, -1.0] + [0.0] * 7], np.float32))
    label = paddle.to_tensor(np.array([0]))
    expected = smoothed_cross_entropy(0.25)(logits, label).numpy()
    assert np.array_equal(session.update_loss(logits, label).numpy(), expected)
    assert session.loss_fn is LOSSES["cross_entropy"] and stage.evaluated[0]["loss"] is LOSSES["cross_entropy"]


def test_fine_tuning_starts_from_the_source_and_records_it(stage: Stage, tmp_path: Path, monkeypatch) -> None:
    started: list[tuple[Any, Any]] = []
    source = {"given": "old", "run": "/runs/old", "epoch": 3}
    monkeypatch.setattr(loop, "start_from", lambda net, settings: started.append((net, settings)) or source)
    settings = _settings(start_from="old")
    _summary, lines = _train(tmp_path / "fresh", settings)
    assert lines[:2] == ["stand-in data", "Starting from run /runs/old, its epoch 3"]
    assert started == [(stage.passed[0][1].model, settings)]
    assert json.loads((tmp_path / "fresh" / "config.json").read_text())["start_from"] == source
    out = tmp_path / "run"
    stage.fail = {1: KeyboardInterrupt()}
    with pytest.raises(TrainingInterrupted):
        _train(out, settings)
    stage.fail = {}
    _summary, lines = _train(out, settings, resume=True)  # a resumed run starts from its own last.npz
    assert len(started) == 2 and not any(line.startswith("Starting from") for line in lines)


def test_a_run_without_fine_tuning_records_no_source(stage: Stage, tmp_path: Path) -> None:
    _train(tmp_path / "run")
    assert "start_from" not in json.loads((tmp_path / "run" / "config.json").read_text())


def test_the_dashboard_gets_each_epoch_and_is_closed(stage: Stage, tmp_path: Path, monkeypatch) -> None:
    import lenet5.train.visualdl_log as visualdl_log

    logged: list[Any] = []

    class Dashboard:
        def __init__(self, root: Path) -> None:
            logged.append(("open", root))
            RunDir(root).visualdl.mkdir(parents=True)

        def epoch(self, row: dict[str, Any], lr: float) -> None:
            logged.append(("epoch", row["epoch"], lr))

        def misread(self, epoch, images, labels, predicted) -> None:
            assert images is stage.data.val.images and labels is stage.data.y_val
            logged.append(("misread", epoch, predicted.tolist()))

        def close(self) -> None:
            logged.append(("close",))

    monkeypatch.setattr(visualdl_log, "VisualDLLog", Dashboard)
    stage.lr = 0.125
    out = tmp_path / "run"
    _summary, lines = _train(out, visualdl=True)
    assert logged == [
        ("open", out),
        ("epoch", 0, 0.125),
        ("misread", 0, PREDICTED.tolist()),
        ("epoch", 1, 0.125),
        ("misread", 1, PREDICTED.tolist()),
        ("close",),
    ]
    assert [e["keep"] for e in stage.evaluated] == [True, False] * 2
    assert lines[-1] == f"VisualDL logs: visualdl --logdir {out / 'visualdl'}  (then open http://127.0.0.1:8040/)"
    logged.clear()
    stage.fail = {0: KeyboardInterrupt()}
    with pytest.raises(TrainingInterrupted):
        _train(tmp_path / "again", visualdl=True)
    assert logged == [("open", tmp_path / "again"), ("close",)]


def test_without_a_dashboard_nothing_is_kept_or_said_of_it(stage: Stage, tmp_path: Path, monkeypatch) -> None:
    import lenet5.train.visualdl_log as visualdl_log

    monkeypatch.setattr(visualdl_log, "VisualDLLog", lambda root: pytest.fail("no dashboard asked for"))
    _summary, lines = _train(tmp_path / "run")
    assert not any("VisualDL" in line for line in lines)
    assert stage.passed[0][1].dashboard is None and stage.passed[0][1].visualdl is False


# --- record, one epoch at a time ---------------------------------------------------------


def _session(stage: Stage, tmp_path: Path, settings: Any = None, world: World = SINGLE) -> Any:
    lines: list[str] = []
    run = RunDir(tmp_path / "run")
    session = loop.start(settings or _settings(), run, world, False, lines.append, False, False, COMMAND)
    session.lines = lines
    return session


def _row(epoch: int, val_cost: float, val_accuracy: float, **more: Any) -> dict[str, Any]:
    row = {**ROW0, "epoch": epoch, "val_cost": val_cost, "val_accuracy": val_accuracy, "eval_seconds": 0.5}
    return {**row, "_val_predictions": None, **more}


def test_the_row_of_an_epoch() -> None:
    done = PassResult(cost=0.75, accuracy=0.5, seconds=4.0, steps=7, images=100)
    val, test = Evaluation(4, 3, 1.0), Evaluation(8, 2, 6.0)
    assert loop._row(5, done, val, test, 0.125, 3) == {
        "epoch": 5,
        "steps": 7,
        "train_cost": 0.75,
        "train_accuracy": 0.5,
        "val_cost": 0.25,
        "val_accuracy": 0.75,
        "test_cost": 0.75,
        "test_accuracy": 0.25,
        "train_seconds": 4.0,
        "eval_seconds": 0.125,
        "images_per_second": 25.0,
        "processes": 3,
    }


def test_train_and_evaluate_times_the_evaluation(stage: Stage, tmp_path: Path, monkeypatch) -> None:
    session = _session(stage, tmp_path)
    clock = iter([100.0, 100.25])
    monkeypatch.setattr(loop.time, "perf_counter", lambda: next(clock))
    row = loop.train_and_evaluate(session, 0)
    assert row.pop("_val_predictions") is None
    assert row == {**ROW0, "eval_seconds": 0.25}


def test_a_line_pass_row_carries_the_line_scores(stage: Stage, tmp_path: Path, monkeypatch) -> None:
    scored: list[Any] = []
    scores = {"val_line_cost": 0.5, "val_line_accuracy": 0.625}
    monkeypatch.setattr(loop, "line_scores", lambda session: scored.append(session) or scores)
    session = _session(stage, tmp_path)
    stage.passes[0] = PassResult(1.5, 0.25, 2.0, 3, 12, line_criterion=0.375)
    row = loop.train_and_evaluate(session, 0)
    assert scored == [session]
    assert row["train_line_cost"] == 0.375 and row["val_line_cost"] == 0.5 and row["val_line_accuracy"] == 0.625
    del row["train_line_cost"], row["val_line_cost"], row["val_line_accuracy"]
    assert 0 <= row.pop("eval_seconds") < 60 and row.pop("_val_predictions") is None
    assert row == ROW0


def test_record_keeps_the_better_epoch_and_saves_both_checkpoints(stage: Stage, tmp_path: Path) -> None:
    session = _session(stage, tmp_path, _settings(epochs=3))
    loop.record(session, _row(0, 0.5, 0.5))
    assert session.best == {**BEST0, "val_accuracy": 0.5} and session.saved == 1
    loop.record(session, _row(1, 0.5, 0.75))  # a tie on cost keeps the earlier epoch
    assert session.best["epoch"] == 0 and session.saved == 2
    loop.record(session, _row(2, 0.25, 0.25, val_line_cost=0.5, val_line_accuracy=0.25))
    assert session.best == {**BEST0, "epoch": 2, "val_cost": 0.25, "val_accuracy": 0.25, **{
        "val_line_cost": 0.5, "val_line_accuracy": 0.25}}  # fmt: skip
    assert checkpoint.read(session.run.best_checkpoint)[1]["epoch"] == 2
    assert [row["epoch"] for row in session.run.read_metrics()] == [0, 1, 2]
    assert all("_val_predictions" not in row for row in session.history)
    assert session.lines[-1] == "Validation lines with Epoch 2, read right: 0.2500"


def test_in_the_line_passes_the_lines_read_right_choose(stage: Stage, tmp_path: Path) -> None:
    settings = _settings(epochs=1, junk=0.5, line_epochs=2, lines=1)
    stage.data = _data(classes=11)
    session = _session(stage, tmp_path, settings)
    loop.record(session, _row(0, 0.5, 0.75))
    session.best.update(val_line_cost=0.5, val_line_accuracy=0.5)  # as start_line_passes adds them
    lines = {"val_line_cost": 0.75, "val_line_accuracy": 0.75}
    loop.record(session, _row(1, 2.0, 0.25, **lines))  # worse digits, more lines read right
    assert session.best == {
        "epoch": 1,
        "val_cost": 2.0,
        "val_accuracy": 0.25,
        "test_cost": 1.0,
        "test_accuracy": 0.5,
        **lines,
    }
    loop.record(session, _row(2, 0.25, 0.75, val_line_cost=0.25, val_line_accuracy=0.5))  # fewer lines
    assert session.best["epoch"] == 1
    summary = loop._summary(session, session.best)
    assert summary["selected_by"] == "val_cost, then val_line_accuracy"
    assert (summary["val_line_cost"], summary["val_line_accuracy"]) == (0.75, 0.75)


def test_the_piece_epochs_of_a_line_run_choose_as_asked(stage: Stage, tmp_path: Path) -> None:
    settings = _settings(epochs=2, junk=0.5, line_epochs=1, lines=1, select_by="accuracy")
    stage.data = _data(classes=11)
    session = _session(stage, tmp_path, settings)
    loop.record(session, _row(0, 0.5, 0.5, val_line_cost=0.5, val_line_accuracy=0.75))
    loop.record(session, _row(1, 0.75, 0.75, val_line_cost=0.5, val_line_accuracy=0.25))
    assert session.best["epoch"] == 1


def test_the_last_checkpoint_holds_the_optimizer_and_the_average(stage: Stage, tmp_path: Path) -> None:
    session = _session(stage, tmp_path, _settings(ema=0.5))
    stage.run_pass(session, 0)
    loop.record(session, _row(0, 0.5, 0.5))
    best, last = session.run.best_checkpoint, session.run.last_checkpoint
    average = {k: v.numpy() for k, v in session.average_network.state_dict().items()}
    model = {k: v.numpy() for k, v in session.model.state_dict().items()}
    assert _same(_arrays(best, "model/"), average) and _same(_arrays(last, "average/"), average)
    assert _same(_arrays(last, "model/"), model) and not _same(model, average)
    assert not _arrays(best, "average/") and _arrays(last, "optim/")


def test_the_wall_time_of_a_record(stage: Stage, tmp_path: Path) -> None:
    session = _session(stage, tmp_path)
    session.wall_before, session.started = 100.0, time.perf_counter()
    loop.record(session, _row(0, 0.5, 0.5))
    assert 100 <= checkpoint.read(session.run.last_checkpoint)[1]["wall_seconds"] < 160


def test_the_curves_are_redrawn_at_most_every_30_seconds_and_after_the_last_epoch(stage: Stage, tmp_path: Path) -> None:
    session = _session(stage, tmp_path, _settings(epochs=4))
    loop.record(session, _row(0, 0.5, 0.5))  # never drawn yet: drawn
    loop.record(session, _row(1, 0.25, 0.5))  # just drawn: not again
    session.plotted = time.perf_counter() - 25
    loop.record(session, _row(2, 0.75, 0.5))
    assert [d[0] for d in stage.drawn] == [1]
    session.plotted = time.perf_counter() - 30.5
    loop.record(session, _row(3, 0.75, 0.5))  # the last: drawn in any case
    assert stage.drawn == [(1, session.run.curves, 0), (4, session.run.curves, 1)]
    session = _session(stage, tmp_path / "two", _settings(epochs=4))
    session.plotted = time.perf_counter() - 30.5
    loop.record(session, _row(0, 0.5, 0.5))
    assert len(stage.drawn) == 3 and time.perf_counter() - session.plotted < 20


def test_a_worker_other_than_rank_0_only_counts_the_epoch(stage: Stage, tmp_path: Path, two_workers) -> None:
    session = _session(stage, tmp_path, world=OTHER)
    loop.record(session, _row(0, 0.5, 0.5))
    assert session.saved == 1 and len(session.history) == 1 and session.best is None
    assert not (tmp_path / "run").exists() and session.lines == ["stand-in data"] and not stage.drawn


def test_plot_curves_draws_the_file(tmp_path: Path, monkeypatch) -> None:
    import lenet5.plots.curves as curves

    drawn: list[Any] = []
    monkeypatch.setattr(curves, "plot_curves", lambda history, path, best: drawn.append((history, path, best)))
    loop.plot_curves([ROW0], tmp_path / "c.png", 0)
    assert drawn == [([ROW0], tmp_path / "c.png", 0)]
    monkeypatch.undo()
    loop.plot_curves([ROW0, ROW1], tmp_path / "curves.png", 1)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- finish: the summary, the model folder, its card ---------------------------------------


def test_finish_needs_a_kept_epoch_and_its_checkpoint(stage: Stage, tmp_path: Path) -> None:
    session = _session(stage, tmp_path)
    with pytest.raises(UserError) as info:
        loop.finish(session)
    assert str(info.value) == f"{session.run.root}: no completed epoch to summarise"
    loop.record(session, _row(0, 0.5, 0.5))
    loop.record(session, _row(1, 0.75, 0.5))
    meta = {"epoch": 1, "config": _settings().model_dump()}
    checkpoint.save(session.run.best_checkpoint, session.model, None, meta)
    with pytest.raises(UserError) as info:
        loop.finish(session)
    assert str(info.value) == f"{session.run.best_checkpoint}: holds epoch 1, expected 0"
    checkpoint.save(session.run.best_checkpoint, session.model, None, {"config": {}})
    with pytest.raises(UserError, match="not a usable lenet5 checkpoint"):
        loop.finish(session)


def test_a_junk_class_run_reports_its_digit_accuracy(stage: Stage, tmp_path: Path, monkeypatch) -> None:
    asked: list[Any] = []

    def digits(model: Any, data: Any, batch_size: int) -> float:
        asked.append(({k: v.numpy() for k, v in model.state_dict().items()}, data, batch_size))
        return 0.625

    monkeypatch.setattr(loop, "_digit_accuracy", digits)
    stage.data = _data(classes=11)
    out = tmp_path / "run"
    summary, lines = _train(out, _settings(junk=0.5))
    assert summary["digit_test_accuracy"] == 0.625 and summary["test_accuracy"] == 0.5
    assert len(asked) == 1 and asked[0][1] is stage.data and asked[0][2] == 3
    assert _same(asked[0][0], _arrays(out / "checkpoints" / "best.npz", "model/"))
    meta = json.loads((out / "model" / "lenet5.json").read_text())
    assert (meta["test_accuracy"], meta["test_accuracy_with_junk"], meta["val_accuracy"]) == (0.625, 0.5, 0.75)
    assert meta["output"]["shape"] == [None, 11]
    assert lines[-2] == "Best epoch 0 (validation cost 0.500000), test accuracy 50.00%"


def test_the_digit_accuracy_is_the_best_of_the_ten_digits() -> None:
    class Junky:
        """Answers junk (class 10) first for every picture and, second, the digit each
        picture's number says (its pixel (0, 0), 60 + i, read back from the normalised input)."""

        def __init__(self, second: list[int]) -> None:
            self.second, self.evaluating, self.batches = second, False, []

        def eval(self) -> None:
            self.evaluating = True

        def __call__(self, x: Any) -> Any:
            assert self.evaluating
            self.batches.append(len(x))
            index = np.rint((x.numpy()[:, 0, 0, 0] + 1) / 2 * 255).astype(int) - 60
            scores = np.zeros((len(index), 11), np.float32)
            scores[:, 10] = 5.0
            scores[np.arange(len(index)), [self.second[i] for i in index]] = 4.0
            return paddle.to_tensor(scores)

    data = _data()  # digits_test: 5 pictures, labels 0..4
    assert loop._digit_accuracy(Junky([0, 1, 2, 3, 4]), data, 2) == 1.0
    assert loop._digit_accuracy(Junky([0, 1, 9, 3, 9]), data, 3) == 0.6
    model = Junky([0, 1, 2, 3, 4])
    loop._digit_accuracy(model, data, 2)
    assert model.evaluating and model.batches == [2, 2, 1]  # in batches of the size asked for


def test_a_fashion_run_names_its_classes(stage: Stage, tmp_path: Path) -> None:
    out = tmp_path / "run"
    _train(out, _settings(dataset="fashion-mnist"))
    assert json.loads((out / "model" / "lenet5.json").read_text())["class_names"] == list(fashion.CLASS_NAMES)


def test_a_folder_without_test_pictures_says_its_scores_are_validation(stage: Stage, tmp_path: Path) -> None:
    stage.data = _data(test_is_val=True)
    out = tmp_path / "run"
    summary, lines = _train(out)
    assert summary["test_is_val"] is True
    assert json.loads((out / "config.json").read_text())["data"] == {"source": "mnist", "test_is_val": True}
    scored = " (of the validation pictures: the folder has no test/)"
    assert lines[-2] == f"Best epoch 0 (validation cost 0.500000), test accuracy 50.00%{scored}"


def test_the_reproducible_part_of_a_summary() -> None:
    summary = {"best_epoch": 3, "train_seconds": 1.0, "wall_seconds": 2.0, "images_per_second": 3.0, "run_dir": "r"}
    assert loop.summary_metrics(summary) == {"best_epoch": 3}
    assert loop.TIMING_KEYS == ("train_seconds", "wall_seconds", "images_per_second", "run_dir")
    assert loop.PLOT_EVERY == 30.0


# --- what config.json records of the machine ----------------------------------------------


def test_the_versions_recorded() -> None:
    """Read from the installed distributions' metadata, independently of the modules."""
    from importlib.metadata import version

    versions = loop._versions()
    assert sorted(versions) == ["lenet5", "matplotlib", "numpy", "paddle", "platform", "python"]
    assert versions["paddle"] == version("paddlepaddle") == "3.3.1"  # the pinned wheel
    for name in ("numpy", "matplotlib"):
        assert versions[name] == version(name)
    assert versions["lenet5"] == version("lenet5")
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    assert versions["platform"].startswith(platform.system())


def test_the_commit_is_git_s_short_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    here = Path(loop.__file__).resolve().parent
    calls: list[tuple[Any, dict[str, Any]]] = []
    answers: list[Any] = []

    def run(args: Any, **options: Any) -> Any:
        calls.append((args, options))
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return subprocess.CompletedProcess(args, answer[0], answer[1], "")

    monkeypatch.setattr(subprocess, "run", run)
    answers[:] = [
        (0, "0123abc\n"),
        (0, "\n"),
        (128, "0123abc\n"),
        OSError("no git"),
        subprocess.TimeoutExpired("git", 5),
    ]
    assert [loop._git_commit() for _ in range(5)] == ["0123abc", None, None, None, None]
    options = {"capture_output": True, "text": True, "timeout": 5, "cwd": here}
    assert calls == [(["git", "rev-parse", "--short", "HEAD"], options)] * 5


def test_the_commit_of_this_checkout() -> None:
    here = Path(loop.__file__).resolve().parent
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=here)
    expected = git.stdout.strip() if git.returncode == 0 else None
    assert loop._git_commit() == expected
    assert expected is None or (len(expected) >= 7 and int(expected, 16) >= 0)
