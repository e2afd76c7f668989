"""Training behaviour: learning, determinism, resume equivalence, run directory contents."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import (
    REPO,
    assert_accuracy_up_to_ties,
    evaluation,
    interrupt_then_resume,
    quiet,
    rig_validation,
    tiny_config,
)
from lenet5.errors import UserError
from lenet5.store.run_dir import RunDir
from lenet5.train import loop
from lenet5.train.loop import summary_metrics, train

TIMING = ("train_seconds", "eval_seconds", "images_per_second")


def _metrics(run: Path) -> list[dict[str, float]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def test_run_directory_contents_and_learning(trained_run: Path) -> None:
    for name in ("config.json", "metrics.jsonl", "curves.png", "summary.json"):
        assert (trained_run / name).is_file(), name
    for name in ("checkpoints/last.npz", "checkpoints/best.npz", "model/inference.json", "model/inference.pdiparams"):
        assert (trained_run / name).is_file(), name
    summary = json.loads((trained_run / "summary.json").read_text())
    config = json.loads((trained_run / "config.json").read_text())
    assert config["train"]["seed"] == 0 and config["versions"]["paddle"].startswith("3.3")
    assert config["splits"] == {"train": 2000, "val": 1000, "test": 500}
    rows = _metrics(trained_run)
    assert [r["epoch"] for r in rows] == [0, 1]
    # 2,000 digits, 2 epochs: far above the 10% of chance on held-out digits.
    assert summary["val_accuracy"] > 0.8 and summary["test_accuracy"] > 0.8
    best = min(rows, key=lambda r: r["val_cost"])
    assert summary["best_epoch"] == best["epoch"] and summary["test_accuracy"] == best["test_accuracy"]
    assert summary["images_per_second"] > 0


def test_evaluation_is_sample_weighted_not_mean_of_batch_means() -> None:
    from conftest import DATA_DIR
    from lenet5.data import mnist
    from lenet5.data.normalize import NORMALIZATIONS
    from lenet5.models import create_model
    from lenet5.train.evaluation import evaluate
    from lenet5.train.losses import cross_entropy

    data = mnist.load(DATA_DIR)
    x, y = NORMALIZATIONS["seed"](data.test_images[:500]), data.test_labels[:500]
    loop.paddle.seed(3)
    net = create_model("seed")
    net.eval()
    whole = evaluate(net, cross_entropy, x, y, batch_size=500)
    uneven = evaluate(net, cross_entropy, x, y, batch_size=300)  # batches of 300 and 200
    logits = net(loop.paddle.to_tensor(x)).numpy()
    # Batches of other sizes may round the logits otherwise (by about 1e-5: GEMM blocking),
    # so a digit whose two largest logits are that close may go either way.
    assert_accuracy_up_to_ties(whole.accuracy, logits, y, 1e-4)
    assert_accuracy_up_to_ties(uneven.accuracy, logits, y, 1e-4)
    # Measured over seven code paths (kernels on and off, MKL's and oneDNN's instruction sets,
    # thread counts): at most 1.7e-7 relative; a mean of batch means is off by about 1e-2.
    assert uneven.cost == pytest.approx(whole.cost, rel=1e-5)
    assert net.training is False


def test_same_seed_same_metrics_other_seed_differs(tmp_path: Path, trained_run: Path) -> None:
    train(tiny_config(), tmp_path / "again", echo=quiet, progress=False)
    assert _metrics(tmp_path / "again") == _metrics(trained_run)
    train(tiny_config(seed=1), tmp_path / "other", echo=quiet, progress=False)
    assert _metrics(tmp_path / "other") != _metrics(trained_run)


def test_selects_on_validation_not_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rig validation so the best epoch by validation is not the best by test; the summary must follow validation."""
    # Validation claims epoch 0 was best, whatever happened.
    rig_validation(monkeypatch, lambda result, epoch: evaluation(1.0 + epoch, result.accuracy, result.n))
    summary = train(tiny_config(epochs=3), tmp_path / "run", echo=quiet, progress=False)
    rows = _metrics(tmp_path / "run")
    assert summary["best_epoch"] == 0
    assert summary["test_accuracy"] == rows[0]["test_accuracy"]
    meta = json.loads((tmp_path / "run" / "model" / "lenet5.json").read_text())
    assert meta["epoch"] == 0  # the exported model is the selected epoch, not the last


