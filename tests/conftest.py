"""Shared fixtures. Training fixtures use small slices of the real bundled MNIST."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("GLOG_minloglevel", "2")

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "data" / "mnist"

# Small but real: enough digits that a few epochs clearly beat chance, few enough to be quick.
TINY = {"train_limit": 2000, "val_size": 1000, "test_limit": 500, "epochs": 2, "batch_size": 64}


def tiny_config(**overrides: object):
    """Tiny training settings (lenet5.settings.TrainSettings); invalid ones raise UserError."""
    from lenet5.settings import validated

    return validated({**TINY, "data_dir": str(DATA_DIR), **overrides}, "")


def quiet(_message: str) -> None:
    pass


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny finished seed run, shared by the tests that only read it."""
    from lenet5.train.loop import train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    train(tiny_config(), out, echo=quiet, progress=False)
    return out


def default_ctrl_c() -> None:
    """For a child that is sent Ctrl-C: a shell starts background jobs (a `make test &`, a
    CI runner's) with SIGINT ignored, the ignoring is inherited, and the command would
    then run to its end; the test stands for a terminal's foreground job."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(*args: str, new_session: bool = False, preexec_fn: Any = None) -> subprocess.Popen[str]:
    """Start `python -m lenet5 ...` in the background, stdout and stderr piped
    (`new_session`: in its own process group, as a terminal's job is, so that Ctrl-C can be
    sent to all of it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "lenet5", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        start_new_session=new_session,
        preexec_fn=preexec_fn,
    )


def run_cli(
    *args: str, timeout: float = 300, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m lenet5 ...` in a subprocess, as a user would (`env`: variables to add)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "lenet5", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or REPO,
        env=env,
    )


def interrupt_then_resume(cfg, out: Path, stop_epoch: int, monkeypatch: pytest.MonkeyPatch) -> tuple[int, dict]:
    """Train `cfg` into `out` with a Ctrl-C during epoch `stop_epoch`, then `--resume` it.

    Returns (epochs completed before the interrupt, summary of the resumed run)."""
    from lenet5.errors import TrainingInterrupted
    from lenet5.store.run_dir import RunDir
    from lenet5.train import loop

    real_pass = loop.run_pass

    def interrupted(session, epoch):
        if epoch == stop_epoch:
            raise KeyboardInterrupt
        return real_pass(session, epoch)

    monkeypatch.setattr(loop, "run_pass", interrupted)
    with pytest.raises(TrainingInterrupted) as info:
        loop.train(cfg, out, echo=quiet, progress=False)
    monkeypatch.setattr(loop, "run_pass", real_pass)
    resumed = loop.train(RunDir(out).read_settings(), out, resume=True, echo=quiet, progress=False)
    return info.value.completed_epochs, resumed


def rig_validation(monkeypatch: pytest.MonkeyPatch, rewrite) -> None:
    """Make the training loop's validation say what `rewrite(result, epoch)` returns; the
    test evaluation is left alone (the loop evaluates validation, then test, each epoch)."""
    from lenet5.train import loop

    real = loop.evaluate
    calls = {"n": 0}

    def rigged(model, loss_fn, inputs, labels, batch_size=1000, **options):
        result = real(model, loss_fn, inputs, labels, batch_size, **options)
        calls["n"] += 1
        is_val, epoch = calls["n"] % 2 == 1, (calls["n"] - 1) // 2
        return rewrite(result, epoch) if is_val else result

    monkeypatch.setattr(loop, "evaluate", rigged)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app: object) -> Iterator[str]:
    """A real uvicorn server for `app` on a free loopback port, configured as `lenet5 serve`
    configures it (its header timeout and connection cap); yields its base URL."""
    import uvicorn

    from lenet5.serve.protocol import server_config

    port = free_port()
    instance = uvicorn.Server(server_config(app, host="127.0.0.1", port=port))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not instance.started and time.time() < deadline:
        time.sleep(0.05)
    assert instance.started, "server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


def one_error_line(stderr: str) -> str:
    """The single `error: ...` line a bad input must produce, and nothing else."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def near_ties(scores, margin: float):
    """Rows whose two highest scores (probabilities or logits) are within `margin`: their
    argmax may go either way between two code paths that round differently."""
    import numpy as np

    top_two = np.sort(np.asarray(scores), axis=1)[:, -2:]
    return (top_two[:, 1] - top_two[:, 0]) < margin


def assert_same_decisions(a, b, margin: float) -> None:
    """Two code paths' scores for the same digits pick the same class on every row that is
    not a near tie in either (see near_ties), and near ties are rare."""
    import numpy as np

    ties = near_ties(a, margin) | near_ties(b, margin)
    assert ties.mean() < 0.01, f"{int(ties.sum())} near ties: the margin {margin} is too wide to test anything"
    differ = np.flatnonzero((np.argmax(a, axis=1) != np.argmax(b, axis=1)) & ~ties)
    assert differ.size == 0, f"rows {differ[:10].tolist()} decided differently"


def assert_accuracy_up_to_ties(accuracy: float, scores, labels, margin: float) -> None:
    """`accuracy` was measured by another code path (another CPU, runtime or batching) on the
    digits that `scores` scores here: equal to theirs, except that each near tie (see
    near_ties) may have gone either way there."""
    import numpy as np

    right = np.argmax(scores, axis=1) == np.asarray(labels)
    ties = near_ties(scores, margin)
    assert ties.mean() < 0.01, f"{int(ties.sum())} near ties: the margin {margin} is too wide to test anything"
    low, high = (right & ~ties).sum(), (right | ties).sum()
    assert low / len(right) - 1e-12 <= accuracy <= high / len(right) + 1e-12, (accuracy, low, high, len(right))


def evaluation(cost: float, accuracy: float, n: int):
    """An evaluation result that says `cost` and `accuracy` over `n` digits (for rigging)."""
    from lenet5.metrics import Evaluation

    return Evaluation(n=n, correct=round(accuracy * n), total_cost=cost * n)
