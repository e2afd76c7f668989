"""What the commands' parsers and printers share: flag types, common flags, output lines."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lenet5.infer.predict import Failure

# `lenet5 train`'s line in `lenet5 --help`, also when its flags are not built (lenet5.cli).
TRAIN_HELP = "train a model and write a run directory"


def _parsed(text: str, convert: type[int] | type[float], expected: str) -> Any:
    """`text` as a number, or the flag's one-line complaint naming what it expected."""
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def positive_int(text: str) -> int:
    value = _parsed(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    value = _parsed(text, float, "a number")
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return value


def share(text: str) -> float:
    """A number from 0 to 1 (a probability, a confidence)."""
    value = _parsed(text, float, "a number from 0 to 1")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {value}")
    return value


def digit_count(text: str) -> int:
    """How many digits a number has: 1 to 64 (a line longer than that is no number we read)."""
    value = positive_int(text)
    if value > 64:
        raise argparse.ArgumentTypeError(f"must be at most 64, got {value}")
    return value


def seed(text: str) -> int:
    """A random seed: 0 to 2**32 - 1 (what numpy and Paddle both take)."""
    from lenet5.settings import SEED_LIMIT

    value = _parsed(text, int, "a whole number")
    if not 0 <= value <= SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 0 and {SEED_LIMIT}, got {value}")
    return value


def top_k(text: str) -> int:
    value = positive_int(text)
    if value > 10:
        raise argparse.ArgumentTypeError(f"at most 10 (there are ten digits), got {value}")
    return value


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the four MNIST .gz files (default: $LENET5_DATA, else the copy in data/mnist/)",
    )


def add_model_options(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help=f"a shipped model's name (`lenet5 models`), a run directory or a model folder (default: {default})",
    )
    parser.add_argument(
        "--backend",
        choices=["paddle", "onnx"],
        help="runtime (default: onnx when the folder has model.onnx, else paddle)",
    )


def add_json(parser: argparse.ArgumentParser, what: str = "print one JSON object") -> None:
    parser.add_argument("--json", action="store_true", help=what)


def image_files(inputs: Sequence[str]) -> list[Path]:
    """The files `predict` and `read` read; what folders held besides images is counted on stderr."""
    from lenet5.infer.predict import expand_inputs

    files, skipped = expand_inputs(inputs)
    if skipped:
        print(f"note: passed over {len(skipped)} non-image file(s) in the folders given", file=sys.stderr)
    return files


def report_failure(failure: Failure, as_json: bool) -> None:
    print(f"error: {failure}", file=sys.stderr)
    if as_json:  # a script reading stdout sees every file, failed ones too
        print(json_line(failure.to_json()), flush=True)


def json_line(value: Any) -> str:
    """One line of strict JSON: a NaN or infinity becomes null (and a warning), never the
    bare `NaN` that JSON readers refuse."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        print("warning: a value was not a finite number; written as null", file=sys.stderr)
        return json.dumps(_finite(value), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
