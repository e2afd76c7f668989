"""The four MNIST files: where they live, their canonical checksums, loading and downloading.

The checksums are of the *decompressed* IDX bytes, which every faithful copy shares
whatever gzip settings produced the `.gz` (see data/mnist/README.md).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lenet5 import atomic
from lenet5.data import download
from lenet5.data.idx import decode_idx, read_idx
from lenet5.errors import UserError


@dataclass(frozen=True)
class MnistFile:
    name: str
    count: int
    md5: str  # of the decompressed bytes
    is_images: bool

    @property
    def raw_bytes(self) -> int:
        """The decompressed file's exact size: header and data."""
        return 16 + self.count * 28 * 28 if self.is_images else 8 + self.count


FILES: dict[str, MnistFile] = {
    "train_images": MnistFile("train-images-idx3-ubyte.gz", 60000, "6bbc9ace898e44ae57da46a324031adb", True),
    "train_labels": MnistFile("train-labels-idx1-ubyte.gz", 60000, "a25bea736e30d166cdddb491f175f624", False),
    "test_images": MnistFile("t10k-images-idx3-ubyte.gz", 10000, "2646ac647ad5339dbf082846283269ea", True),
    "test_labels": MnistFile("t10k-labels-idx1-ubyte.gz", 10000, "27ae3e4e09519cfbb04c329615203637", False),
}

MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

_REPO_DATA = Path(__file__).resolve().parents[3] / "data" / "mnist"


def default_data_dir() -> Path:
    """`$LENET5_DATA`, else the copy shipped in the repository, else a per-user cache."""
    env = os.environ.get("LENET5_DATA")
    if env:
        return Path(env)
    if _REPO_DATA.is_dir():
        return _REPO_DATA
    return Path.home() / ".cache" / "lenet5" / "mnist"


def mirrors() -> tuple[str, ...]:
    env = os.environ.get("LENET5_MNIST_MIRRORS")
    return tuple(m for m in env.split(",") if m) if env else MIRRORS


@dataclass(frozen=True)
class Mnist:
    train_images: np.ndarray  # [60000, 28, 28] uint8, 0 = background
    train_labels: np.ndarray  # [60000] int64
    test_images: np.ndarray
    test_labels: np.ndarray


def missing_files(data_dir: Path, files: Mapping[str, MnistFile] | None = None) -> list[str]:
    return [f.name for f in (files or FILES).values() if not (data_dir / f.name).is_file()]


def load(data_dir: str | Path | None = None, allow_download: bool = False) -> Mnist:
    """Load and verify all four files; download the missing ones only if allowed."""
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    missing = missing_files(data_dir)
    if missing:
        if not allow_download:
            where = "data directory" if data_dir.is_dir() else "data directory (does not exist)"
            raise UserError(f"{data_dir}: {where} lacks {', '.join(missing)}; pass --download to fetch MNIST")
        download_missing(data_dir)
    return load_files(data_dir, FILES)


def load_files(data_dir: Path, files: Mapping[str, MnistFile]) -> Mnist:
    """The four IDX files of an MNIST-format dataset (`files`: their names, sizes and
    checksums), each verified: MNIST's own, or another in the same format (lenet5.data.fashion)."""
    arrays = {key: _load_checked(data_dir / f.name, f) for key, f in files.items()}
    return Mnist(**arrays)


def _load_checked(path: Path, spec: MnistFile) -> np.ndarray:
    array = read_idx(path, expected_md5=spec.md5, max_bytes=spec.raw_bytes).array
    # The checksum already pins the content; these guard a wrong table entry, not the file.
    expected_shape = (spec.count, 28, 28) if spec.is_images else (spec.count,)
    if array.shape != expected_shape or array.dtype != np.uint8:
        raise UserError(f"{path}: expected {expected_shape} uint8, found {array.shape} {array.dtype}")
    return array if spec.is_images else array.astype(np.int64)


def verify(data_dir: str | Path | None = None) -> list[dict[str, object]]:
    """Check every file; return one row per file (name, ok, detail) instead of raising."""
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    rows: list[dict[str, object]] = []
    for spec in FILES.values():
        path = data_dir / spec.name
        try:
            _load_checked(path, spec)
            rows.append({"file": str(path), "ok": True, "detail": f"md5 {spec.md5}"})
        except UserError as exc:
            rows.append({"file": str(path), "ok": False, "detail": str(exc)})
    return rows


def download_missing(data_dir: Path, base_urls: tuple[str, ...] | None = None) -> list[Path]:
    """Download each missing file, verify it in memory, then write it atomically."""
    base_urls = base_urls or mirrors()
    written: list[Path] = []
    for spec in FILES.values():
        target = data_dir / spec.name
        if target.is_file():
            continue
        data = download.fetch(spec.name, base_urls, lambda raw, s=spec: _validate_download(raw, s))
        atomic.write_bytes(target, data)
        written.append(target)
    return written


def _validate_download(data: bytes, spec: MnistFile) -> None:
    try:
        raw = gzip.decompress(data)
    except (EOFError, OSError) as exc:
        raise UserError(f"{spec.name}: downloaded copy is not a complete gzip file ({exc})") from None
    md5 = hashlib.md5(raw).hexdigest()
    if md5 != spec.md5:
        raise UserError(f"{spec.name}: downloaded copy fails its checksum (md5 {md5}, expected {spec.md5})")
    decode_idx(raw, spec.name)
