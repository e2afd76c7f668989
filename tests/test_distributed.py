"""Data-parallel training (lenet5.train.distributed, launcher): two gloo workers on this CPU.

Each behaviour of the issue is checked on real processes: the shard arithmetic, equivalence
with one process, one run directory, determinism, a killed worker, resume with the same or
another process count, the SDLM refusal, and the launcher used directly (one node and two).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA_DIR, REPO, default_ctrl_c, run_cli, start_cli
from lenet5.models import network_for
from lenet5.train import distributed
from lenet5.train.distributed import World

TIMING = ("train_seconds", "eval_seconds", "images_per_second")
# Seed network, 3,000 digits, 4 epochs: about a second an epoch on two workers.
SMALL = ["--train-limit", "3000", "--val-size", "500", "--test-limit", "500", "--epochs", "4"]
COMMON = ["--data-dir", str(DATA_DIR), "--no-progress"]


def _rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def _summary(run: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    return {k: v for k, v in summary.items() if k not in (*TIMING, "wall_seconds", "run_dir")}


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files if k.startswith(("model/", "optim/"))}


# --- the arithmetic ---------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 300), size=st.integers(1, 8))
def test_shards_cover_every_item_once(n: int, size: int) -> None:
    bounds = [World(rank=r, size=size).shard(n) for r in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1


@settings(max_examples=200, deadline=None)
@given(losses=st.lists(st.floats(0, 10), min_size=1, max_size=40), size=st.integers(2, 6))
def test_scaled_shares_average_to_the_global_mean(losses: list[float], size: int) -> None:
    """What DataParallel computes, the mean over workers of their scaled sums, is the one-process mean."""
    x = np.arange(len(losses))
    y = np.asarray(losses)
    contributions = []
    for rank in range(size):
        _, mine, scale = distributed.my_share(World(rank=rank, size=size), x, y)
        contributions.append(0.0 if scale == 0.0 else mine.sum() * scale)
    assert np.mean(contributions) == pytest.approx(y.mean(), rel=1e-12, abs=1e-12)


def test_one_process_keeps_the_plain_mean() -> None:
    x, y = np.arange(5), np.arange(5)
    assert distributed.my_share(distributed.SINGLE, x, y)[2] is None


def test_lost_worker_names_the_peer() -> None:
    message = "[/paddle/third_party/gloo/gloo/transport/tcp/pair.cc:584] TIMEOUT self_rank = 0 pair_rank = 1"
    assert "worker rank 1" in distributed.lost_worker(RuntimeError(message))
    assert distributed.lost_worker(RuntimeError("shape mismatch")) is None


# --- refusals -----------------------------------------------------------------------------


def test_sdlm_refuses_several_processes_in_one_line() -> None:
    result = run_cli("train", "--model", "lenet5", "--nproc", "2", "--out", "unused-run", *COMMON, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SDLM" in lines[0] and "one process" in lines[0], result.stderr
    assert not (REPO / "unused-run").exists()


def test_sdlm_refuses_under_a_launcher_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import tiny_config
    from lenet5.errors import UserError
    from lenet5.train.loop import train

    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "2")
    monkeypatch.setenv("PADDLE_TRAINER_ID", "0")
    with pytest.raises(UserError, match="SDLM"):
        train(tiny_config(model="lenet5", optimizer="sdlm", loss="map"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


# --- real workers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_worker_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dp") / "two"
    result = run_cli("train", "--nproc", "2", *SMALL, *COMMON, "--out", str(out), timeout=300)
    assert result.returncode == 0, result.stderr
    return out


def test_one_run_directory_written_by_rank_zero(two_worker_run: Path) -> None:
    names = sorted(p.name for p in two_worker_run.iterdir())
    assert names == ["checkpoints", "config.json", "curves.png", "metrics.jsonl", "model", "summary.json"]
    config = json.loads((two_worker_run / "config.json").read_text())
    assert config["distributed"] == {"processes": 2, "nnodes": 1, "backend": "gloo"}
    rows = _rows(two_worker_run)
    assert [row["processes"] for row in rows] == [2, 2, 2, 2]
    assert rows[-1]["val_accuracy"] > 0.85  # it learned


def test_evaluation_counts_every_digit_once(two_worker_run: Path) -> None:
    """Sharded evaluation of the kept epoch equals one process scoring the kept checkpoint
    on the whole validation split: no digit lost or counted twice, and batch-norm statistics
    are the ones every worker shares (averaged), not just rank 0's."""
    from lenet5.data import mnist
    from lenet5.data.normalize import NORMALIZATIONS
    from lenet5.data.splits import make_splits
    from lenet5.models import get_spec
    from lenet5.store import checkpoint
    from lenet5.store.run_dir import RunDir
    from lenet5.train.evaluation import evaluate
    from lenet5.train.losses import get_loss

    cfg = RunDir(two_worker_run).read_settings()
    model = network_for(cfg)
    checkpoint.load(two_worker_run / "checkpoints" / "best.npz", model, schema=checkpoint.BestMeta)
    splits = make_splits(mnist.load(str(DATA_DIR)), cfg.val_size, cfg.train_limit, cfg.test_limit)
    normalize = NORMALIZATIONS[get_spec(cfg.model).normalization]
    summary = json.loads((two_worker_run / "summary.json").read_text())
    for split, key in ((splits.val, "val"), (splits.test, "test")):
        alone = evaluate(model, get_loss(cfg.loss), normalize(split.images), split.labels)
        assert round(alone.accuracy * len(split.labels)) == round(summary[f"{key}_accuracy"] * len(split.labels))
        # One batch of 500 here, two shards of 250 there: the GEMMs block the rows differently
        # and the sums add up in another order. Measured over seven code paths (kernels on and
        # off, MKL's and oneDNN's instruction sets, thread counts): at most 1.7e-7 relative.
        # A digit lost or counted twice moves the cost by about 1e-3.
        assert alone.cost == pytest.approx(summary[f"{key}_cost"], rel=1e-5)


