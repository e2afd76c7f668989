"""The weight average (--ema) and label smoothing (--label-smoothing) of the strong recipe."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import interrupt_then_resume, quiet, tiny_config
from lenet5.errors import UserError
from lenet5.runtime import import_paddle
from lenet5.store import checkpoint
from lenet5.store.run_dir import RunDir
from lenet5.train.averaging import WeightAverage, effective_decay
from lenet5.train.loop import summary_metrics, train
from lenet5.train.losses import get_loss

paddle = import_paddle()
TIMING = ("train_seconds", "eval_seconds", "images_per_second")


def _rows(run: Path) -> list[dict[str, float]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


class _Pair(paddle.nn.Layer):
    """Two tensors: a parameter and a buffer, as batch norm has."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = self.create_parameter([2], default_initializer=paddle.nn.initializer.Constant(0.0))
        self.register_buffer("running", paddle.zeros([2]))


def test_effective_decay_warms_up_then_holds() -> None:
    assert effective_decay(0.999, 0) == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    assert effective_decay(0.999, 90) == pytest.approx(0.91)  # 91 / 100
    assert effective_decay(0.9, 90) == 0.9  # (1 + t) / (10 + t) passed 0.9 at t = 80
    assert effective_decay(0.999, 10**6) == 0.999


def test_the_average_follows_the_closed_form_for_parameters_and_buffers() -> None:
    live, shadow = _Pair(), _Pair()
    average = WeightAverage(live, shadow, decay=0.5)
    for step, value in [(100, 4.0), (101, 8.0), (102, 0.0)]:
        with paddle.no_grad():
            live.weight.set_value(paddle.full([2], value))
            live.running.set_value(paddle.full([2], -value))
        average.update(step)
    # 0 -> 2 -> 5 -> 2.5: each update goes halfway towards the live value.
    np.testing.assert_array_equal(shadow.weight.numpy(), [2.5, 2.5])
    np.testing.assert_array_equal(shadow.running.numpy(), [-2.5, -2.5])
    assert live.weight.numpy().tolist() == [0.0, 0.0]  # the live network is never touched


def test_an_average_refuses_a_decay_outside_zero_one() -> None:
    for decay in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="decay"):
            WeightAverage(_Pair(), _Pair(), decay)


def test_smoothed_cross_entropy_is_the_closed_form() -> None:
    logits = np.array([[2.0] + [0.0] * 9, [0.0] * 10], dtype=np.float32)
    labels = np.array([0, 3])
    log_z = math.log(math.exp(2.0) + 9.0)
    log_p = [[2.0 - log_z] + [-log_z] * 9, [-math.log(10.0)] * 10]
    epsilon = 0.2
    expected = []
    for row, label in zip(log_p, labels, strict=True):
        target = [epsilon / 10 + (1 - epsilon) * (k == label) for k in range(10)]
        expected.append(-sum(t * lp for t, lp in zip(target, row, strict=True)))
    smoothed = get_loss("cross_entropy", epsilon)(paddle.to_tensor(logits), paddle.to_tensor(labels)).numpy()
    plain = get_loss("cross_entropy")(paddle.to_tensor(logits), paddle.to_tensor(labels)).numpy()
    np.testing.assert_allclose(smoothed, expected, rtol=1e-6)
    np.testing.assert_allclose(plain, [log_z - 2.0, math.log(10.0)], rtol=1e-6)
    assert smoothed[0] > plain[0]  # a confident right answer still costs something


def test_settings_refuse_what_does_not_go_together() -> None:
    with pytest.raises(UserError, match="--label-smoothing"):
        tiny_config(model="lenet5", loss="map", label_smoothing=0.1)
    with pytest.raises(UserError, match="--ema"):
        tiny_config(model="lenet5", optimizer="sdlm", ema=0.99)
    for bad in ({"ema": 1.0}, {"ema": -0.1}, {"label_smoothing": 1.0}):
        with pytest.raises(UserError):
            tiny_config(**bad)


def test_averaging_changes_what_is_kept_but_not_the_training(tmp_path: Path, trained_run: Path) -> None:
    # trained_run is tiny_config() without an average.
    averaged = train(tiny_config(ema=0.9), tmp_path / "ema", echo=quiet, progress=False)
    rows, rows_ema = _rows(trained_run), _rows(tmp_path / "ema")
    # The updates are the same: the training cost of every epoch is equal bit for bit.
    assert [r["train_cost"] for r in rows] == [r["train_cost"] for r in rows_ema]
    # What is scored is the average, another set of weights.
    assert [r["val_cost"] for r in rows] != [r["val_cost"] for r in rows_ema]
    assert averaged["val_accuracy"] > 0.8
    # The kept epoch's checkpoint holds the average; the last one holds both.
    best, _ = checkpoint.read(RunDir(tmp_path / "ema").best_checkpoint)
    last, _ = checkpoint.read(RunDir(tmp_path / "ema").last_checkpoint)
    assert not any(k.startswith("average/") for k in best)
    if averaged["best_epoch"] == 1:
        np.testing.assert_array_equal(best["model/fc.weight"], last["average/fc.weight"])
    assert not np.array_equal(last["model/fc.weight"], last["average/fc.weight"])


def test_an_averaged_smoothed_run_resumes_to_the_same_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tiny_config(ema=0.95, label_smoothing=0.1)
    reference = train(config, tmp_path / "straight", echo=quiet, progress=False)
    completed, resumed = interrupt_then_resume(config, tmp_path / "broken", 1, monkeypatch)
    assert completed == 1
    assert summary_metrics({**resumed, "run_dir": None}) == summary_metrics({**reference, "run_dir": None})
    assert _rows(tmp_path / "broken") == _rows(tmp_path / "straight")


def test_a_checkpoint_without_its_average_is_refused(tmp_path: Path) -> None:
    from lenet5.models import network_for

    config = tiny_config(ema=0.9)
    model, other = network_for(config), network_for(config)
    path = tmp_path / "last.npz"
    checkpoint.save(path, model, None, {"epoch": 0})
    with pytest.raises(UserError, match="no averaged weights"):
        checkpoint.load(path, network_for(config), average=other)
    # An average of other layers than the model's is refused before anything is read.
    checkpoint.save(path, model, None, {"epoch": 0}, average=network_for(tiny_config(model="lenet5")))
    with pytest.raises(UserError, match="averaged weights"):
        checkpoint.read(path, model)
