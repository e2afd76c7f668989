"""`lenet5 predict` (one digit per picture) and `lenet5 read` (a whole number)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from lenet5.cli.common import (
    add_model_options,
    digit_count,
    image_files,
    json_line,
    positive_int,
    report_failure,
    share,
    top_k,
)
from lenet5.errors import file_errors

if TYPE_CHECKING:
    from lenet5.infer.workers import ModelSpec

PREDICT_DESCRIPTION = (
    "Predict the digit in each image (PNG, JPEG, BMP, GIF, TIFF, WebP; any size or mode). Images get MNIST's own "
    "preprocessing first: grayscale, ink made bright, cropped to the ink, longer side 20 px, centred by centre of "
    "mass in 28x28. Directories are walked recursively for image files (other files in them are passed over); "
    "files named are always read. A bad file prints `error: FILE: reason` and the rest are still processed; the "
    "exit status is 1 if any failed."
)
READ_DESCRIPTION = (
    "Read every digit of a number written on one line, left to right, as LeNet-5 was built to (ZIP codes, "
    "cheques): the ink is over-segmented (blobs, and cuts through touching digits), the network scores every way "
    "of grouping the pieces, and the best path through that segmentation graph is kept (LeCun et al. 1998, "
    "Section V; docs/reading-numbers.md). Folders are searched for image files. A bad file prints "
    "`error: FILE: reason` and the rest are still read; the exit status is 1 if any failed."
)


def add_predict(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("predict", help="read digits in your own images", description=PREDICT_DESCRIPTION)
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files or folders")
    add_model_options(parser, "the shipped seed model")
    parser.add_argument("--top-k", type=top_k, default=3, metavar="K", help="alternatives to show, 1-10 (default 3)")
    parser.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per line on stdout, for every file: the prediction, or {"file", "error"}',
    )
    parser.add_argument("--csv", metavar="FILE", help="also write all results to a CSV file")
    parser.add_argument(
        "--save-input",
        metavar="DIR",
        help="save the 28x28 image the model saw for each file, as DIR/NAME.28x28.png (files of the same name "
        "in different folders get their folder in the name; only earlier lenet5 images are ever replaced)",
    )
    add_workers(parser)


def add_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="processes reading pictures at once, each with the model loaded (default: the usable cores; "
        "1 reads them one by one in this process). Results come in the input's order either way",
    )


def workers_and_model(args: argparse.Namespace, backend_name: str, model: str | None) -> tuple[int, ModelSpec]:
    """--workers (default: every usable core) and what a worker needs to open the same model."""
    from lenet5.infer.workers import ModelSpec, usable_cores

    return args.workers or usable_cores(), ModelSpec(model, backend_name)


def run_predict(args: argparse.Namespace) -> int:
    from lenet5.infer.backends import load_backend
    from lenet5.infer.predict import Failure, predict_files, write_csv
    from lenet5.store import outputs

    # Output paths are checked before any work, so a bad one costs nothing and writes nothing.
    csv_path = outputs.claim_file(args.csv, "csv", "--csv") if args.csv else None
    save_input = outputs.claim_file_folder(args.save_input, "--save-input") if args.save_input else None
    backend = load_backend(args.model, args.backend)
    files = image_files(args.inputs)
    workers, spec = workers_and_model(args, backend.name, args.model)
    results, failures = [], 0
    for result in predict_files(backend, files, args.top_k, save_input, workers, spec):
        if isinstance(result, Failure):
            failures += 1
            report_failure(result, args.json)
            continue
        results.append(result)
        if args.json:
            print(json_line(result.to_json()), flush=True)
        else:
            others = ", ".join(f"{d} {100 * p:.1f}%" for d, p in result.top_k)
            answer = "not a digit" if result.not_a_digit else f"{result.digit} ({100 * result.probability:.1f}%)"
            print(f"{result.file}: {answer}  top-{args.top_k}: {others}")
            if result.warning:
                print(f"warning: {result.file}: {result.warning}", file=sys.stderr)
    if csv_path is not None:
        with file_errors(csv_path, "write"):
            write_csv(csv_path, results)
    return 1 if failures else 0


def add_read(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "read", help="read whole written numbers (several digits on one line)", description=READ_DESCRIPTION
    )
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files or folders")
    add_model_options(
        parser,
        "the shipped reader model, trained to reject pieces that are not one digit; any other model works, "
        "less well on touching digits",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per line: {"file", "number", "confidence", "digits": [{"digit", "probability", '
        '"box"}]}, or {"file", "error"}',
    )
    parser.add_argument(
        "--annotate",
        metavar="DIR",
        help="write a copy of each picture with each digit's box and reading drawn on it, as DIR/NAME.read.png",
    )
    parser.add_argument(
        "--digits",
        type=digit_count,
        metavar="N",
        help="each number has exactly N digits (an 11-digit phone number): the best reading of that length",
    )
    parser.add_argument(
        "--min-confidence",
        type=share,
        default=0.0,
        metavar="C",
        help="leave out numbers read with less confidence than C (0-1); a picture with none left fails",
    )
    add_workers(parser)


def run_read(args: argparse.Namespace) -> int:
    from lenet5.infer.backends import load_backend
    from lenet5.infer.predict import Failure
    from lenet5.reader.files import ReadSettings, read_files
    from lenet5.store import outputs
    from lenet5.store.model_folder import DEFAULT_READER, shipped_models

    annotate = outputs.claim_file_folder(args.annotate, "--annotate") if args.annotate else None
    model = args.model or (DEFAULT_READER if DEFAULT_READER in shipped_models() else None)
    backend = load_backend(model, args.backend)
    if backend.classes == 10:
        print(
            f"note: {model or 'the default model'} has no junk class; touching digits are read less well than "
            "with the shipped reader model",
            file=sys.stderr,
        )
    files = image_files(args.inputs)
    settings = ReadSettings(args.digits, args.min_confidence, annotate)
    workers, spec = workers_and_model(args, backend.name, model)
    failures = 0
    for reading in read_files(backend, files, settings, workers, spec):
        if isinstance(reading, Failure):
            failures += 1
            report_failure(reading, args.json)
            continue
        if args.json:
            print(json_line(reading.to_json()), flush=True)
        else:  # a line per number, top to bottom
            for number in reading.numbers:
                print(f"{reading.file}  {number.number}  ({number.confidence:.2f})", flush=True)
    return 1 if failures else 0
