"""`lenet5` command line. Heavy imports (Paddle) happen inside commands so `--help` is instant."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from lenet5 import __version__
from lenet5.errors import TrainingInterrupted, UserError


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the four MNIST .gz files (default: $LENET5_DATA, else the copy in data/mnist/)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lenet5",
        description="Handwritten digit recognition with LeNet-5 on PaddlePaddle: train, evaluate, inspect.",
    )
    parser.add_argument("--version", action="version", version=f"lenet5 {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train",
        help="train a model and write a run directory",
        description="Train a model on MNIST. Defaults are the article's seed recipe: "
        "--model seed, Adam 1e-3, batch 128, 10 epochs. The epoch kept is chosen on a validation "
        "split held out from the training digits; the test set is only reported.",
    )
    train.add_argument("--model", default="seed", help="network name (see `lenet5 models`; default: seed)")
    train.add_argument("--recipe", help="hyper-parameter set to start from (default: the model's own)")
    train.add_argument("--epochs", type=_positive_int, help="passes over the training digits (recipe: 10)")
    train.add_argument("--batch-size", type=_positive_int, help="digits per update (recipe: 128)")
    train.add_argument("--lr", type=_positive_float, help="learning rate (recipe: 1e-3)")
    train.add_argument("--optimizer", choices=["adam", "sgd"], help="optimizer (recipe: adam)")
    train.add_argument("--loss", help="training criterion (recipe: cross_entropy)")
    train.add_argument("--seed", type=int, default=0, help="random seed for initialisation and shuffling (default 0)")
    train.add_argument("--out", metavar="DIR", help="run directory to create (default: runs/MODEL-TIMESTAMP)")
    train.add_argument("--resume", metavar="DIR", help="continue an interrupted run after its last completed epoch")
    train.add_argument("--train-limit", type=_positive_int, metavar="N", help="use only the first N training digits")
    train.add_argument("--test-limit", type=_positive_int, metavar="N", help="report on only the first N test digits")
    train.add_argument(
        "--val-size",
        type=_positive_int,
        default=5000,
        metavar="N",
        help="digits held out for validation (default 5000)",
    )
    train.add_argument(
        "--select-by", choices=["cost", "accuracy"], default="cost", help="validation score that picks the best epoch"
    )
    train.add_argument("--device", choices=["cpu", "gpu"], default="cpu", help="where to train (default cpu)")
    train.add_argument("--download", action="store_true", help="download missing MNIST files (checksums verified)")
    train.add_argument("--no-progress", action="store_true", help="no progress bars (log lines only)")
    train.add_argument("--json", action="store_true", help="print the final summary as one JSON object")
    _add_data_dir(train)

    evaluate = commands.add_parser(
        "evaluate",
        help="score a trained model on the MNIST test set",
        description="Load a run's exported inference model and report test accuracy, per-class accuracy "
        "and a confusion matrix (written to RUN/confusion.png).",
    )
    evaluate.add_argument("run", metavar="RUN", help="run directory (or exported model folder)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    evaluate.add_argument("--limit", type=_positive_int, metavar="N", help="score only the first N test digits")
    _add_data_dir(evaluate)

    data = commands.add_parser("data", help="verify or download the MNIST files")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    verify = data_commands.add_parser("verify", help="check the four files' format and checksums")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    _add_data_dir(verify)
    fetch = data_commands.add_parser("download", help="download missing files, verified, written atomically")
    fetch.add_argument("--mirror", action="append", metavar="URL", help="base URL to try (repeatable)")
    _add_data_dir(fetch)

    commands.add_parser("models", help="list the registered networks")
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    from lenet5.recipes import RECIPES
    from lenet5.train.loop import TrainConfig, config_from_run, train

    if args.resume:
        if args.out and Path(args.out) != Path(args.resume):
            raise UserError("--resume and --out name different directories; --resume continues in place")
        cfg = config_from_run(args.resume)
        out = Path(args.resume)
    else:
        recipe_name = args.recipe or (args.model if args.model in RECIPES else "seed")
        if recipe_name not in RECIPES:
            raise UserError(f"unknown recipe {recipe_name!r}; choose from {', '.join(RECIPES)}")
        recipe = RECIPES[recipe_name]
        cfg = TrainConfig(
            model=args.model,
            optimizer=args.optimizer or recipe.optimizer,
            lr=args.lr or recipe.lr,
            batch_size=args.batch_size or recipe.batch_size,
            epochs=args.epochs or recipe.epochs,
            loss=args.loss or recipe.loss,
            seed=args.seed,
            val_size=args.val_size,
            train_limit=args.train_limit,
            test_limit=args.test_limit,
            select_by=args.select_by,
            device=args.device,
            data_dir=args.data_dir,
            download=args.download,
        )
        out = Path(args.out) if args.out else Path("runs") / f"{args.model}-{datetime.now():%Y%m%d-%H%M%S}"
    echo = (lambda _msg: None) if args.json else print
    summary = train(cfg, out, resume=bool(args.resume), echo=echo, progress=False if args.no_progress else None)
    if args.json:
        print(json.dumps(summary))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from lenet5.infer.evaluate import evaluate_model
    from lenet5.report.confusion import plot_confusion

    report = evaluate_model(args.run, args.data_dir, limit=args.limit)
    target = Path(args.run) / "confusion.png"
    plot_confusion(report.confusion, target, title=f"{args.run}: test accuracy {100 * report.accuracy:.2f}%")
    if args.json:
        print(json.dumps(report.to_json()))
        return 0
    print(f"Test accuracy: {100 * report.accuracy:.2f}% ({round(report.accuracy * report.n)}/{report.n})")
    print("Per class: " + "  ".join(f"{d}: {100 * a:.2f}%" for d, a in enumerate(report.per_class)))
    print(f"Confusion matrix: {target}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from lenet5.data import mnist

    data_dir = Path(args.data_dir) if args.data_dir else mnist.default_data_dir()
    if args.data_command == "download":
        data_dir.mkdir(parents=True, exist_ok=True)
        written = mnist.download_missing(data_dir, tuple(args.mirror) if args.mirror else None)
        print(f"Downloaded {len(written)} file(s) into {data_dir}" if written else f"All files present in {data_dir}")
    rows = mnist.verify(data_dir)
    ok = all(row["ok"] for row in rows)
    if getattr(args, "json", False):
        print(json.dumps({"data_dir": str(data_dir), "ok": ok, "files": rows}))
    else:
        for row in rows:
            print(f"{'ok' if row['ok'] else 'FAIL':4}  {row['file']}: {row['detail']}")
    if not ok:
        bad = next(row for row in rows if not row["ok"])
        print(f"error: {bad['detail']}", file=sys.stderr)
        return 1
    return 0


def cmd_models(_args: argparse.Namespace) -> int:
    from lenet5.models import get_spec, list_models

    for name in list_models():
        spec = get_spec(name)
        print(f"{name:8}  input {spec.normalization:5}  {spec.description}")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "data": cmd_data, "models": cmd_models}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TrainingInterrupted as exc:
        print(
            f"Interrupted; {exc.completed_epochs} completed epoch(s) are saved in {exc.run_dir}.\n"
            f"Continue with: lenet5 train --resume {exc.run_dir}",
            file=sys.stderr,
        )
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
