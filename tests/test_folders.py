"""Folders on every core (#30): `predict` and `read` on worker processes give what the
one-process loop gives, in the same order, errors in place; Ctrl-C stops them cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import DATA_DIR, REPO, default_ctrl_c, start_cli
from lenet5.data import mnist
from lenet5.infer.backends import load_backend
from lenet5.infer.predict import predict_digit, predict_digits
from lenet5.infer.workers import CHUNK_FILES, Task, chunks, ordered_map


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return mnist.load(DATA_DIR).test_images[:64]


def _page(digit: np.ndarray) -> Image.Image:
    """A digit as a user's picture: dark on light, larger, off-centre."""
    page = Image.new("L", (200, 160), 255)
    page.paste(Image.fromarray(255 - digit).resize((84, 84), Image.Resampling.BICUBIC), (40, 30))
    return page


def _mixed_folder(folder: Path, digits: np.ndarray, good: int = 10) -> None:
    folder.mkdir()
    for i in range(good):
        _page(digits[i]).save(folder / f"d{i:02d}.png")
    (folder / "d03b_empty.png").write_bytes(b"")
    (folder / "d07b_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    Image.new("L", (60, 60), 255).save(folder / "d08b_blank.png")  # no digit on it


@pytest.mark.parametrize("backend", ["onnx", "paddle"])
def test_a_batched_model_call_gives_each_digit_what_one_call_does(backend: str, digits: np.ndarray) -> None:
    # The workers score a chunk of pictures in one call; that must never change an answer.
    runner = load_backend(None, backend)
    labels = [str(i) for i in range(len(digits))]
    one_by_one = [predict_digit(runner, d, label) for d, label in zip(digits, labels, strict=True)]
    assert predict_digits(runner, digits, labels) == one_by_one


def test_chunks_cover_every_file_in_order_and_keep_big_files_alone(tmp_path: Path) -> None:
    small = []
    for i in range(40):
        (tmp_path / f"{i}.png").write_bytes(b"x" * 100)
        small.append(tmp_path / f"{i}.png")
    big = tmp_path / "big.jpg"
    big.write_bytes(b"x" * (2 << 20))
    files = [*small[:5], big, *small[5:], tmp_path / "missing.png"]
    groups = chunks(files, workers=2)
    assert [i for group in groups for i in group] == list(range(len(files)))
    assert [5] in groups  # a phone photo goes alone
    assert max(len(g) for g in groups) == 11  # 42 files over 2 workers x 2 chunks: ceil(42 / 4)
    assert len(chunks(files[:3], workers=2)) == 3  # a few files: every worker gets some
    assert max(len(g) for g in chunks([small[0]] * 1000, workers=2)) == CHUNK_FILES


def _pid(_unused: object = None) -> int:
    return os.getpid()


def _slow_echo(pid: int, items: list[int]) -> list[tuple[int, int]]:
    time.sleep(0.02 * (8 - items[0] % 8))  # earlier chunks finish later
    return [(item, pid) for item in items]


def test_ordered_map_keeps_the_order_on_several_processes() -> None:
    items = list(range(24))
    results = list(ordered_map(Task(_pid, _slow_echo), items, [[i, i + 1] for i in range(0, 24, 2)], workers=2))
    assert [item for item, _ in results] == items
    pids = {pid for _, pid in results}
    assert len(pids) == 2 and os.getpid() not in pids


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "lenet5", *args], capture_output=True, text=True, timeout=300, cwd=REPO, env=env
    )


@pytest.mark.parametrize("command", ["predict", "read"])
def test_two_workers_print_what_one_does_in_order(command: str, tmp_path: Path, digits: np.ndarray) -> None:
    folder = tmp_path / "in"
    _mixed_folder(folder, digits)
    runs, saved = {}, {}
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        extra = ["--save-input", str(out)] if command == "predict" else ["--annotate", str(out)]
        runs[workers] = _cli(command, str(folder), "--json", "--workers", workers, *extra)
        saved[workers] = {p.name: p.read_bytes() for p in out.iterdir()}
    one, two = runs["1"], runs["2"]
    assert one.returncode == two.returncode == 1
    assert "Traceback" not in one.stderr + two.stderr
    assert two.stdout == one.stdout and two.stderr == one.stderr
    assert saved["2"] == saved["1"] and len(saved["1"]) >= 10
    files = [line.split('"file": "', 1)[1].split('"', 1)[0] for line in one.stdout.splitlines()]
    assert files == sorted(str(p) for p in folder.iterdir())  # every file, in the folder's order
    errors = [line for line in one.stderr.splitlines() if line.startswith("error: ")]
    assert any("d03b_empty.png: empty file" in line for line in errors)
    assert any("d07b_broken.png" in line for line in errors)


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory, digits: np.ndarray) -> Path:
    """A folder long enough to still be read when the test stops the command."""
    folder = tmp_path_factory.mktemp("many")
    for i in range(1000):
        Image.fromarray(255 - digits[i % len(digits)]).save(folder / f"{i:04d}.png")
    return folder


def _started(folder: Path) -> subprocess.Popen[str]:
    """`lenet5 predict FOLDER --workers 2` in its own process group (as a terminal's job:
    Ctrl-C reaches every process in it), once its first result is printed."""
    proc = start_cli("predict", str(folder), "--workers", "2", new_session=True, preexec_fn=default_ctrl_c)
    assert proc.stdout is not None
    proc.stdout.readline()
    return proc


def _group_ends(group: int, seconds: float = 20) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_stops_the_workers_cleanly(many: Path) -> None:
    proc = _started(many)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err
    assert len(out.splitlines()) < 999
    assert _group_ends(proc.pid), "a process of the command's group is still running"


def test_killing_the_command_ends_its_workers(many: Path) -> None:
    proc = _started(many)
    proc.kill()  # no clean-up in the main process at all: the workers must not wait forever
    proc.communicate(timeout=60)
    assert _group_ends(proc.pid), "a worker outlived the command"
