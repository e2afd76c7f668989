"""Tests for bugs a suite can miss: each one fails on a realistic one-line mistake that the
rest of the suite let through (a mutation study, issue "Tests that catch the bugs that
matter"). The paper's facts are written here as literals from the paper, never read from
the code under test."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA_DIR, evaluation, quiet, rig_validation, tiny_config
from lenet5.models import network_for

# Table I of LeCun et al. 1998: the S2 maps feeding each C3 map, copied from the paper.
TABLE_I = [
    [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [0, 4, 5], [0, 1, 5],
    [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [0, 3, 4, 5], [0, 1, 4, 5], [0, 1, 2, 5],
    [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5], [0, 1, 2, 3, 4, 5],
]  # fmt: skip

# Figure 3 of the paper, three of the 7x12 output bitmaps, row by row ('#' = +1).
BITMAPS = {
    1: "...##.. ..###.. .####.. ...##.. ...##.. ...##.. ...##.. ...##.. ...##.. .###### ....... .......",
    3: "####### .....## ....##. ...##.. ..####. .....## .....## .....## ##...## .#####. ....... .......",
    4: ".#####. ....... ....... .##..## .##..## ###..## ##...## ##...## ##..### .###### .....## .....##",
}


def test_every_c3_connection_is_table_one() -> None:
    """Behaviour, not the table's own copy: which S2 maps each C3 map's weights can reach."""
    from lenet5.models import create_model

    mask = create_model("lenet5").c3.mask.numpy()  # [16 C3 maps, 6 S2 maps, 5, 5]
    reached = [sorted(np.flatnonzero(mask[k].reshape(6, -1).any(axis=1)).tolist()) for k in range(16)]
    assert reached == TABLE_I
    assert np.all(mask[mask.reshape(16, 6, -1).any(axis=2)] == 1)  # whole 5x5 kernels, not parts


def test_output_bitmaps_are_figure_three_upright() -> None:
    from lenet5.models import create_model

    prototypes = create_model("lenet5").output.prototypes.numpy()  # [10, 84]
    for digit, rows in BITMAPS.items():
        expected = np.array([[1.0 if c == "#" else -1.0 for c in row] for row in rows.split()])
        assert expected.shape == (12, 7)
        np.testing.assert_array_equal(prototypes[digit].reshape(12, 7), expected)


def test_squash_constants_are_the_papers() -> None:
    from lenet5.models.lenet1998 import squash
    from lenet5.runtime import import_paddle

    paddle = import_paddle()
    a = np.array([-2.0, -0.5, 0.3, 1.0, 40.0], dtype=np.float32)
    np.testing.assert_allclose(squash(paddle.to_tensor(a)).numpy(), 1.7159 * np.tanh(2 / 3 * a), rtol=1e-6)


def test_validation_never_overlaps_training_whatever_the_limit() -> None:
    from lenet5.data import mnist
    from lenet5.data.splits import make_splits

    data = mnist.load(DATA_DIR)
    for limit in (None, 1000, 54_999, 55_000, 59_000, 60_000):
        splits = make_splits(data, val_size=5000, train_limit=limit)
        assert len(splits.train) == min(55_000, limit or 55_000)
        assert len(splits.val) == 5000
        np.testing.assert_array_equal(splits.val.images, data.train_images[55_000:])
        np.testing.assert_array_equal(splits.train.images, data.train_images[: len(splits.train)])


def test_a_short_last_batch_is_a_step() -> None:
    from lenet5.data.batches import batches, num_batches

    assert [num_batches(n, 3) for n in (1, 3, 9, 10, 11)] == [1, 1, 3, 4, 4]
    x, y = np.zeros((10, 2)), np.arange(10)
    assert [len(b[1]) for b in batches(x, y, 3)] == [3, 3, 3, 1]


def test_steps_in_the_metrics_count_the_short_batch(tmp_path: Path) -> None:
    from lenet5.train.loop import train

    train(tiny_config(train_limit=1000, batch_size=64, epochs=1), tmp_path / "run", echo=quiet, progress=False)
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert row["steps"] == 16  # 15 full batches of 64 and one of 40


def test_sdlm_step_grows_with_the_batch() -> None:
    """With B patterns per update the gradient is a mean, so SDLM's step is B times eta/(mu+h)."""
    from lenet5.models import create_model
    from lenet5.runtime import import_paddle
    from lenet5.train.sdlm import SDLM

    paddle = import_paddle()
    paddle.seed(0)
    net = create_model("lenet5")
    sample = np.random.default_rng(0).normal(size=(16, 1, 32, 32)).astype(np.float32)
    steps = {}
    for batch in (1, 4):
        optimizer = SDLM(net.parameters(), batch_size=batch)
        optimizer.begin_pass(0, net, sample)
        steps[batch] = {name: step.numpy() for name, step in optimizer._steps.items()}
    for name, step in steps[1].items():
        np.testing.assert_allclose(steps[4][name], 4 * step, rtol=1e-6)


def _rigged(monkeypatch: pytest.MonkeyPatch, best_val_epoch: int, field: str) -> None:
    """Validation says `best_val_epoch` was best (by `field`), whatever happened."""

    def rewrite(result, epoch: int):
        good = epoch == best_val_epoch
        if field == "accuracy":
            return evaluation(result.cost, 0.99 if good else 0.5, result.n)
        return evaluation(0.01 if good else 5.0, result.accuracy, result.n)

    rig_validation(monkeypatch, rewrite)


