from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA_DIR, REPO, run_cli
from lenet5.data import mnist
from lenet5.data.idx import encode_idx
from lenet5.errors import UserError


def test_bundled_files_verify() -> None:
    data = mnist.load(DATA_DIR)
    assert data.train_images.shape == (60000, 28, 28) and data.train_images.dtype == np.uint8
    assert data.test_images.shape == (10000, 28, 28)
    assert np.bincount(data.train_labels).tolist()[:2] == [5923, 6742]  # MNIST's class sizes
    assert set(np.unique(data.test_labels)) == set(range(10))


def _copy_data(tmp_path: Path) -> Path:
    target = tmp_path / "mnist"
    shutil.copytree(DATA_DIR, target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


def test_tampered_content_fails_checksum(tmp_path: Path) -> None:
    data_dir = _copy_data(tmp_path)
    labels = data_dir / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # still a well-formed IDX file, just not MNIST
    labels.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(UserError, match=r"t10k-labels-idx1-ubyte\.gz: checksum mismatch"):
        mnist.load(data_dir)


def test_missing_files_without_download(tmp_path: Path) -> None:
    names = ", ".join(f.name for f in mnist.FILES.values())
    with pytest.raises(UserError) as caught:
        mnist.load(tmp_path / "absent")
    assert str(caught.value) == (
        f"{tmp_path / 'absent'}: data directory (does not exist) lacks {names}; pass --download to fetch MNIST"
    )
    (tmp_path / "partial").mkdir()
    shutil.copy(DATA_DIR / mnist.FILES["train_images"].name, tmp_path / "partial")
    with pytest.raises(UserError) as caught:
        mnist.load(tmp_path / "partial")
    rest = ", ".join(f.name for key, f in mnist.FILES.items() if key != "train_images")
    assert str(caught.value) == f"{tmp_path / 'partial'}: data directory lacks {rest}; pass --download to fetch MNIST"


def test_load_without_a_folder_reads_the_default_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENET5_DATA", str(DATA_DIR))
    data = mnist.load()
    assert data.train_images.shape == (60000, 28, 28) and data.test_labels.shape == (10000,)
    assert data.train_images.dtype == np.uint8 and data.train_labels.dtype == np.int64
    assert data.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # MNIST's first test labels


@pytest.mark.parametrize(
    ("array", "is_images", "found"),
    [
        (np.zeros((3, 28, 27), np.uint8), True, "found (3, 28, 27) uint8"),
        (np.zeros((3, 28, 28), np.int32), True, "decompresses to more than the 2,368 bytes expected"),
        (np.zeros(3, np.float32), False, "decompresses to more than the 11 bytes expected"),
        (np.zeros(4, np.uint8), False, "decompresses to more than the 11 bytes expected"),
    ],
)
def test_a_file_of_the_wrong_shape_or_type_is_refused(
    array: np.ndarray, is_images: bool, found: str, tmp_path: Path
) -> None:
    """The checksum pins MNIST's own files; this guards a wrong entry in the table of files."""
    import hashlib

    raw = encode_idx(array)
    path = tmp_path / "x-idx.gz"
    path.write_bytes(gzip.compress(raw))
    spec = mnist.MnistFile(path.name, 3, hashlib.md5(raw).hexdigest(), is_images)
    with pytest.raises(UserError) as caught:
        mnist._load_checked(path, spec)
    # Larger than the table's count allows: refused by the size, before anything is parsed.
    assert str(caught.value).startswith(f"{path}: ") and str(caught.value).endswith(found)


def test_a_gzip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    """2 GiB of zeros in a 2 MB gzip, where the labels file should be: refused within the
    bytes MNIST's file holds (a few KB decompressed), in a fraction of a second."""
    import time
    import zlib

    compress = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(16 * 1024 * 1024)
    bomb = b"".join(compress.compress(block) for _ in range(128)) + compress.flush()
    assert len(bomb) < 3_000_000
    folder = tmp_path / "mnist"
    folder.mkdir()
    for spec in mnist.FILES.values():
        (folder / spec.name).write_bytes(bomb)
    started = time.perf_counter()
    rows = mnist.verify(folder)
    assert time.perf_counter() - started < 2.0
    refusals = ("decompresses to more than", "larger than the")  # unpacked, or already too big packed
    assert all(not row["ok"] and any(r in row["detail"] for r in refusals) for row in rows), rows


def test_verify_reports_each_file(tmp_path: Path) -> None:
    data_dir = _copy_data(tmp_path)
    (data_dir / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(encode_idx(np.zeros(5, np.uint8))))
    rows = {Path(str(r["file"])).name: r for r in mnist.verify(data_dir)}
    assert rows["train-labels-idx1-ubyte.gz"]["ok"] is False
    assert "checksum mismatch" in str(rows["train-labels-idx1-ubyte.gz"]["detail"])
    assert all(rows[name]["ok"] for name in rows if name != "train-labels-idx1-ubyte.gz")


def test_cli_verify_corrupt_file_one_line_error(tmp_path: Path) -> None:
    data_dir = _copy_data(tmp_path)
    (data_dir / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    result = run_cli("data", "verify", "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "t10k-images-idx3-ubyte.gz" in errors[0]


def test_data_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LENET5_DATA", str(tmp_path))
    assert mnist.default_data_dir() == tmp_path
    monkeypatch.delenv("LENET5_DATA")
    assert mnist.default_data_dir() == DATA_DIR


# MNIST's four files, in the order verify() reports them (file names from LeCun's page).
FILE_NAMES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def test_default_data_dir_prefers_the_environment_then_the_shipped_copy_then_a_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LENET5_DATA", raising=False)
    assert mnist.default_data_dir() == REPO / "data" / "mnist"
    monkeypatch.setattr(mnist, "_REPO_DATA", tmp_path / "not-shipped")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist.default_data_dir() == tmp_path / "home" / ".cache" / "lenet5" / "mnist"
    monkeypatch.setenv("LENET5_DATA", str(tmp_path / "mine"))
    assert mnist.default_data_dir() == tmp_path / "mine"


def test_mirrors_from_the_environment_skip_empty_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LENET5_MNIST_MIRRORS", raising=False)
    assert mnist.mirrors() == mnist.MIRRORS
    monkeypatch.setenv("LENET5_MNIST_MIRRORS", "http://a.example/,,http://b.example/")
    assert mnist.mirrors() == ("http://a.example/", "http://b.example/")


def test_verify_without_a_folder_checks_the_default_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENET5_DATA", str(DATA_DIR))
    rows = mnist.verify()
    assert [row["file"] for row in rows] == [str(DATA_DIR / name) for name in FILE_NAMES]
    assert all(row["ok"] for row in rows)
    assert [row["detail"] for row in rows] == [f"md5 {spec.md5}" for spec in mnist.FILES.values()]
