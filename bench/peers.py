"""Peer OCR systems side by side with lenet5: accuracy and time per picture, per kind.

    .venv/bin/python bench/peers.py [--count 200] [--seed 0] [--kinds separated close touching fonts digits]
                                    [--systems ...] [--folder KIND=DIR ...] [--json-out FILE] [--keep-sets DIR]

Systems (`--systems`, default all that are installed):
- `lenet5`: ours in this process, models loaded once: `read_file` with the shipped reader
  model for numbers, `read_photo_digit` + `predict_picture` with the seed model for single
  digits (what `lenet5 read` and `lenet5 predict` do per file);
- `lenet5-cli`: `lenet5 read FILES --json` (`predict` for digits), one process per set;
  its time per picture is the whole process's wall time / count (start-up and model load
  included, spread over the set);
- `ppocr`: PP-OCRv4 as shipped in rapidocr-onnxruntime (detection + angle classifier +
  recognition, its default settings); the texts of all boxes, in reading order (lines top
  to bottom, boxes left to right), joined;
- `ppocr-rec`: the PP-OCRv4 recogniser alone (`use_det=False, use_cls=False`) on a crop of
  the ink (Otsu threshold, specks dropped, a margin of 15% of the ink's height), as the
  detector would hand it a line;
- `ppocr-rec-whole`: the same recogniser on the whole picture;
- `ppocr-digits`, `ppocr-rec-digits`: `ppocr` and `ppocr-rec` with the recogniser's output
  limited to the ten digits (CTC decoding over blank and 0-9 only, probabilities
  renormalised), the counterpart of Tesseract's whitelist: the shipped recogniser reads
  about 6,600 Chinese and Latin characters and often writes 5 as S, 0 as O, 1 as 十;
- `tesseract`: Tesseract 5's command line, one process per picture, LSTM only (`--oem 1`),
  digits whitelisted, `--psm 7` (one text line) for numbers, `--psm 10` (one character)
  for single digits;
- `tesseract-batch`: the same settings in one process per set (a list file of pictures),
  so the model is loaded once; time per picture = wall time / count.
Every system's answer is reduced to its digits (other characters dropped) and counts as
right only if the whole digit string equals the answer.

Kinds (`--kinds`): `separated`, `close`, `touching`, `fonts` (bench/number_sets.py, numbers
of 2-8 MNIST test digits; `fonts` is skipped when the handwriting fonts are missing),
`digits` (one synthetic handwritten digit per picture, lenet5.data.synthetic_photos'
`photo_set`), `digits-inverted`, and `digits-CONDITION` for the field conditions of
synthetic_photos.CONDITIONS. `--folder KIND=DIR` adds a folder with a labels.json
(`{"file.jpg": "2026", ...}`); a folder whose answers are all one digit is scored as single
digits, any other as numbers. Generated sets are written as PNG files first, so every system
starts from the same files; times include decoding them.

Time: wall clock, one picture at a time, after one untimed warm-up picture per set for each
system timed per picture; the median and mean per picture. Those systems take turns picture
by picture (the first one rotating), so other work on the machine slows them alike; the
one-process-per-set systems run after them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, machine, write_result
from number_sets import KINDS as NUMBER_KINDS
from number_sets import make_set

from lenet5.data.synthetic_photos import CONDITIONS, PhotoStyle, condition_set, photo_set

DIGIT_KINDS = ("digits", "digits-inverted", *(f"digits-{c}" for c in CONDITIONS))
ALL_KINDS = (*NUMBER_KINDS, *DIGIT_KINDS)
DEFAULT_KINDS = (*NUMBER_KINDS, "digits")
SYSTEMS = (
    "lenet5",
    "lenet5-cli",
    "ppocr",
    "ppocr-digits",
    "ppocr-rec",
    "ppocr-rec-digits",
    "ppocr-rec-whole",
    "tesseract",
    "tesseract-batch",
)
TESSERACT_FLAGS = ("--oem", "1", "-c", "tessedit_char_whitelist=0123456789")
THREADS = 2  # the cores this benchmark is meant for; ONNX Runtime is told so explicitly


@dataclass
class PictureSet:
    kind: str
    digits: bool  # one digit per picture (predict, --psm 10) rather than a number (read, --psm 7)
    folder: Path
    answers: dict[str, str]  # file name in folder -> answer

    @property
    def paths(self) -> list[Path]:
        return [self.folder / name for name in self.answers]


@dataclass
class Outcome:
    readings: dict[str, str]  # file name -> what the system read (digits only)
    times_ms: list[float] = field(default_factory=list)  # per picture, when measured one by one
    process_ms_per_picture: float | None = None  # one process per set: wall time / count
    stripped: int = 0  # readings that had other characters besides digits


def digits_only(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


# ---------------------------------------------------------------------------- picture sets


def generated_set(kind: str, count: int, seed: int, root: Path) -> PictureSet:
    """A generated set written to root/KIND as PNG files with a labels.json, as --folder reads.
    SystemExit (the fonts kind without its fonts) is passed on."""
    if kind in NUMBER_KINDS:
        from lenet5.data import mnist

        data = mnist.load(None)
        pictures = make_set(kind, count, seed, data.test_images, data.test_labels)
    elif kind == "digits":
        pictures = [(image, str(d)) for d, image in photo_set(count, seed, PhotoStyle(True))]
    elif kind == "digits-inverted":
        pictures = [(image, str(d)) for d, image in photo_set(count, seed, PhotoStyle(False))]
    else:
        pictures = [(image, str(d)) for d, image in condition_set(kind.removeprefix("digits-"), count, seed)]
    folder = root / kind
    folder.mkdir(parents=True, exist_ok=True)
    answers = {}
    for i, (image, truth) in enumerate(pictures):
        name = f"{kind}-{i:05d}.png"
        image.save(folder / name)
        answers[name] = truth
    (folder / "labels.json").write_text(json.dumps(answers, indent=0))
    return PictureSet(kind, kind in DIGIT_KINDS, folder, answers)


def folder_set(kind: str, folder: Path) -> PictureSet:
    labels = folder / "labels.json"
    if not labels.is_file():
        raise SystemExit(f"--folder {kind}={folder}: no labels.json there")
    # Several numbers on one picture are compared as one digit string in reading order, as
    # every system's reading is (its spaces and other characters dropped).
    answers = {str(name): digits_only(str(answer)) for name, answer in json.loads(labels.read_text()).items()}
    missing = [name for name in answers if not (folder / name).is_file()]
    if missing:
        raise SystemExit(f"--folder {kind}={folder}: {len(missing)} labelled file(s) missing, e.g. {missing[0]}")
    return PictureSet(kind, all(len(a) == 1 for a in answers.values()), folder, answers)


# ---------------------------------------------------------------------------- the systems


Reader = Callable[[Path], str]  # one picture's file -> the text a system read in it


def one_by_one(pictures: PictureSet, readers: dict[str, Reader]) -> dict[str, Outcome]:
    """Each picture read on its own and timed by every system in turn (the first system
    rotating from picture to picture), so a burst of other work on the machine falls on all
    of them alike; one untimed warm-up read per system first."""
    paths = pictures.paths
    names = list(readers)
    if paths:
        for read in readers.values():
            read(paths[0])
    outcomes = {name: Outcome({}) for name in names}
    for k, path in enumerate(paths):
        for name in names[k % len(names) :] + names[: k % len(names)]:
            started = time.perf_counter()
            text = readers[name](path)
            outcome = outcomes[name]
            outcome.times_ms.append(1000 * (time.perf_counter() - started))
            outcome.readings[path.name] = digits_only(text)
            outcome.stripped += outcome.readings[path.name] != text
    return outcomes


class Lenet5:
    def __init__(self) -> None:
        from lenet5.infer.backends import load_backend
        from lenet5.store.model_folder import DEFAULT_READER

        self.number_model = load_backend(DEFAULT_READER)
        self.digit_model = load_backend(None)

    def reader(self, pictures: PictureSet) -> Reader:
        from lenet5.errors import UserError
        from lenet5.infer.photo import read_photo_digit
        from lenet5.infer.predict import predict_picture
        from lenet5.reader.numbers import read_file

        def read(path: Path) -> str:
            try:
                if pictures.digits:
                    return str(predict_picture(self.digit_model, read_photo_digit(path), str(path), 1).digit)
                return read_file(self.number_model, path)[0].number
            except UserError:  # no ink found and the like: nothing read
                return ""

        return read


def lenet5_command() -> list[str]:
    script = Path(sys.executable).parent / "lenet5"
    return [str(script)] if script.exists() else [sys.executable, "-m", "lenet5"]


class Lenet5Cli:
    def run(self, pictures: PictureSet) -> Outcome:
        paths = pictures.paths
        command = [*lenet5_command(), "predict" if pictures.digits else "read", *map(str, paths), "--json"]
        if pictures.digits:
            command += ["--top-k", "1"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        wall_ms = 1000 * (time.perf_counter() - started)
        if done.returncode not in (0, 1):  # 1: some file failed, and it says which
            raise RuntimeError(f"{' '.join(command[:3])} ...: exit {done.returncode}: {done.stderr[-500:]}")
        names = {str(path): path.name for path in paths}
        readings = dict.fromkeys(pictures.answers, "")
        for line in done.stdout.splitlines():
            row = json.loads(line)
            if "error" not in row:
                readings[names[row["file"]]] = str(row["digit"] if pictures.digits else row["number"])
        return Outcome(readings, process_ms_per_picture=wall_ms / max(1, len(paths)))


def reading_order(boxes: list[list[list[float]]]) -> list[int]:
    """Indices of quadrilateral boxes in reading order: lines top to bottom (a box joins a
    line when its vertical centre lies within the line's extent), left to right in a line."""
    spans = [(min(p[1] for p in box), max(p[1] for p in box), min(p[0] for p in box)) for box in boxes]
    lines: list[list[int]] = []
    for i in sorted(range(len(boxes)), key=lambda i: (spans[i][0] + spans[i][1]) / 2):
        centre = (spans[i][0] + spans[i][1]) / 2
        if lines and min(spans[j][0] for j in lines[-1]) <= centre <= max(spans[j][1] for j in lines[-1]):
            lines[-1].append(i)
        else:
            lines.append([i])
    return [i for line in lines for i in sorted(line, key=lambda i: spans[i][2])]


def ink_crop(gray: np.ndarray) -> np.ndarray:
    """The ink's bounding box with a margin: Otsu's threshold on a lightly blurred picture, the
    minority side taken as ink (either polarity), specks under 5% of the largest blob dropped."""
    blurred = cv2.GaussianBlur(gray, (5, 5), 0)
    _, ink = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if np.count_nonzero(ink) > ink.size / 2:
        ink = 255 - ink
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if count < 2:
        return gray
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = stats[1:][areas >= 0.05 * areas.max()]
    x0, y0 = keep[:, cv2.CC_STAT_LEFT].min(), keep[:, cv2.CC_STAT_TOP].min()
    x1 = (keep[:, cv2.CC_STAT_LEFT] + keep[:, cv2.CC_STAT_WIDTH]).max()
    y1 = (keep[:, cv2.CC_STAT_TOP] + keep[:, cv2.CC_STAT_HEIGHT]).max()
    margin = int(0.15 * (y1 - y0)) + 2
    height, width = gray.shape
    return gray[max(0, y0 - margin) : min(height, y1 + margin), max(0, x0 - margin) : min(width, x1 + margin)]


class DigitDecoding:
    """Wraps rapidocr's CTC decoder; while `on`, only blank and 0-9 can be chosen (their
    probabilities renormalised to sum to 1 at each step), like a whitelist."""

    def __init__(self, decode: Callable) -> None:
        self.decode = decode
        self.allowed = np.array([i == 0 or c in "0123456789" for i, c in enumerate(decode.character)])
        self.on = False

    def __call__(self, preds: np.ndarray, *args, **kwargs):
        if self.on:
            preds = np.where(self.allowed, preds, 0.0)
            preds = preds / np.maximum(preds.sum(axis=2, keepdims=True), 1e-12)
        return self.decode(preds, *args, **kwargs)


class PPOCR:
    """PP-OCRv4 through rapidocr-onnxruntime, its bundled models, ONNX Runtime on THREADS threads."""

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.engine = RapidOCR(intra_op_num_threads=THREADS, inter_op_num_threads=1)
        self.digit_decoding = DigitDecoding(self.engine.text_rec.postprocess_op)
        self.engine.text_rec.postprocess_op = self.digit_decoding

    def full(self, pictures: PictureSet, digits: bool = False) -> Reader:
        def read(path: Path) -> str:
            self.digit_decoding.on = digits
            result, _elapsed = self.engine(str(path))
            if not result:
                return ""
            return "".join(result[i][1] for i in reading_order([box for box, _text, _score in result]))

        return read

    def recogniser(self, pictures: PictureSet, crop: bool, digits: bool = False) -> Reader:
        def read(path: Path) -> str:
            self.digit_decoding.on = digits
            gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if gray is None:
                return ""
            result, _elapsed = self.engine(ink_crop(gray) if crop else gray, use_det=False, use_cls=False, use_rec=True)
            return "".join(text for text, _score in result or [])

        return read


def tesseract_flags(pictures: PictureSet) -> list[str]:
    return ["--psm", "10" if pictures.digits else "7", *TESSERACT_FLAGS]


class Tesseract:
    def reader(self, pictures: PictureSet) -> Reader:
        flags = tesseract_flags(pictures)

        def read(path: Path) -> str:
            done = subprocess.run(["tesseract", str(path), "-", *flags], capture_output=True, text=True)
            return done.stdout.strip() if done.returncode == 0 else ""

        return read

    def batch(self, pictures: PictureSet) -> Outcome:
        """One process for the set: tesseract reads a list file of pictures (the model loaded
        once) and separates their texts with form feeds."""
        paths = pictures.paths
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
            listing.write("".join(f"{path}\n" for path in paths))
            listing.flush()
            started = time.perf_counter()
            done = subprocess.run(
                ["tesseract", listing.name, "-", *tesseract_flags(pictures)], capture_output=True, text=True
            )
            wall_ms = 1000 * (time.perf_counter() - started)
        pages = done.stdout.split("\f")
        if done.returncode != 0 or len(pages) != len(paths):
            raise RuntimeError(f"tesseract list file: exit {done.returncode}, {len(pages)} pages for {len(paths)}")
        readings = {path.name: digits_only(page) for path, page in zip(paths, pages, strict=True)}
        return Outcome(readings, process_ms_per_picture=wall_ms / max(1, len(paths)))


# ---------------------------------------------------------------------------- versions, table


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for package in ("rapidocr-onnxruntime", "onnxruntime", "opencv-python-headless", "opencv-python"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = None
    if shutil.which("tesseract"):
        text = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.splitlines()
        out["tesseract"] = " / ".join(line.strip() for line in text[:2])
        langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True).stdout
        found = re.search(r'"([^"]+)"', langs)
        if found:
            data = Path(found.group(1)) / "eng.traineddata"
            out["tesseract_eng"] = f"{data} ({data.stat().st_size} bytes)" if data.exists() else None
    return out


def score(pictures: PictureSet, outcome: Outcome) -> dict[str, object]:
    wrong = [(name, truth, outcome.readings.get(name, "")) for name, truth in pictures.answers.items()]
    wrong = [row for row in wrong if row[1] != row[2]]
    n = len(pictures.answers)
    row: dict[str, object] = {
        "n": n,
        "accuracy": (n - len(wrong)) / n if n else None,
        "empty": sum(not outcome.readings.get(name) for name in pictures.answers),
        "stripped": outcome.stripped,
        "examples_wrong": [f"{truth} -> {got or '(nothing)'}" for _name, truth, got in wrong[:5]],
    }
    if outcome.times_ms:
        row |= {"median_ms": statistics.median(outcome.times_ms), "mean_ms": statistics.fmean(outcome.times_ms)}
    if outcome.process_ms_per_picture is not None:
        row |= {"median_ms": None, "mean_ms": outcome.process_ms_per_picture, "one_process_per_set": True}
    return row


def markdown(results: dict[str, dict[str, dict[str, object]]], systems: list[str]) -> str:
    """Systems down, kinds across; each cell: accuracy · median / mean ms per picture."""

    def cell(row: dict[str, object] | None) -> str:
        if not row:
            return "—"
        median = "—" if row.get("median_ms") is None else f"{row['median_ms']:.0f}"
        return f"{100 * row['accuracy']:.1f}% · {median} / {row['mean_ms']:.0f}"

    kinds = list(results)
    sizes = ", ".join(f"{kind} {next(iter(rows.values()))['n']}" for kind, rows in results.items() if rows)
    lines = [
        "Accuracy (whole digit string) · median / mean ms per picture; median — : one process per set, "
        f"wall time / count. Pictures: {sizes}.",
        "",
        "| system | " + " | ".join(kinds) + " |",
        "|---|" + "---:|" * len(kinds),
    ]
    for system in systems:
        lines.append(f"| {system} | " + " | ".join(cell(results[kind].get(system)) for kind in kinds) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="pictures per generated kind (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated sets (default 0)")
    parser.add_argument("--kinds", nargs="*", default=list(DEFAULT_KINDS), choices=ALL_KINDS, metavar="KIND")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS, metavar="SYSTEM")
    parser.add_argument(
        "--folder", action="append", default=[], metavar="KIND=DIR", help="a folder with a labels.json (repeatable)"
    )
    parser.add_argument(
        "--json-out", type=Path, default=RESULTS / "peers.json", help="default bench/results/peers.json"
    )
    parser.add_argument("--keep-sets", type=Path, metavar="DIR", help="write the generated pictures here and keep them")
    args = parser.parse_args()
    folders = []
    for spec in args.folder:
        kind, sep, folder = spec.partition("=")
        if not sep or not kind or not folder:
            parser.error(f"--folder {spec}: write KIND=DIR")
        folders.append((kind, Path(folder)))

    notes: list[str] = []
    systems = list(args.systems)
    if any(s.startswith("ppocr") for s in systems) and importlib.util.find_spec("rapidocr_onnxruntime") is None:
        notes.append("ppocr systems skipped: rapidocr-onnxruntime is not installed")
        systems = [s for s in systems if not s.startswith("ppocr")]
    if any(s.startswith("tesseract") for s in systems) and shutil.which("tesseract") is None:
        notes.append("tesseract systems skipped: no tesseract command (apt-get install tesseract-ocr)")
        systems = [s for s in systems if not s.startswith("tesseract")]

    # Every model loaded once, before any set is timed.
    lenet5 = Lenet5() if "lenet5" in systems else None
    ppocr = PPOCR() if any(s.startswith("ppocr") for s in systems) else None
    tesseract = Tesseract()
    per_picture: dict[str, Callable[[PictureSet], Reader]] = {
        "lenet5": lambda p: lenet5.reader(p),
        "ppocr": lambda p: ppocr.full(p),
        "ppocr-digits": lambda p: ppocr.full(p, digits=True),
        "ppocr-rec": lambda p: ppocr.recogniser(p, crop=True),
        "ppocr-rec-digits": lambda p: ppocr.recogniser(p, crop=True, digits=True),
        "ppocr-rec-whole": lambda p: ppocr.recogniser(p, crop=False),
        "tesseract": tesseract.reader,
    }
    per_set: dict[str, Callable[[PictureSet], Outcome]] = {
        "lenet5-cli": Lenet5Cli().run,
        "tesseract-batch": tesseract.batch,
    }

    load_before = os.getloadavg()
    results: dict[str, dict[str, dict[str, object]]] = {}
    with contextlib.ExitStack() as stack:
        root = args.keep_sets or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lenet5-peers-")))
        sets = []
        for kind in args.kinds:
            try:
                sets.append(generated_set(kind, args.count, args.seed, root))
            except SystemExit as exc:
                notes.append(f"{kind} skipped: {exc}")
        sets += [folder_set(kind, folder) for kind, folder in folders]
        for pictures in sets:
            outcomes = one_by_one(pictures, {s: per_picture[s](pictures) for s in systems if s in per_picture})
            outcomes |= {s: per_set[s](pictures) for s in systems if s in per_set}
            results[pictures.kind] = {}
            for system in systems:
                row = score(pictures, outcomes[system])
                results[pictures.kind][system] = row
                median = "—" if row.get("median_ms") is None else f"{row['median_ms']:.0f}"
                print(
                    f"{pictures.kind:12s} {system:16s} {100 * row['accuracy']:5.1f}%  {median} / "
                    f"{row['mean_ms']:.0f} ms  wrong e.g. {row['examples_wrong'][:3]}",
                    file=sys.stderr,
                    flush=True,
                )

    table = markdown(results, systems)
    print(table)
    for note in notes:
        print(f"note: {note}")
    payload = {
        "count": args.count,
        "seed": args.seed,
        "systems": systems,
        "threads": THREADS,
        "versions": versions(),
        "tesseract_flags": {"numbers": ["--psm", "7", *TESSERACT_FLAGS], "digits": ["--psm", "10", *TESSERACT_FLAGS]},
        "load_average_before_after": [load_before, os.getloadavg()],
        "notes": notes,
        "results": results,
        "table": table,
    }
    if args.json_out.resolve() == (RESULTS / "peers.json").resolve():
        path = write_result("peers", payload)
    else:
        from lenet5 import atomic

        path = args.json_out
        atomic.write_json(path, {"machine": machine(), **payload})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
