"""Predicting digits in people's own image files, one result (or one error) per file."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from lenet5 import atomic
from lenet5.errors import UserError, file_errors
from lenet5.infer.backends import Backend, digit_probabilities
from lenet5.infer.photo import read_photo_digit
from lenet5.infer.workers import ModelSpec, on_workers
from lenet5.store import outputs
from lenet5.vision.preprocess import PictureDigit

LOW_CONFIDENCE = 0.6  # below this top probability an answer is flagged, not trusted
# What a folder is searched for. Files named on the command line are read whatever their name.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


@dataclass(frozen=True)
class Prediction:
    file: str
    digit: int
    probability: float
    top_k: list[tuple[int, float]]
    box: tuple[int, int, int, int] | None = None  # where the digit is in the picture (x0, y0, x1, y1)
    warning: str | None = None  # e.g. several digits in the picture, or a low-confidence answer
    junk: float | None = None  # with a junk class: the probability that it is not one digit at all

    @property
    def not_a_digit(self) -> bool:
        """The model's junk class wins: what was found is not a digit (a mark, a letter, an edge)."""
        return self.junk is not None and self.junk > self.probability

    def to_dict(self) -> dict[str, object]:
        """What `lenet5 predict --json` prints for it."""
        return self.to_json()

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "digit": self.digit,
            "probability": self.probability,
            "top_k": [list(p) for p in self.top_k],
            "box": list(self.box) if self.box else None,
            "warning": self.warning,
            "junk": self.junk,
            "not_a_digit": self.not_a_digit,
        }


@dataclass(frozen=True)
class Failure:
    """A file that could not be read, reported in its place in the output."""

    file: str
    error: str  # the reason, without the file name in front

    @classmethod
    def of(cls, path: Path, exc: UserError) -> Failure:
        message = str(exc)
        return cls(str(path), message.removeprefix(f"{path}: "))

    def __str__(self) -> str:
        return f"{self.file}: {self.error}"

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "error": self.error}


def warning_for(other_digits: int, probability: float) -> str | None:
    """Why an answer should not be taken at face value, or None."""
    if other_digits:
        return (
            f"the picture seems to hold {other_digits + 1} or more digits; this reads only the most prominent "
            "one (to read a whole number: lenet5 read, or POST /api/read)"
        )
    if probability < LOW_CONFIDENCE:
        return f"low confidence ({100 * probability:.0f}%): the picture may not be a single clear digit"
    return None


def expand_inputs(paths: Sequence[str]) -> tuple[list[Path], list[Path]]:
    """(files to read, files passed over). Files named are read as given; directories are
    walked recursively, sorted, for image files only (a model folder's README.md or
    model.onnx is not a picture), hidden entries skipped."""
    files: list[Path] = []
    skipped: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                if not found.is_file() or any(part.startswith(".") for part in found.relative_to(path).parts):
                    continue
                (files if found.suffix.lower() in IMAGE_SUFFIXES else skipped).append(found)
        else:
            files.append(path)  # a missing file is reported when it is read
    return files, skipped


def rank(probabilities: np.ndarray, top_k: int) -> list[tuple[int, float]]:
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    return [(int(d), float(probabilities[d])) for d in order]


def predict_digit(backend: Backend, digit: np.ndarray, label: str, top_k: int = 3) -> Prediction:
    """A preprocessed uint8 28x28 digit -> prediction. With a model that has a junk class the
    digits' probabilities are what is left after junk (they sum to 1 - junk), so nothing the
    model takes for junk is reported as a likely digit."""
    return predict_digits(backend, digit[None], [label], top_k)[0]


def predict_digits(backend: Backend, digits: np.ndarray, labels: Sequence[str], top_k: int = 3) -> list[Prediction]:
    """predict_digit for a stack of digits [N, 28, 28] in one model call. Both runtimes give
    each row the same scores, to the bit, whatever else is in the batch
    (tests/test_folders.py checks it), so batching never changes an answer."""
    scores = backend.scores(backend.meta.normalize(digits))
    predictions = []
    for row, label in zip(scores, labels, strict=True):
        probabilities = digit_probabilities(row[None], backend.meta)[0]
        junk = float(row[10:].sum()) if row.shape[0] > 10 else None
        if junk is not None:
            probabilities = probabilities * (1.0 - junk)
        ranked = rank(probabilities, top_k)
        predictions.append(
            Prediction(file=label, digit=ranked[0][0], probability=ranked[0][1], top_k=ranked, junk=junk)
        )
    return predictions


