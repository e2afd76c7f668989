from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from lenet5.data.idx import decode_idx, encode_idx, read_idx, write_idx
from lenet5.errors import UserError


@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([0, 9, 3, 255], dtype=np.uint8),
        np.array([[-5, 7], [1 << 20, -(1 << 30)]], dtype=np.int32),
        np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2),
        np.array([-1, 2, -3], dtype=np.int16),
        np.array([1.5, -2.25], dtype=np.float64),
        np.array([-128, 0, 127], dtype=np.int8),
    ],
)
@pytest.mark.parametrize("suffix", [".idx", ".gz"])
def test_round_trip(tmp_path: Path, array: np.ndarray, suffix: str) -> None:
    path = tmp_path / f"a{suffix}"
    write_idx(path, array)
    back = read_idx(path).array
    assert back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)


def test_header_matches_mnist_layout() -> None:
    raw = encode_idx(np.zeros((5, 28, 28), dtype=np.uint8))
    assert raw[:4] == bytes([0, 0, 0x08, 3])
    assert struct.unpack(">3I", raw[4:16]) == (5, 28, 28)
    assert len(raw) == 16 + 5 * 28 * 28


def _valid() -> bytes:
    return encode_idx(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "too short"),
        (b"\x00\x00", "too short"),
        (b"\x12\x34\x08\x03" + _valid()[4:], "bad magic"),
        (b"\x00\x00\x42\x03" + _valid()[4:], "bad magic"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (_valid()[:10], "truncated IDX header"),
        (_valid()[:-1], "truncated"),
        (_valid()[:16], "truncated"),
        (_valid() + b"\x00\x00", "trailing bytes"),
    ],
)
def test_corruptions_are_named(raw: bytes, message: str) -> None:
    with pytest.raises(UserError, match=message) as info:
        decode_idx(raw, "some-file.idx")
    assert str(info.value).startswith("some-file.idx: ")


def test_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(_valid())[:-12])
    with pytest.raises(UserError, match=r"x\.gz: truncated gzip"):
        read_idx(path)


def test_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(UserError, match=r"x\.gz: not a valid gzip"):
        read_idx(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        read_idx(tmp_path / "nope.gz")
    with pytest.raises(UserError, match="is a directory"):
        read_idx(tmp_path)


def test_checksum_is_of_decompressed_bytes(tmp_path: Path) -> None:
    raw = _valid()
    fast, small = tmp_path / "fast.gz", tmp_path / "small.gz"
    fast.write_bytes(gzip.compress(raw, compresslevel=1))
    small.write_bytes(gzip.compress(raw, compresslevel=9, mtime=12345))
    assert fast.read_bytes() != small.read_bytes()
    assert read_idx(fast).md5 == read_idx(small).md5


def test_checksum_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    write_idx(path, np.zeros(3, dtype=np.uint8))
    with pytest.raises(UserError, match=r"x\.gz: checksum mismatch"):
        read_idx(path, expected_md5="0" * 32)


def test_header_bytes_are_unsigned() -> None:
    """A byte of 200 dimensions is 200, not -56: the file is then too short for its header."""
    raw = bytes([0, 0, 0x08, 200]) + bytes(16)
    with pytest.raises(UserError) as caught:
        decode_idx(raw, "odd.idx")
    assert str(caught.value) == "odd.idx: truncated IDX header (20 bytes, need 804)"
