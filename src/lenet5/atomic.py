"""Write-then-rename helpers, so a crash never leaves a half-written artefact behind.

Temporary names all have the shape `.NAME.XXXXXXXX.tmp[.ext]` (files and folders), so
`sweep_leftovers` can recognise, and only ever remove, what a killed process of ours left.

None of these helpers replaces a folder that holds anything unless the caller says so
(`replace_existing=True`), and callers only say so after `lenet5.store.outputs` has checked that
the folder is an artefact of the same kind that lenet5 wrote itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lenet5.errors import UserError

# `.NAME.` + mkstemp/mkdtemp's 8 random characters + `.tmp`, optionally `.ext`; and the
# `.NAME.old-PID` a folder is parked under for the instant of a swap.
_LEFTOVER = re.compile(r"^\..+\.(?:[a-z0-9_]{8}\.tmp(?:\.[A-Za-z0-9]+)?|old-\d+)$")


def _umask() -> int:
    # The only portable way to read the umask is to set it; done once per write, harmless.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _public_mode(path: Path, directory: bool) -> None:
    """mkstemp/mkdtemp create 0600/0700; give the file the mode `open()` would have."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_path(
    target: str | os.PathLike[str], suffix: str = "", may_replace: Callable[[Path], bool] | None = None
) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only if the block succeeds.

    The temporary file lives in the same directory so the final rename is atomic (same
    filesystem). `suffix` keeps libraries that insist on an extension happy.

    `may_replace` is for paths a user names: the new file is linked in only where nothing
    exists yet (a hard link never replaces), and a file found there at that moment is
    replaced only if `may_replace(target)` says it is ours. So a file a user creates while
    the command runs is never lost. Without it (files inside our own folders) the rename
    simply replaces.
    """
    target = Path(target)
    if target.is_dir():
        raise UserError(f"{target}: is a folder; expected a file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _public_mode(tmp, directory=False)
        _fsync_file(tmp)
        if may_replace is None:
            os.replace(tmp, target)
        else:
            _link_or_replace_ours(tmp, target, may_replace)
    finally:
        if tmp.exists():
            tmp.unlink()


def _link_or_replace_ours(tmp: Path, target: Path, may_replace: Callable[[Path], bool]) -> None:
    try:
        os.link(tmp, target)
        return
    except FileExistsError:
        pass
    except OSError:  # a filesystem without hard links: check, then rename (a narrower window)
        if not os.path.lexists(target):
            os.replace(tmp, target)
            return
    if not may_replace(target):
        raise UserError(f"{target}: was created by someone else while this command ran; it was left as it is")
    os.replace(tmp, target)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def write_bytes(target: str | os.PathLike[str], data: bytes, may_replace: Callable[[Path], bool] | None = None) -> None:
    with atomic_path(target, may_replace=may_replace) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike[str], text: str, may_replace: Callable[[Path], bool] | None = None) -> None:
    # A file name that is not UTF-8 (os.fsdecode's surrogates) is written back as its own bytes.
    write_bytes(target, text.encode("utf-8", "surrogateescape"), may_replace)


def write_json(target: str | os.PathLike[str], obj: Any) -> None:
    write_text(target, json.dumps(obj, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def atomic_dir(
    target: str | os.PathLike[str], replace_existing: bool | Callable[[Path], bool] = False
) -> Iterator[Path]:
    """Yield a temporary directory that becomes `target` when the block succeeds.

    A missing or empty `target` is simply taken. One that holds anything is replaced only
    with `replace_existing=True`, which callers pass after checking (`lenet5.store.outputs`) that
    it is their own earlier artefact; otherwise nothing is touched and a UserError says why.
    A non-empty folder cannot be swapped in one `rename`, so the old one is moved aside
    first and deleted only once the new one is in place. `replace_existing` may be a check
    (`lenet5.store.outputs.folder_replaceable`) that is asked again at the moment of the swap,
    so a folder a user filled meanwhile is left alone.
    """
    target = Path(target)
    if target.name in ("", ".", ".."):
        target = target.resolve()
    _refuse_unless_replaceable(target, replace_existing)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        _public_mode(tmp, directory=True)
        _refuse_unless_replaceable(target, replace_existing)  # it may have changed meanwhile
        old = None
        if target.is_dir() and any(target.iterdir()):
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        elif target.is_dir():
            target.rmdir()
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _refuse_unless_replaceable(target: Path, replace_existing: bool | Callable[[Path], bool]) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise UserError(f"{target}: exists and is not a folder; nothing was written")
    if not target.is_dir() or not any(target.iterdir()):
        return
    if replace_existing is False or (callable(replace_existing) and not replace_existing(target)):
        raise UserError(f"{target}: folder is not empty and not ours to replace; nothing was written")


def sweep_leftovers(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files and folders that a killed process of ours left in `folder`.

    Only names of the exact shape these helpers create are touched; anything else stays.
    """
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        if not _LEFTOVER.match(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