def _start(*args: str, new_session: bool = False) -> subprocess.Popen[str]:
    """`lenet5 train ARGS` in the background (`new_session`: its own process group, as a
    terminal's foreground job is, so Ctrl-C can be sent to all of it)."""
    return start_cli("train", *args, *COMMON, new_session=new_session, preexec_fn=default_ctrl_c)


def _wait_for_first_epoch(parent: subprocess.Popen[str], out: Path) -> None:
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while not (metrics.exists() and metrics.read_text().strip()):
        assert parent.poll() is None, parent.stderr.read()
        assert time.monotonic() < deadline, "no epoch completed within 240 s"
        time.sleep(0.05)


def _workers(parent: int) -> list[int]:
    """The spawned workers of `parent`, oldest first (spawn starts rank 0 first)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"spawn_main" in cmdline:
                found.append(int(entry.name))
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False


def test_a_killed_worker_stops_the_run_in_one_line_and_it_resumes(two_worker_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    parent = _start("--nproc", "2", *SMALL, "--out", str(out))
    _wait_for_first_epoch(parent, out)
    workers = _workers(parent.pid)
    assert len(workers) == 2
    os.kill(workers[1], 9)
    killed_at = time.monotonic()
    _, stderr = parent.communicate(timeout=60)
    assert time.monotonic() - killed_at < 15, "the others did not stop within seconds"
    assert parent.returncode == 1
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "worker rank 1" in lines[0] and "SIGKILL" in lines[0], stderr
    assert f"--resume {out}" in lines[0]
    assert not any(_alive(pid) for pid in workers)
    completed = len(_rows(out))
    assert 1 <= completed < 4

    # Another process count: it continues, and says so.
    other = tmp_path / "other-count"
    shutil.copytree(out, other)
    result = run_cli("train", "--resume", str(other), "--no-progress", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "with 1 process(es); it ran with 2 before" in result.stdout
    assert [row["processes"] for row in _rows(other)] == [2] * completed + [1] * (4 - completed)

    # The same count: the finished run is the uninterrupted one, to the last bit.
    result = run_cli("train", "--resume", str(out), "--nproc", "2", "--no-progress", timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"after epoch {completed - 1} with 2 processes" in result.stdout
    assert _rows(out) == _rows(two_worker_run)
    assert _summary(out) == _summary(two_worker_run)


def test_ctrl_c_stops_every_worker_and_says_how_to_resume(tmp_path: Path) -> None:
    """Ctrl-C in a terminal interrupts the whole foreground group: the parent stops the
    workers itself (no gloo abort from a worker left waiting) and prints one line."""
    out = tmp_path / "interrupted"
    # 40 epochs, so the run cannot finish between its first epoch and the Ctrl-C on a busy machine.
    parent = _start("--nproc", "2", *SMALL, "--epochs", "40", "--out", str(out), new_session=True)
    _wait_for_first_epoch(parent, out)
    workers = _workers(parent.pid)
    os.killpg(parent.pid, signal.SIGINT)
    stdout, stderr = parent.communicate(timeout=60)
    assert parent.returncode == 130
    assert stderr.strip().splitlines() == [
        f"Interrupted. {len(_rows(out))} completed epoch(s) are saved; continue with: "
        f"lenet5 train --resume {out} --nproc 2"
    ]
    assert "Aborted" not in stdout and "Traceback" not in stdout
    assert not any(_alive(pid) for pid in workers)


def test_same_seed_and_count_give_identical_metrics(two_worker_run: Path, tmp_path: Path) -> None:
    """Two separate two-worker runs: identical metrics, checkpoints and kept epoch."""
    again = tmp_path / "again"
    result = run_cli("train", "--nproc", "2", *SMALL, *COMMON, "--out", str(again), "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["run_dir"] == str(again)  # --json: rank 0's summary, once
    assert _rows(again) == _rows(two_worker_run)
    first, second = _arrays(two_worker_run / "checkpoints" / "last.npz"), _arrays(again / "checkpoints" / "last.npz")
    assert first.keys() == second.keys() and all(np.array_equal(first[k], second[k]) for k in first)


# --- equivalence, and the launcher used directly -------------------------------------------

# LeNet-5 (no batch-norm) with Adam: two workers and one process must take the same steps.
# 631 digits in batches of 63: shards of 32 and 31, and a last batch of one digit, which
# leaves rank 1 nothing (the stand-in path). The paper's MAP criterion, not cross-entropy:
# cross-entropy on LeNet-5's RBF penalties magnifies float rounding so much that two
# single-process runs differing only in the convolution's summation order (LENET5_KERNELS=0
# or not) end 7e-3 apart after these 20 steps; with MAP they agree to 1e-6.
EQUIVALENT = [
    "--model", "lenet5", "--optimizer", "adam", "--lr", "1e-3", "--loss", "map",
    "--batch-size", "63", "--train-limit", "631", "--val-size", "300", "--test-limit", "300", "--epochs", "2",
]  # fmt: skip


def _launch_cmd(launcher_args: list[str], train_args: list[str], log_dir: Path) -> list[str]:
    lenet5_script = Path(sys.executable).with_name("lenet5")
    return [
        sys.executable, "-m", "paddle.distributed.launch", "--log_dir", str(log_dir), *launcher_args,
        str(lenet5_script), "train", *train_args,
    ]  # fmt: skip


def _run(cmd: list[str], **extra_env: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **extra_env}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, env=env)


def test_launcher_workers_match_one_process(tmp_path: Path) -> None:
    """`python -m paddle.distributed.launch --nproc_per_node 2 $(which lenet5) train ...`
    gives the parameters and optimizer state of one process with the same global batch."""
    one, two = tmp_path / "one", tmp_path / "two"
    # One kernel thread, as each of the two launched workers has (lenet5.train.distributed.join):
    # the kernels' weight gradients are summed per thread, so the thread count is part of the path.
    result = run_cli("train", *EQUIVALENT, *COMMON, "--out", str(one), timeout=300, env={"LENET5_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    launched = _run(_launch_cmd(["--nproc_per_node", "2"], [*EQUIVALENT, *COMMON, "--out", str(two)], tmp_path / "log"))
    output, _ = launched.communicate(timeout=300)
    assert launched.returncode == 0, output[-3000:]
    assert json.loads((two / "config.json").read_text())["distributed"]["processes"] == 2
    single, parallel = _arrays(one / "checkpoints" / "last.npz"), _arrays(two / "checkpoints" / "last.npz")
    assert single.keys() == parallel.keys() and any(k.startswith("optim/") for k in single)
    for key in single:
        # Not bit for bit: each worker sums the gradients of its own 32 or 31 digits and the
        # all-reduce adds the two sums, where one process sums 63 at once. Measured, relative
        # to each array's largest entry, over seven code paths (kernels on and off, MKL's and
        # oneDNN's instruction sets, 1 or 2 threads): at most 9.2e-6, in the Adam moments of
        # the biases (sums with much cancellation). Hence 1e-4. A worker's share scaled wrongly
        # or a stand-in digit that counts moves these arrays by 1e-2 or more.
        scale = float(np.abs(single[key]).max())
        np.testing.assert_allclose(parallel[key], single[key], rtol=1e-4, atol=1e-4 * scale + 1e-8, err_msg=key)
    # and the steps were not all zero: the weights moved away from their initial values
    assert not np.allclose(single["model/c1.weight"], _initial_c1())


def _initial_c1() -> np.ndarray:
    from lenet5.models import create_model
    from lenet5.runtime import import_paddle

    import_paddle().seed(0)
    return create_model("lenet5", init="paper").c1.weight.numpy()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_nodes_on_loopback_match_two_local_workers(two_worker_run: Path, tmp_path: Path) -> None:
    """Two launchers, one process each, meeting at --master on 127.0.0.1 (--nnodes 2): the
    same run as two workers on one node."""
    out = tmp_path / "nodes"
    master = f"127.0.0.1:{_free_port()}"
    nodes = [
        _run(
            _launch_cmd(
                ["--master", master, "--nnodes", "2", "--nproc_per_node", "1", "--rank", str(rank)],
                [*SMALL, *COMMON, "--out", str(out)],
                tmp_path / f"log{rank}",
            ),
            # Each node has one local worker, whose kernels would take both cores; spawn's two
            # workers take one each. The thread count decides how the kernels' weight gradients
            # are summed, so it is set to one here: the same code path, compared exactly.
            LENET5_THREADS="1",
        )
        for rank in (0, 1)
    ]
    for node in nodes:
        output, _ = node.communicate(timeout=300)
        assert node.returncode == 0, output[-3000:]
    assert json.loads((out / "config.json").read_text())["distributed"] == {
        "processes": 2,
        "nnodes": 2,
        "backend": "gloo",
    }
    assert _rows(out) == _rows(two_worker_run)
