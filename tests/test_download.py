"""The download path, against a real HTTP server on 127.0.0.1 serving the bundled files."""

from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import DATA_DIR
from lenet5.data import download, mnist
from lenet5.errors import UserError


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[callable]:
    """Start a loopback server over a folder; yields a function folder -> base URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download.time, "sleep", lambda _s: None)


def test_downloads_and_verifies_all_files(serve: callable, tmp_path: Path) -> None:
    target = tmp_path / "fresh"
    target.mkdir()
    written = mnist.download_missing(target, (serve(DATA_DIR),))
    assert sorted(p.name for p in written) == sorted(f.name for f in mnist.FILES.values())
    assert all(row["ok"] for row in mnist.verify(target))
    assert not [p for p in target.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_corrupt_mirror_is_rejected_and_nothing_written(serve: callable, tmp_path: Path) -> None:
    bad = tmp_path / "bad-mirror"
    shutil.copytree(DATA_DIR, bad)
    labels = bad / "t10k-labels-idx1-ubyte.gz"
    labels.chmod(0o644)
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[-1] ^= 1
    labels.write_bytes(gzip.compress(bytes(raw)))
    target = tmp_path / "fresh"
    target.mkdir()
    with pytest.raises(UserError, match=r"t10k-labels-idx1-ubyte\.gz: download failed.*checksum"):
        mnist.download_missing(target, (serve(bad),))
    assert not (target / "t10k-labels-idx1-ubyte.gz").exists()
    assert not [p for p in target.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_truncated_download_is_rejected(serve: callable, tmp_path: Path) -> None:
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    (bad / "t10k-labels-idx1-ubyte.gz").write_bytes((DATA_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()[:-100])
    with pytest.raises(UserError, match="not a complete gzip"):
        download.fetch(
            "t10k-labels-idx1-ubyte.gz",
            (serve(bad),),
            lambda raw: mnist._validate_download(raw, mnist.FILES["test_labels"]),
        )


def test_falls_back_to_next_mirror(serve: callable, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    target = tmp_path / "fresh"
    target.mkdir()
    mnist.download_missing(target, (serve(empty), serve(DATA_DIR)))
    assert all(row["ok"] for row in mnist.verify(target))


def test_retries_then_fails_with_one_message(serve: callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = download._get

    def counting(url: str, timeout: float) -> bytes:
        calls.append(url)
        return original(url, timeout)

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(download, "_get", counting)
    with pytest.raises(UserError, match="download failed from every mirror"):
        download.fetch("x.gz", (serve(empty),), lambda raw: None, attempts=3)
    assert len(calls) == 3


def test_train_download_flag_fetches_missing(serve: callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENET5_MNIST_MIRRORS", serve(DATA_DIR))
    target = tmp_path / "cache"
    data = mnist.load(target, allow_download=True)
    assert data.train_images.shape == (60000, 28, 28)


def test_only_the_missing_files_are_downloaded(serve: callable, tmp_path: Path) -> None:
    """A folder holding the first file already: the other three are fetched, the first is left alone."""
    target = tmp_path / "partial"
    target.mkdir()
    first = target / "train-images-idx3-ubyte.gz"
    shutil.copy(DATA_DIR / first.name, first)
    before = first.stat().st_mtime_ns
    written = mnist.download_missing(target, (serve(DATA_DIR),))
    assert sorted(p.name for p in written) == sorted(
        ["train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    )
    assert first.stat().st_mtime_ns == before
    assert all(row["ok"] for row in mnist.verify(target))
