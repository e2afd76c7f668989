"""Guards for every path a command writes to. The rule: a command only replaces what it made.

Each kind of artefact carries its own marker, so it can be recognised later:

- a model folder (`train`'s `model/`, `export --out`): `lenet5.json` with a `format` of
  `lenet5-model/...`, and only the files an export writes;
- a report folder: `lenet5-report.json` listing the files it wrote;
- a PNG we drew: a `Software: lenet5` text chunk;
- a CSV of predictions: our header line.

A path that holds anything else is refused with a one-line error before any work is done.
`--force` lets a command replace an earlier artefact of its own kind, never a run
directory, a user's file or a folder with a file in it that lenet5 did not write.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from lenet5.errors import UserError
from lenet5.store.model_folder import MODEL_FILES, is_model_folder
from lenet5.store.run_dir import is_run_dir

REPORT_MARKER = "lenet5-report.json"
REPORT_FORMAT = "lenet5-report/1"
PNG_SOFTWARE = "lenet5"  # the PNG text chunk `Software` of every picture we write
CSV_HEADER = "file,digit,probability,top_k"


def _report_files(folder: Path) -> set[str] | None:
    try:
        marker = json.loads((folder / REPORT_MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("format") != REPORT_FORMAT:
        return None
    files = marker.get("files")
    return {str(f) for f in files} | {REPORT_MARKER} if isinstance(files, list) else None


def _foreign(folder: Path, ours: Iterable[str]) -> list[str]:
    allowed = set(ours)
    return [p.name for p in sorted(folder.iterdir()) if p.name not in allowed or not p.is_file()]


def claim_folder(path: str | os.PathLike[str], kind: str, force: bool = False, flag: str = "--out") -> Path:
    """Check that a command may write the folder `path` (kind "model" or "report").

    Returns the path to hand to `atomic.atomic_dir`, with `replace_existing` allowed exactly
    when the check passed on a non-empty folder. Raises a one-line UserError otherwise.
    """
    target = Path(path)
    if target.name in ("", ".", ".."):
        target = target.resolve()
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise UserError(f"{path}: exists and is not a folder; choose a new folder name for {flag}")
    if not target.exists() or not any(target.iterdir()):
        return target
    if is_run_dir(target):
        raise UserError(f"{path}: is a training run directory; {flag} never replaces one, choose a new folder")
    if kind == "model":
        mine, files = is_model_folder(target), MODEL_FILES
    elif kind == "report":
        listed = _report_files(target)
        mine, files = listed is not None, listed or set()
    else:
        raise ValueError(f"unknown artefact kind {kind!r}")
    if not mine:
        raise UserError(f"{path}: folder is not empty and was not written by lenet5; choose a new folder for {flag}")
    foreign = _foreign(target, files)
    if foreign:
        raise UserError(f"{path}: holds {foreign[0]!r}, which lenet5 did not write; choose a new folder for {flag}")
    if not force:
        what = {"model": "lenet5 model export", "report": "lenet5 report"}[kind]
        raise UserError(f"{path}: holds an earlier {what}; add --force to replace it, or choose a new folder")
    return target


def claim_file(path: str | os.PathLike[str], kind: str, flag: str) -> Path:
    """Check that a command may write the file `path` (kind "png" or "csv"): it must be new,
    or an earlier file of that kind that lenet5 wrote. Parent folders are created later."""
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{path}: is a folder; {flag} needs a file name")
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise UserError(f"{path}: is not a regular file; choose another name for {flag}")
    if target.exists() and not is_ours(target, kind):
        raise UserError(f"{path}: exists and was not written by lenet5; choose another name for {flag}")
    _check_writable(path, target.parents)
    return target


def _check_writable(path: object, folders: Iterable[Path]) -> None:
    """The first of `folders` that exists (the nearest existing parent) must be a writable folder."""
    for folder in folders:
        if folder.exists():
            if not folder.is_dir():
                raise UserError(f"{path}: {folder} is a file, not a folder")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise UserError(f"{path}: cannot write in {folder} (permission denied)")
            return


def claim_file_folder(path: str | os.PathLike[str], flag: str) -> Path:
    """A folder that a command adds its own files to (e.g. `--save-input DIR`): it may hold
    anything, each file written is checked on its own with `claim_file`."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise UserError(f"{path}: exists and is not a folder; {flag} needs a folder")
    _check_writable(path, (target, *target.parents))
    return target


def is_ours(path: Path, kind: str) -> bool:
    if kind == "png":
        from PIL import Image

        try:
            with Image.open(path) as image:
                return image.format == "PNG" and image.info.get("Software") == PNG_SOFTWARE
        except Exception:  # any unreadable file is simply not one of ours
            return False
    if kind == "csv":
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.readline().rstrip("\r\n") == CSV_HEADER
        except (OSError, UnicodeDecodeError):
            return False
    raise ValueError(f"unknown file kind {kind!r}")


def folder_replaceable(kind: str) -> Callable[[Path], bool]:
    """For `atomic.atomic_dir`'s moment of swapping: is the folder still our own artefact?"""

    def check(folder: Path) -> bool:
        try:
            claim_folder(folder, kind, force=True)
        except UserError:
            return False
        return True

    return check


def replaceable(kind: str) -> Callable[[Path], bool]:
    """For `atomic`'s moment of writing: may the file now at a path be replaced?"""
    return lambda path: not path.is_symlink() and path.is_file() and is_ours(path, kind)


def report_marker(files: Iterable[str]) -> str:
    return json.dumps({"format": REPORT_FORMAT, "files": sorted(files)}, indent=2) + "\n"