def test_select_by_accuracy_follows_validation_not_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lenet5.train.loop import train

    _rigged(monkeypatch, best_val_epoch=1, field="accuracy")
    summary = train(tiny_config(epochs=3, select_by="accuracy"), tmp_path / "run", echo=quiet, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert summary["best_epoch"] == 1 and summary["val_accuracy"] == 0.99
    assert summary["test_accuracy"] == rows[1]["test_accuracy"]


def test_the_exported_model_is_the_selected_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Weights, not the epoch number written beside them: the exported model computes what
    the selected epoch's checkpoint computes, and not what the last epoch's does."""
    from lenet5.data import mnist
    from lenet5.data.normalize import NORMALIZATIONS
    from lenet5.infer.backends import load_backend
    from lenet5.runtime import import_paddle
    from lenet5.store import checkpoint
    from lenet5.train.loop import train

    paddle = import_paddle()
    _rigged(monkeypatch, best_val_epoch=0, field="cost")
    cfg = tiny_config(epochs=3)
    train(cfg, tmp_path / "run", echo=quiet, progress=False)
    x = NORMALIZATIONS["seed"](mnist.load(DATA_DIR).test_images[:200])
    exported = load_backend(tmp_path / "run", "paddle").probabilities(x)
    outputs = {}
    for name in ("best", "last"):
        net = network_for(cfg)
        checkpoint.load(tmp_path / "run" / "checkpoints" / f"{name}.npz", net)
        net.eval()
        with paddle.no_grad():
            outputs[name] = net.probabilities(net(paddle.to_tensor(x))).numpy()
    assert np.abs(exported - outputs["best"]).max() < 1e-5
    assert np.abs(exported - outputs["last"]).max() > 1e-3  # the two epochs really differ


def test_atomic_write_never_leaves_a_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash between writing and renaming leaves the old file whole."""
    from lenet5 import atomic

    target = tmp_path / "data.bin"
    target.write_bytes(b"old contents")

    def crash(*_args, **_kwargs):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        atomic.write_bytes(target, b"new contents, half written")
    assert target.read_bytes() == b"old contents"


def test_checkpoints_are_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lenet5.store import checkpoint

    net = network_for(tiny_config())
    for name in ("best.npz", "last.npz"):
        target = tmp_path / name
        target.write_bytes(b"the previous checkpoint")
        with monkeypatch.context() as patch:
            patch.setattr(os, "replace", lambda *_a, **_k: (_ for _ in ()).throw(OSError("crash")))
            with pytest.raises(OSError):
                checkpoint.save(target, net, None, {"epoch": 0, "config": {}})
        assert target.read_bytes() == b"the previous checkpoint"


def test_server_default_body_limit_is_two_megabytes(trained_run: Path) -> None:
    from fastapi.testclient import TestClient

    from lenet5.serve.app import ServerLimits, create_app

    assert ServerLimits().max_bytes == 2 * 1024 * 1024
    client = TestClient(create_app(trained_run))  # the defaults, as `lenet5 serve` runs
    over = client.post("/api/predict", content=b"\0" * (2 * 1024 * 1024 + 1), headers={"Content-Type": "image/png"})
    assert over.status_code == 413
    under = client.post("/api/predict", content=b"\0" * (2 * 1024 * 1024), headers={"Content-Type": "image/png"})
    assert under.status_code == 422  # read whole, then refused as a picture


def test_concurrent_requests_each_get_their_own_answer(trained_run: Path) -> None:
    """Different pictures at once: each gets its own answer, and the shared predictor (one
    input buffer for all) is never entered by two requests at the same time."""
    import io
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient
    from PIL import Image

    from lenet5.data import mnist
    from lenet5.serve.app import ServerLimits, create_app

    data = mnist.load(DATA_DIR)
    app = create_app(trained_run, backend="paddle", limits=ServerLimits(max_concurrent=4))
    backend = app.state.service.backend
    inside, overlaps, guard = [0], [0], threading.Lock()
    real_scores = backend.scores

    def watched(inputs):  # widens the window a missing lock would leave open
        with guard:
            inside[0] += 1
            overlaps[0] += inside[0] > 1
        time.sleep(0.005)
        try:
            return real_scores(inputs)
        finally:
            with guard:
                inside[0] -= 1

    backend.scores = watched
    client = TestClient(app)
    pictures = []
    for index in range(6):
        buffer = io.BytesIO()
        Image.fromarray(255 - data.test_images[index]).resize((112, 112)).save(buffer, format="PNG")
        pictures.append(buffer.getvalue())

    def call(i: int) -> list[float]:
        png = pictures[i % len(pictures)]
        return client.post("/api/predict", content=png, headers={"Content-Type": "image/png"}).json()["probabilities"]

    alone = [call(i) for i in range(len(pictures))]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(call, range(48)))
    for i, answer in enumerate(together):
        assert answer == alone[i % len(pictures)]  # the same picture through the same session: bit for bit
    assert overlaps[0] == 0