def test_without_test_each_epoch_the_test_digits_are_scored_once_by_the_epoch_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--no-test-each-epoch: no test score while training; after the last epoch one, by the
    epoch kept, equal to what scoring every epoch gives that epoch (same seed, same weights)."""
    every = train(tiny_config(epochs=3), tmp_path / "every", echo=quiet, progress=False)
    scored_every = {row["epoch"]: row["test_accuracy"] for row in _metrics(tmp_path / "every")}
    real, sizes = loop.evaluate, []

    def rigged(model, loss_fn, inputs, labels, batch_size=1000, **options):
        result = real(model, loss_fn, inputs, labels, batch_size, **options)
        sizes.append(len(labels))
        if len(labels) == 1000:  # validation (TINY: 1,000 validation digits, 500 test ones) says epoch 1 was best
            epoch = sizes.count(1000) - 1
            return evaluation(1.0 if epoch == 1 else 2.0, result.accuracy, result.n)
        return result

    monkeypatch.setattr(loop, "evaluate", rigged)
    lines: list[str] = []
    summary = train(tiny_config(epochs=3, test_each_epoch=False), tmp_path / "once", echo=lines.append, progress=False)
    assert sizes == [1000, 1000, 1000, 500]  # the test digits once, after the last epoch
    rows = _metrics(tmp_path / "once")
    assert [row["test_accuracy"] is None for row in rows] == [True, False, True]
    assert summary["best_epoch"] == 1 and summary["test_accuracy"] == rows[1]["test_accuracy"] == scored_every[1]
    assert scored_every[1] != scored_every[2] or scored_every[1] != scored_every[0]  # a wrong epoch would show
    assert not any(line.startswith("Test with Epoch") for line in lines)
    assert lines[-2].endswith(f"test accuracy {100 * scored_every[1]:.2f}%")
    assert lines[-2].startswith("Best epoch 1 (validation cost 1.000000)")  # what chose it
    lines.clear()
    cfg = tiny_config(epochs=1, select_by="accuracy", test_each_epoch=False)
    chosen = train(cfg, tmp_path / "by_accuracy", echo=lines.append, progress=False)
    by_accuracy = f"Best epoch 0 (validation accuracy {100 * chosen['val_accuracy']:.2f}%), test accuracy"
    assert lines[-2].startswith(by_accuracy)
    assert every["test_accuracy"] == scored_every[every["best_epoch"]]


def test_interrupt_then_resume_matches_uninterrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = train(tiny_config(epochs=3), tmp_path / "straight", echo=quiet, progress=False)
    completed, resumed = interrupt_then_resume(tiny_config(epochs=3), tmp_path / "broken", 2, monkeypatch)
    assert completed == 2
    assert summary_metrics({**resumed, "run_dir": None}) == summary_metrics({**reference, "run_dir": None})
    assert _metrics(tmp_path / "broken") == _metrics(tmp_path / "straight")


def test_kill_9_then_resume_matches_uninterrupted(tmp_path: Path) -> None:
    """A real SIGKILL mid-run, from the command line; the resumed run must end identically."""
    args = ["--train-limit", "2000", "--val-size", "1000", "--test-limit", "500", "--batch-size", "64"]
    args += ["--epochs", "4", "--data-dir", str(REPO / "data" / "mnist"), "--no-progress"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lenet5", "train", *args, "--out", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        metrics = killed / "metrics.jsonl"
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists()
    # What a kill in the middle of a write leaves (planted, so the test does not depend on
    # where the kill landed), and a file of the user's that must survive the sweep.
    (killed / "checkpoints" / ".last.npz.k1ll3d_x.tmp").write_bytes(b"half a checkpoint")
    (killed / ".model.k1ll3d_x.tmp").mkdir()
    (killed / ".model.k1ll3d_x.tmp" / "inference.json").write_text("{")
    (killed / "notes.txt").write_text("mine")
    resumed = subprocess.run(
        [sys.executable, "-m", "lenet5", "train", "--resume", str(killed), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert not (killed / "checkpoints" / ".last.npz.k1ll3d_x.tmp").exists()
    assert not (killed / ".model.k1ll3d_x.tmp").exists() and (killed / "notes.txt").read_text() == "mine"
    assert not [p for p in killed.rglob(".*") if ".tmp" in p.name]
    reference = train(tiny_config(epochs=4), tmp_path / "straight", echo=quiet, progress=False)
    got = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary_metrics({**got, "run_dir": None}) == summary_metrics({**reference, "run_dir": None})


def test_crash_while_checkpointing_keeps_previous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train(tiny_config(epochs=1), tmp_path / "run", echo=quiet, progress=False)
    before = (tmp_path / "run" / "checkpoints" / "last.npz").read_bytes()

    def exploding_savez(handle, **arrays):
        handle.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", exploding_savez)
    cfg = RunDir(tmp_path / "run").read_settings()
    cfg.epochs = 2
    with pytest.raises(OSError, match="disk full"):
        loop.train(cfg, tmp_path / "run", resume=True, echo=quiet)
    assert (tmp_path / "run" / "checkpoints" / "last.npz").read_bytes() == before
    leftovers = [p.name for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_refuses_to_overwrite_a_run(trained_run: Path) -> None:
    with pytest.raises(UserError, match="already holds a run"):
        train(tiny_config(), trained_run, echo=quiet)


def test_log_lines_follow_the_article(tmp_path: Path) -> None:
    lines: list[str] = []
    train(tiny_config(epochs=1, log_every=5), tmp_path / "run", echo=lines.append, progress=False)
    steps = [line for line in lines if line.startswith("Step ")]
    assert steps[0].startswith("Step 0, Epoch 0, Cost ") and steps[1].startswith("Step 5, Epoch 0, Cost ")
    assert any(line.startswith("Test with Epoch 0, avg_cost: ") and ", acc: " in line for line in lines)
    assert lines[-2].startswith("Best epoch 0 (validation cost ") and "test accuracy" in lines[-2]


def test_cosine_schedule_sets_each_epochs_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import paddle

    rates: list[float] = []
    real = paddle.optimizer.Adam.set_lr
    monkeypatch.setattr(paddle.optimizer.Adam, "set_lr", lambda self, v: rates.append(v) or real(self, v))
    cfg = tiny_config(epochs=4, lr=2e-3, lr_schedule="cosine", train_limit=600, val_size=200, test_limit=100)
    train(cfg, tmp_path / "run", echo=quiet, progress=False)
    # lr * (1 + cos(pi * e / 4)) / 2 for e = 0..3, written out: 2e-3, 1.7071e-3, 1e-3, 2.929e-4
    assert rates == pytest.approx([2e-3, 1.70710678e-3, 1e-3, 2.92893219e-4])


def test_strong_recipe_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lenet5.cli import main
    from lenet5.train import loop

    seen = []

    class Stop(Exception):
        pass

    def fake_train(cfg, out, **kwargs):
        seen.append(cfg)
        raise Stop

    monkeypatch.setattr(loop, "train", fake_train)
    with pytest.raises(Stop):
        main(["train", "--recipe", "strong", "--out", str(tmp_path / "r")])
    cfg = seen[-1]
    assert (cfg.model, cfg.optimizer, cfg.lr, cfg.batch_size, cfg.epochs) == ("seed", "adam", 2e-3, 128, 24)
    assert (cfg.distort, cfg.distort_fraction, cfg.lr_schedule, cfg.distort_engine) == (True, 1.0, "cosine", "opencv")
    assert cfg.recipe == "strong" and cfg.select_by == "accuracy"
    assert (cfg.label_smoothing, cfg.ema) == (0.1, 0.0)  # docs/results.md: the average was not kept
    assert cfg.test_each_epoch is False  # the issue: the test set untouched until the end
    with pytest.raises(Stop):
        main(["train", "--recipe", "strong", "--no-distort", "--out", str(tmp_path / "r")])
    assert seen[-1].distort is False and seen[-1].lr_schedule == "cosine"
    with pytest.raises(Stop):
        main(["train", "--out", str(tmp_path / "r")])
    assert (seen[-1].distort, seen[-1].lr_schedule, seen[-1].epochs, seen[-1].recipe) == (False, "constant", 10, "seed")
    assert seen[-1].label_smoothing == 0.0  # the article's recipe is untouched
    assert seen[-1].test_each_epoch is True  # ... and prints the test digits' score every epoch
    with pytest.raises(Stop):
        main(["train", "--no-test-each-epoch", "--out", str(tmp_path / "r")])
    assert seen[-1].test_each_epoch is False
    with pytest.raises(Stop):
        main(["train", "--recipe", "strong", "--test-each-epoch", "--out", str(tmp_path / "r")])
    assert seen[-1].test_each_epoch is True


def test_opencv_distortions_match_the_reference_warp() -> None:
    from lenet5.data import mnist
    from lenet5.data.distort import distort_batch

    digits = mnist.load(REPO / "data" / "mnist").train_images[:300]
    reference = distort_batch(digits, np.random.default_rng(7))
    fast = distort_batch(digits, np.random.default_rng(7), engine="opencv")
    assert np.abs(reference - fast).max() < 0.01  # grey levels 0..255
    assert np.abs(reference - digits).mean() > 5  # and they are really distorted


def test_visualdl_logs_what_the_run_measured(tmp_path: Path) -> None:
    """`--visualdl`: the dashboard's scalars are the run's own metrics, epoch by epoch, and
    each epoch has a panel of misread validation digits."""
    from PIL import Image
    from visualdl import LogReader

    train(tiny_config(epochs=2), tmp_path / "run", echo=quiet, progress=False, visualdl=True)
    records = list((tmp_path / "run" / "visualdl").glob("vdlrecords.*.log"))
    assert len(records) == 1
    reader = LogReader(file_path=str(records[0]))
    history = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    for split in ("train", "val", "test"):
        for metric in ("cost", "accuracy"):
            logged = [(r.id, r.value) for r in reader.get_data("scalar", f"{metric}/{split}")]
            assert [step for step, _ in logged] == [0, 1]
            assert np.allclose([v for _, v in logged], [row[f"{split}_{metric}"] for row in history], rtol=1e-6)
    assert [r.value for r in reader.get_data("scalar", "learning_rate")] == pytest.approx([1e-3, 1e-3])
    panels = reader.get_data("image", "misread validation digits")
    assert len(panels) == 2  # 2 epochs of a tiny model: some validation digits are misread each time
    import io

    panel = Image.open(io.BytesIO(panels[0].image.encoded_image_string))
    assert panel.width > 300 and panel.height > 100


@pytest.mark.parametrize(("every", "drawn_after"), [(0.0, [1, 2, 3]), (1e9, [1, 3])])
def test_curves_are_redrawn_at_most_every_so_often_and_after_the_last_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: float, drawn_after: list[int]
) -> None:
    drawn: list[int] = []
    real = loop.plot_curves
    monkeypatch.setattr(loop, "PLOT_EVERY", every)
    monkeypatch.setattr(loop, "plot_curves", lambda history, *rest: (drawn.append(len(history)), real(history, *rest)))
    out = tmp_path / "run"
    train(tiny_config(epochs=3, train_limit=500, val_size=200, test_limit=200), out, echo=quiet, progress=False)
    assert drawn == drawn_after and (out / "curves.png").is_file()
