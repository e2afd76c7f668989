"""Reading back a file we (or a user) wrote: a regular file, of bounded size, before anything
is parsed. A FIFO, a device or a symlink to one would hang or read forever; a huge file
would take the memory; both are refused in one line naming the file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from lenet5.errors import UserError


def regular_file(path: Path, limit: int, what: str) -> int:
    """The size of `path`, which must be a regular file (after symlinks) of at most `limit` bytes."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"{path}: not a regular file (a {_kind(info.st_mode)}); expected {what}")
    if info.st_size > limit:
        raise UserError(f"{path}: {info.st_size:,} bytes, more than a {what} can be ({limit:,})")
    return info.st_size


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def read_bytes(path: Path, limit: int, what: str) -> bytes:
    """The whole file, checked first (regular_file); never more than `limit` bytes are read,
    even if the file grows meanwhile."""
    regular_file(path, limit, what)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise UserError(f"{path}: more than a {what} can be ({limit:,} bytes)")
    return data


def read_json(path: Path, limit: int, what: str) -> Any:
    """A JSON file, checked and bounded; one line for anything that is not JSON."""
    data = read_bytes(path, limit, what)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UserError(f"{path}: not valid JSON ({type(exc).__name__}); expected {what}") from None
