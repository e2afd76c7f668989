"""The one exception type the CLI turns into a one-line message instead of a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class UserError(Exception):
    """Bad input from the user: a file, a flag, a directory. The message is shown as is."""


@contextlib.contextmanager
def file_errors(label: object, action: str = "read") -> Iterator[None]:
    """Inside the block, the OS's file errors become one-line UserErrors naming the file.

    `action` ("read" or "write") says which way the data was going, for the message."""
    try:
        yield
    except FileNotFoundError:
        raise UserError(f"{label}: no such file" if action == "read" else f"{label}: folder does not exist") from None
    except IsADirectoryError:
        raise UserError(f"{label}: is a directory, not a file") from None
    except PermissionError:
        raise UserError(f"{label}: permission denied" + ("" if action == "read" else " (cannot write)")) from None
    except OSError as exc:
        raise UserError(f"{label}: cannot {action} ({exc.strerror or exc})") from None


class TrainingInterrupted(Exception):
    """Ctrl-C during training, raised after the last completed epoch is safely on disk."""

    def __init__(self, run_dir: object, completed_epochs: int, resumable: bool = True) -> None:
        super().__init__(f"interrupted after {completed_epochs} completed epoch(s)")
        self.run_dir = run_dir
        self.completed_epochs = completed_epochs
        self.resumable = resumable  # False before the run's config.json was written
