"""The data layer's contracts, each pinned by a mutant that once survived the suite
(`make mutation`, docs/results.md): IDX edge cases and messages, the splits' bounds, both
batch orders, single-image normalisation."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA_DIR
from lenet5.data import idx, mnist
from lenet5.data.batches import batches
from lenet5.data.normalize import NORMALIZATIONS
from lenet5.data.splits import make_splits
from lenet5.errors import UserError


def test_decoded_arrays_are_writable_copies() -> None:
    """Not read-only views of the file's bytes: callers may edit them in place."""
    raw = idx.encode_idx(np.arange(12, dtype=np.uint8).reshape(3, 4))
    array = idx.decode_idx(raw, "x")
    assert array.flags.writeable and array.flags.owndata
    array[0, 0] = 99  # would raise on a read-only view


def test_an_empty_array_round_trips() -> None:
    raw = idx.encode_idx(np.zeros((0,), dtype=np.uint8))
    assert len(raw) == 8  # header only
    assert idx.decode_idx(raw, "empty").shape == (0,)


def test_idx_messages_name_the_problem_exactly() -> None:
    with pytest.raises(UserError, match=r"^f: bad magic number 0x01020304 \(not an IDX file\)$"):
        idx.decode_idx(bytes([1, 2, 3, 4, 0, 0, 0, 0]), "f")
    raw = idx.encode_idx(np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(UserError, match=r"^f: 3 unexpected trailing bytes after \(2, 2\) data$"):
        idx.decode_idx(raw + b"abc", "f")
    with pytest.raises(ValueError, match=r"^IDX cannot store dtype complex128$"):
        idx.encode_idx(np.zeros(2, dtype=np.complex128))
    with pytest.raises(ValueError, match=r"^IDX stores arrays of 1 to 255 dimensions$"):
        idx.encode_idx(np.array(5, dtype=np.uint8))  # a 0-d array


def test_read_idx_reports_the_md5_and_names_the_file(tmp_path: Path) -> None:
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    idx.write_idx(tmp_path / "a.idx", array)
    read = idx.read_idx(tmp_path / "a.idx")
    assert read.md5 == hashlib.md5(idx.encode_idx(array)).hexdigest()
    np.testing.assert_array_equal(read.array, array)
    (tmp_path / "bad.idx").write_bytes(b"\0\0\x08\x01\0\0\0\x05ab")
    with pytest.raises(UserError, match=rf"^{tmp_path / 'bad.idx'}: truncated"):
        idx.read_idx(tmp_path / "bad.idx")
    with pytest.raises(UserError, match=rf"^{tmp_path / 'missing.idx'}: "):
        idx.read_idx(tmp_path / "missing.idx")


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    """The same array gives the same .gz bytes, whenever written (no timestamp inside)."""
    array = np.arange(100, dtype=np.uint8)
    idx.write_idx(tmp_path / "a.idx.gz", array)
    first = (tmp_path / "a.idx.gz").read_bytes()
    assert first[4:8] == b"\0\0\0\0"  # the gzip header's modification time
    idx.write_idx(tmp_path / "b.idx.gz", array)
    assert (tmp_path / "b.idx.gz").read_bytes() == first
    assert gzip.decompress(first) == idx.encode_idx(array)


@pytest.fixture(scope="module")
def data() -> mnist.Mnist:
    return mnist.load(DATA_DIR)


def test_split_defaults_and_bounds(data: mnist.Mnist) -> None:
    splits = make_splits(data)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (55_000, 5_000, 10_000)
    np.testing.assert_array_equal(splits.test.images, data.test_images)
    np.testing.assert_array_equal(make_splits(data, test_limit=7).test.images, data.test_images[:7])
    assert len(make_splits(data, val_size=1).val) == 1  # one validation digit is allowed
    assert len(make_splits(data, val_size=59_999).train) == 1
    for bad in (0, 60_000):
        with pytest.raises(UserError, match=rf"^--val-size {bad}: must be between 1 and 59999$"):
            make_splits(data, val_size=bad)
    assert len(make_splits(data, train_limit=1).train) == 1
    with pytest.raises(UserError, match=r"^--train-limit 0: must be positive$"):
        make_splits(data, train_limit=0)
    assert len(make_splits(data, test_limit=1).test) == 1
    with pytest.raises(UserError, match=r"^--test-limit 0: must be positive$"):
        make_splits(data, test_limit=0)


@pytest.mark.parametrize("shuffled", [False, True])
def test_batches_cover_every_pair_once_in_both_orders(shuffled: bool) -> None:
    inputs = np.arange(10) * 10
    labels = np.arange(10)
    rng = np.random.default_rng(0) if shuffled else None
    got = list(batches(inputs, labels, 4, rng))
    assert [len(y) for _, y in got] == [4, 4, 2]
    for x, y in got:
        np.testing.assert_array_equal(x, y * 10)  # inputs stay paired with their labels
    seen = np.concatenate([y for _, y in got])
    assert sorted(seen) == list(range(10))
    assert (list(seen) != list(range(10))) == shuffled


def test_normalisations_are_described_by_their_constants() -> None:
    """What lenet5.json records (the paper: background -0.1, ink 1.175 in a 32x32 field)."""
    assert NORMALIZATIONS["paper"].to_dict() == {"name": "paper", "scale": 1.275, "offset": -0.1, "size": 32}
    assert NORMALIZATIONS["seed"].to_dict() == {"name": "seed", "scale": 2.0, "offset": -1.0, "size": 28}


def test_one_image_normalises_like_a_batch_of_one() -> None:
    digit = np.arange(28 * 28, dtype=np.uint16).reshape(28, 28) % 256
    digit = digit.astype(np.uint8)
    for name in ("seed", "paper"):
        norm = NORMALIZATIONS[name]
        np.testing.assert_array_equal(norm(digit), norm(digit[None]))
        assert norm(digit).shape == (1, 1, norm.size, norm.size)
