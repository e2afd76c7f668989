"""The IDX file format of MNIST: a big-endian header, then the raw array.

Layout: two zero bytes, one type byte, one byte with the number of dimensions, then one
big-endian uint32 per dimension, then the data in C order. `.gz` files are handled
transparently. Every way a file can be wrong is a `UserError` naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lenet5 import atomic
from lenet5.errors import UserError, file_errors

MAX_RAW_BYTES = 256 * 1024 * 1024  # no IDX file we read is near this

# Type byte -> numpy dtype (big-endian where it matters), from the IDX specification.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder(">") if dtype.itemsize > 1 else dtype: code for code, dtype in IDX_DTYPES.items()}


@dataclass(frozen=True)
class IdxFile:
    array: np.ndarray
    md5: str  # of the decompressed bytes: the same for every faithful copy, gzip or not


def decode_idx(raw: bytes, name: str) -> np.ndarray:
    """Parse IDX bytes (already decompressed); `name` is only used in error messages."""
    if len(raw) < 4:
        raise UserError(f"{name}: too short for an IDX header ({len(raw)} bytes)")
    zero, type_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or type_code not in IDX_DTYPES:
        raise UserError(f"{name}: bad magic number 0x{raw[:4].hex()} (not an IDX file)")
    if ndim == 0:
        raise UserError(f"{name}: IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise UserError(f"{name}: truncated IDX header ({len(raw)} bytes, need {header_len})")
    shape = struct.unpack(f">{ndim}I", raw[4:header_len])
    dtype = IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header_len
    if actual < expected:
        raise UserError(f"{name}: truncated: header says {shape} ({expected} data bytes), file has {actual}")
    if actual > expected:
        raise UserError(f"{name}: {actual - expected} unexpected trailing bytes after {shape} data")
    array = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header_len)
    return array.reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def encode_idx(array: np.ndarray) -> bytes:
    """Serialise an array as IDX bytes (uncompressed)."""
    native = np.dtype(array.dtype)
    key = native.newbyteorder(">") if native.itemsize > 1 else native
    if key not in _CODES:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError("IDX stores arrays of 1 to 255 dimensions")
    header = struct.pack(">HBB", 0, _CODES[key], array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=key).tobytes()


def read_raw(path: Path, max_bytes: int = MAX_RAW_BYTES) -> bytes:
    """The file's bytes, gunzipped if the name ends in .gz; at most `max_bytes` either way,
    checked as it is read and decompressed (a small gzip of zeros can unpack to gigabytes)."""
    with file_errors(path):
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise UserError(f"{path}: is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise UserError(f"{path}: not a regular file (a FIFO, a device or a socket)")
        stored = max_bytes + max_bytes // 100 + 4096  # gzip can add a little to data that does not compress
        if info.st_size > stored:
            raise UserError(f"{path}: {info.st_size:,} bytes, larger than the {max_bytes:,} expected")
        with open(path, "rb") as handle:
            data = handle.read(stored + 1)
    if path.suffix != ".gz":
        return data
    try:
        unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)  # a gzip member
        raw = unzip.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise UserError(f"{path}: not a valid gzip file ({exc})") from None
    if len(raw) > max_bytes:
        raise UserError(f"{path}: decompresses to more than the {max_bytes:,} bytes expected")
    if not unzip.eof:
        raise UserError(f"{path}: truncated gzip stream")
    return raw


def read_idx(path: str | Path, expected_md5: str | None = None, max_bytes: int = MAX_RAW_BYTES) -> IdxFile:
    """Read and validate an IDX file; with `expected_md5`, also check the decompressed bytes.
    `max_bytes`: the most it may hold, decompressed (MNIST's sizes are known exactly)."""
    path = Path(path)
    raw = read_raw(path, max_bytes)
    md5 = hashlib.md5(raw).hexdigest()
    if expected_md5 is not None and md5 != expected_md5:
        raise UserError(f"{path}: checksum mismatch (md5 of contents {md5}, expected {expected_md5})")
    return IdxFile(decode_idx(raw, str(path)), md5)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write an IDX file atomically, gzip-compressed if the name ends in .gz."""
    path = Path(path)
    raw = encode_idx(array)
    if path.suffix == ".gz":
        raw = gzip.compress(raw, mtime=0)
    atomic.write_bytes(path, raw)
