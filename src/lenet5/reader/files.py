"""Reading many files (`lenet5 read`): every number in each (lenet5.reader.numbers), or one
failure naming the file, in the files' order, on one process or on several workers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from lenet5.errors import UserError
from lenet5.infer.backends import Backend
from lenet5.infer.predict import Failure, save_png, saved_input_names
from lenet5.infer.workers import ModelSpec, on_workers
from lenet5.reader.annotate import annotated_file
from lenet5.reader.numbers import PageReading, read_file


@dataclass(frozen=True)
class ReadSettings:
    digits: int | None = None  # each number has exactly this many digits
    min_confidence: float = 0.0
    annotate: Path | None = None  # a folder for each picture with its readings drawn on it


def read_files(
    backend: Backend,
    files: Sequence[Path],
    settings: ReadSettings,
    workers: int = 1,
    model: ModelSpec | None = None,
) -> Iterator[PageReading | Failure]:
    """A PageReading or a Failure per file, in order. With `workers` > 1 the files are read
    on that many processes, each opening `model` (the one `backend` runs) once; a page's
    model calls depend on what its earlier ones found, so each file is read whole by one
    worker. 1 is the plain loop, the reference."""
    names = saved_input_names(files, ".read.png") if settings.annotate is not None else {}
    items = [(path, names.get(path)) for path in files]
    parallel = on_workers(partial(_read_chunk, settings=settings), items, files, workers, model)
    if parallel is not None:
        yield from parallel
        return
    for path, name in items:
        yield _read_one(backend, path, name, settings)


def _read_chunk(
    backend: Backend, items: list[tuple[Path, str | None]], settings: ReadSettings
) -> list[PageReading | Failure]:
    return [_read_one(backend, path, name, settings) for path, name in items]


def _read_one(backend: Backend, path: Path, name: str | None, settings: ReadSettings) -> PageReading | Failure:
    try:
        reading, _ = read_file(backend, path, str(path), digits=settings.digits, min_confidence=settings.min_confidence)
        if settings.annotate is not None and name is not None:
            save_png(annotated_file(path, reading), settings.annotate / name, "--annotate")
    except UserError as exc:
        return Failure.of(path, exc)
    return reading
