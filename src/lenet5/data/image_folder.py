"""Your own labelled pictures as a dataset: an image folder (`lenet5 train --data DIR`).

    DIR/train/0/*.png, DIR/train/1/*.jpg, ...   one folder per digit, any picture format
    DIR/val/<digit>/...                         optional: chooses the epoch kept
    DIR/test/<digit>/...                        optional: only reported

The folder becomes the same in-memory arrays as MNIST (`lenet5.data.mnist.Mnist`), so the
usual splits (`lenet5.data.splits.make_splits`), batches and training loop take it as it is:
the validation pictures are put after the training pictures and held out as MNIST's last
digits are. Without DIR/val a seeded tenth of DIR/train is held out; without DIR/test the
test scores are those of the validation pictures, which `FolderData.notes` says.

This module knows the layout and the rules (digit-named class folders, none empty, hidden
files and non-pictures passed over) but not how a picture becomes a 28x28 digit: that is
`lenet5 predict`'s own path (`lenet5.infer.photo.read_photo_digit`: the sheet, the writing,
the digit on it), three layers up. The data layer may not import it (docs/architecture.md),
and a copy here would drift from what `predict` does; so the caller (`lenet5.train.data`)
passes that function in as `read_digit`, and the training pictures are seen exactly as the
trained model will see pictures later.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lenet5.data.mnist import Mnist
from lenet5.errors import UserError

PARTS = ("train", "val", "test")
CLASSES = tuple(str(digit) for digit in range(10))
VAL_SHARE = 0.1  # of DIR/train held out for validation when there is no DIR/val


@dataclass(frozen=True)
class FolderPart:
    """One of DIR/train, DIR/val, DIR/test: its pictures' paths and labels, sorted."""

    root: Path
    files: list[Path]
    labels: list[int]
    passed_over: int  # files that are not pictures (a README, a .txt)


@dataclass(frozen=True)
class FolderData:
    """The folder as MNIST-like arrays, and what `make_splits` needs to cut it back."""

    data: Mnist  # train_* = the training pictures, then the validation pictures
    val_size: int  # the last val_size of data.train_* are the validation pictures
    counts: dict[str, int]  # pictures per part, after any hold-out
    test_is_val: bool  # no DIR/test: the test pictures are the validation pictures
    notes: list[str] = field(default_factory=list)  # what the user should know (hold-outs, test = val)


def scan_part(root: Path, suffixes: Collection[str]) -> FolderPart:
    """The pictures of one part, or a one-line UserError naming the folder or file at fault."""
    if not root.is_dir():
        raise UserError(f"{root}: not a folder")
    files: list[Path] = []
    labels: list[int] = []
    passed_over = 0
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    classes = [p for p in entries if p.is_dir()]
    for stray in entries:
        if not stray.is_dir() and stray.suffix.lower() in suffixes:
            raise UserError(f"{stray}: pictures go in a folder named after their digit ({root}/<digit>/)")
        passed_over += not stray.is_dir()
    if not classes:
        raise UserError(f"{root}: no class folders (expected {root}/0 ... {root}/9 holding pictures)")
    for folder in classes:
        if folder.name not in CLASSES:
            raise UserError(f"{folder}: class folders are named after their digit, 0 to 9")
        found = sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p, folder))
        pictures = [p for p in found if p.suffix.lower() in suffixes]
        passed_over += len(found) - len(pictures)
        if not pictures:
            raise UserError(f"{folder}: empty class folder (no {'/'.join(sorted(suffixes))} pictures)")
        files += pictures
        labels += [int(folder.name)] * len(pictures)
    return FolderPart(root, files, labels, passed_over)


def _hidden(path: Path, top: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(top).parts)


def read_part(part: FolderPart, read_digit: Callable[[Path], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, 28, 28] digits and int64 [N] labels; `read_digit` raises a UserError
    naming the picture when it cannot read one."""
    digits = np.zeros((len(part.files), 28, 28), dtype=np.uint8)
    for k, path in enumerate(part.files):
        try:
            digit = read_digit(path)
        except UserError as exc:
            raise UserError(f"{exc}; every picture of the folder must show one digit: fix or remove it") from None
        if digit.shape != (28, 28) or digit.dtype != np.uint8:  # the reader's contract, not the user's fault
            raise ValueError(f"{path}: read as {digit.shape} {digit.dtype}, expected (28, 28) uint8")
        digits[k] = digit
    return digits, np.asarray(part.labels, dtype=np.int64)


def load_folder(
    root: str | Path, read_digit: Callable[[Path], np.ndarray], suffixes: Collection[str], seed: int
) -> FolderData:
    """Read DIR/train (and DIR/val, DIR/test when present) into one MNIST-like dataset.
    The hold-out without DIR/val is drawn from `seed`, so a resumed run gets the same."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder of pictures")
    if not (root / "train").is_dir():
        raise UserError(f"{root}: no train folder (expected {root}/train/<digit>/ holding pictures)")
    parts = {name: scan_part(root / name, suffixes) for name in PARTS if name == "train" or (root / name).exists()}
    arrays = {name: read_part(part, read_digit) for name, part in parts.items()}
    notes = [
        f"{part.root}: passed over {part.passed_over} file(s) that are not pictures"
        for part in parts.values()
        if part.passed_over
    ]
    train_x, train_y = arrays["train"]
    if "val" in arrays:
        val_x, val_y = arrays["val"]
    else:
        train_x, train_y, val_x, val_y = _hold_out(train_x, train_y, seed, root)
        notes.append(f"{root}: no val folder; {len(val_y)} of the training pictures (seeded) choose the epoch kept")
    if "test" in arrays:
        test_x, test_y = arrays["test"]
    else:
        test_x, test_y = val_x, val_y
        notes.append(f"{root}: no test folder; the test scores are of the validation pictures, not an independent set")
    data = Mnist(np.concatenate([train_x, val_x]), np.concatenate([train_y, val_y]), test_x, test_y)
    counts = {"train": len(train_y), "val": len(val_y), "test": len(test_y)}
    return FolderData(data, len(val_y), counts, "test" not in arrays, notes)


def _hold_out(
    x: np.ndarray, y: np.ndarray, seed: int, root: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded tenth of the training pictures (at least one) for validation, the rest to train."""
    if len(y) < 2:
        raise UserError(f"{root}/train: {len(y)} picture; needs at least 2 to hold one out for validation")
    held = max(1, round(VAL_SHARE * len(y)))
    order = np.random.default_rng([seed, 29]).permutation(len(y))
    keep, out = np.sort(order[:-held]), np.sort(order[-held:])
    return x[keep], y[keep], x[out], y[out]