def saved_input_names(files: Sequence[Path], suffix: str = ".28x28.png") -> dict[Path, str]:
    """Output file names for inputs (`--save-input`, `read --annotate`): `STEM` + `suffix`,
    unless two inputs share a stem (`a/digit.png`, `b/digit.jpg`); then every one of those
    gets its folders and extension in the name (`a__digit.png.28x28.png`). A name that is
    still taken (an input literally called `a__digit.png.png`) gets `-2`, `-3`, ... so no
    output of a run is ever written over another of the same run."""
    by_stem: dict[str, list[Path]] = {}
    for path in files:
        by_stem.setdefault(path.stem, []).append(path)
    wanted: dict[Path, str] = {}
    for stem, group in by_stem.items():
        for path in group:
            parts = [p for p in path.parts if p not in ("/", ".", "..")]
            wanted[path] = f"{stem}{suffix}" if len(group) == 1 else "__".join(parts) + suffix
    names: dict[Path, str] = {}
    taken: set[str] = set()
    for path in files:  # in the order given, so the first input keeps the plain name
        if path in names:
            continue
        name, n = wanted[path], 1
        base = name[: len(name) - len(suffix)]
        while name in taken:
            n += 1
            name = f"{base}-{n}{suffix}"
        taken.add(name)
        names[path] = name
    return names


def save_input_png(digit: np.ndarray, target: Path) -> None:
    """The 28x28 digit the model saw, marked as ours so a later run may replace it."""
    save_png(Image.fromarray(digit), target, "--save-input")


def save_png(image: Image.Image, target: Path, flag: str) -> None:
    """A PNG marked as ours (so a later run may replace it, and nothing else is), written
    atomically; anyone else's file at `target` is refused."""
    outputs.claim_file(target, "png", flag)
    info = PngInfo()
    info.add_text("Software", outputs.PNG_SOFTWARE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    with file_errors(target, "write"):
        atomic.write_bytes(target, buffer.getvalue(), may_replace=outputs.replaceable("png"))


def predict_picture(backend: Backend, picture: PictureDigit, label: str, top_k: int = 3) -> Prediction:
    """A found digit -> prediction with its box and, if it deserves one, a warning."""
    return predict_pictures(backend, [picture], [label], top_k)[0]


def predict_pictures(
    backend: Backend, pictures: Sequence[PictureDigit], labels: Sequence[str], top_k: int = 3
) -> list[Prediction]:
    """predict_picture for several found digits, in one model call."""
    if not pictures:
        return []
    plain = predict_digits(backend, np.stack([p.digit for p in pictures]), labels, top_k)
    return [_judged(prediction, picture) for prediction, picture in zip(plain, pictures, strict=True)]


def _judged(plain: Prediction, picture: PictureDigit) -> Prediction:
    if plain.not_a_digit:
        warning = f"not a digit: the model takes it for a mark that is not one digit ({100 * plain.junk:.0f}%)"
    else:
        warning = warning_for(picture.other_digits, plain.probability)
    return replace(plain, box=picture.box, warning=warning)


def predict_files(
    backend: Backend,
    files: Sequence[Path],
    top_k: int = 3,
    save_input: Path | None = None,
    workers: int = 1,
    model: ModelSpec | None = None,
) -> Iterator[Prediction | Failure]:
    """Yield a Prediction or a Failure for each file, in order; one bad file never stops the
    rest. With `workers` > 1 the files are read on that many processes, each opening
    `model` (the one `backend` runs) once; 1 is the plain loop below, the reference."""
    names = saved_input_names(files) if save_input is not None else {}
    items = [(path, names.get(path)) for path in files]
    parallel = on_workers(partial(_predict_chunk, top_k=top_k, save_input=save_input), items, files, workers, model)
    if parallel is not None:
        yield from parallel
        return
    for path in files:
        try:
            picture = read_photo_digit(path, str(path))
            if save_input is not None:
                save_input_png(picture.digit, save_input / names[path])
        except UserError as exc:
            yield Failure.of(path, exc)
            continue
        yield predict_picture(backend, picture, str(path), top_k)


def _predict_chunk(
    backend: Backend, items: list[tuple[Path, str | None]], top_k: int, save_input: Path | None
) -> list[Prediction | Failure]:
    """A worker's chunk: every picture read first, then one model call for all found digits."""
    results: list[Prediction | Failure | None] = [None] * len(items)
    found: list[tuple[int, PictureDigit]] = []
    for i, (path, name) in enumerate(items):
        try:
            picture = read_photo_digit(path, str(path))
            if save_input is not None and name is not None:
                save_input_png(picture.digit, save_input / name)
        except UserError as exc:
            results[i] = Failure.of(path, exc)
            continue
        found.append((i, picture))
    labels = [str(items[i][0]) for i, _ in found]
    for (i, _), prediction in zip(found, predict_pictures(backend, [p for _, p in found], labels, top_k), strict=True):
        results[i] = prediction
    return [r for r in results if r is not None]


def write_csv(path: Path, predictions: Sequence[Prediction]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(outputs.CSV_HEADER.split(","))
    for p in predictions:
        writer.writerow([p.file, p.digit, f"{p.probability:.6f}", " ".join(f"{d}:{q:.6f}" for d, q in p.top_k)])
    atomic.write_text(path, buffer.getvalue(), may_replace=outputs.replaceable("csv"))
