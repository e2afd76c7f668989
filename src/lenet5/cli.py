"""`lenet5` command line. Heavy imports (Paddle) happen inside commands so `--help` is instant."""

from __future__ import annotations

import argparse
import errno
import json
import os
import socket
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lenet5 import __version__
from lenet5.errors import TrainingInterrupted, UserError, file_errors
from lenet5.recipes import Recipe

if TYPE_CHECKING:
    from lenet5.infer.predict import Failure


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


def _add_model_options(parser: argparse.ArgumentParser, default: str) -> None:
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


def _top_k(text: str) -> int:
    value = _positive_int(text)
    if value > 10:
        raise argparse.ArgumentTypeError(f"at most 10 (there are ten digits), got {value}")
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
        "--model seed, Adam 1e-3, batch 128, 10 epochs. `--model lenet5` (or --recipe paper) trains the 1998 "
        "LeNet-5 with SDLM, one pattern per update, the MAP criterion, 20 passes. Flags override the recipe. "
        "The epoch kept is chosen on a validation split held out from the training digits; the test set is "
        "only reported.",
    )
    train.add_argument("--model", help="network name: seed or lenet5 (default: the recipe's, seed)")
    train.add_argument(
        "--recipe",
        help="hyper-parameter set: seed (the article), strong (the article's network trained the modern way), "
        "reader (strong plus a junk class, for `lenet5 read`) or paper (1998, for lenet5); default: the model's own",
    )
    train.add_argument(
        "--junk",
        type=float,
        metavar="R",
        help="add R junk pieces per digit (halves, pairs, cut neighbours) as an 11th class, so the network can "
        "reject pieces that are not one digit (recipe reader 0.5, otherwise 0; seed network only)",
    )
    train.add_argument(
        "--segmented",
        type=float,
        metavar="R",
        help="with --junk: also add R pieces per digit cut from lines of digits by `lenet5 read`'s own "
        "segmentation, each labelled as its digit or junk (recipe reader 0.5, otherwise 0)",
    )
    train.add_argument(
        "--line-epochs",
        type=int,
        metavar="N",
        help="with --junk: after the epochs, N passes over lines of digits trained on the whole reading through "
        "`lenet5 read`'s segmentation graph, the paper's forward criterion (recipe reader 3, otherwise 0)",
    )
    train.add_argument("--lines", type=int, metavar="N", help="lines per line pass (recipe reader 5000; default 5000)")
    train.add_argument(
        "--distort",
        action=argparse.BooleanOptionalAction,
        help="random affine distortions of the training digits (recipe strong: on; --no-distort turns them off)",
    )
    train.add_argument(
        "--distort-fraction",
        type=float,
        metavar="F",
        help="with --distort: share of the digits distorted each pass, the rest kept as they are "
        "(recipe paper 0.5, otherwise 1)",
    )
    train.add_argument(
        "--distort-strength",
        type=float,
        default=1.0,
        metavar="S",
        help="with --distort: multiply every distortion range by S (default 1)",
    )
    train.add_argument(
        "--init",
        choices=["paper", "sqrt"],
        help="lenet5 weight range: uniform +/-2.4/F (paper) or +/-2.4/sqrt(F) (recipe paper: sqrt)",
    )
    train.add_argument(
        "--epochs", type=_positive_int, help="passes over the training digits (seed recipe 10, paper 20)"
    )
    train.add_argument("--batch-size", type=_positive_int, help="digits per update (seed recipe 128, paper 1)")
    train.add_argument(
        "--lr",
        type=_positive_float,
        help="learning rate; for sdlm the first pass's eta (seed recipe 1e-3, paper 1.5e-4)",
    )
    train.add_argument("--optimizer", choices=["adam", "sgd", "sdlm"], help="optimizer (seed recipe adam, paper sdlm)")
    train.add_argument(
        "--lr-schedule",
        choices=["constant", "cosine"],
        help="learning rate per epoch: constant, or cosine decay to zero (recipe strong: cosine)",
    )
    train.add_argument("--loss", help="criterion: cross_entropy, map or mse (seed recipe cross_entropy, paper map)")
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
        "--select-by",
        choices=["cost", "accuracy"],
        help="validation score that picks the best epoch (recipes seed and paper: cost; strong: accuracy)",
    )
    train.add_argument("--device", choices=["cpu", "gpu"], default="cpu", help="where to train (default cpu)")
    train.add_argument(
        "--nproc",
        type=_positive_int,
        default=1,
        metavar="N",
        help="data-parallel training on N processes (paddle.distributed: gloo on CPUs, one process per GPU "
        "with NCCL); --batch-size stays the global batch (default 1)",
    )
    train.add_argument("--download", action="store_true", help="download missing MNIST files (checksums verified)")
    train.add_argument("--no-progress", action="store_true", help="no progress bars (log lines only)")
    train.add_argument(
        "--visualdl",
        action="store_true",
        help="also log costs, accuracies, learning rate and misread validation digits for VisualDL "
        "(view with: visualdl --logdir RUN/visualdl)",
    )
    train.add_argument("--json", action="store_true", help="print the final summary as one JSON object")
    _add_data_dir(train)

    evaluate = commands.add_parser(
        "evaluate",
        help="score a trained model on the MNIST test set",
        description="Load a run's exported inference model and report test accuracy, per-class accuracy "
        "and a confusion matrix (drawn to RUN/confusion.png, or RUN/confusion-first-N.png with --limit N, "
        "so a partial evaluation never replaces the full one).",
    )
    evaluate.add_argument("run", metavar="RUN", help="run directory (or exported model folder)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    evaluate.add_argument("--limit", type=_positive_int, metavar="N", help="score only the first N test digits")
    evaluate.add_argument(
        "--plot",
        metavar="FILE",
        help="where to draw the confusion matrix (default: RUN/confusion.png for the whole test set, "
        "RUN/confusion-first-N.png with --limit; none for a model folder)",
    )
    _add_data_dir(evaluate)

    data = commands.add_parser("data", help="verify or download the MNIST files")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    verify = data_commands.add_parser("verify", help="check the four files' format and checksums")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    _add_data_dir(verify)
    fetch = data_commands.add_parser("download", help="download missing files, verified, written atomically")
    fetch.add_argument("--mirror", action="append", metavar="URL", help="base URL to try (repeatable)")
    _add_data_dir(fetch)

    predict = commands.add_parser(
        "predict",
        help="read digits in your own images",
        description="Predict the digit in each image (PNG, JPEG, BMP, GIF, TIFF, WebP; any size or mode). "
        "Images get MNIST's own preprocessing first: grayscale, ink made bright, cropped to the ink, longer "
        "side 20 px, centred by centre of mass in 28x28. Directories are walked recursively for image files "
        "(other files in them are passed over); files named are always read. A bad file prints "
        "`error: FILE: reason` and the rest are still processed; the exit status is 1 if any failed.",
    )
    predict.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files or folders")
    _add_model_options(predict, "the shipped seed model")
    predict.add_argument("--top-k", type=_top_k, default=3, metavar="K", help="alternatives to show, 1-10 (default 3)")
    predict.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per line on stdout, for every file: the prediction, or {"file", "error"}',
    )
    predict.add_argument("--csv", metavar="FILE", help="also write all results to a CSV file")
    predict.add_argument(
        "--save-input",
        metavar="DIR",
        help="save the 28x28 image the model saw for each file, as DIR/NAME.28x28.png (files of the same name "
        "in different folders get their folder in the name; only earlier lenet5 images are ever replaced)",
    )

    read = commands.add_parser(
        "read",
        help="read whole written numbers (several digits on one line)",
        description="Read every digit of a number written on one line, left to right, as LeNet-5 was built to "
        "(ZIP codes, cheques): the ink is over-segmented (blobs, and cuts through touching digits), the network "
        "scores every way of grouping the pieces, and the best path through that segmentation graph is kept "
        "(LeCun et al. 1998, Section V; docs/reading-numbers.md). Folders are searched for image files. A bad "
        "file prints `error: FILE: reason` and the rest are still read; the exit status is 1 if any failed.",
    )
    read.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files or folders")
    _add_model_options(
        read,
        "the shipped reader model, trained to reject pieces that are not one digit; any other model works, "
        "less well on touching digits",
    )
    read.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per line: {"file", "number", "confidence", "digits": [{"digit", "probability", '
        '"box"}]}, or {"file", "error"}',
    )
    read.add_argument(
        "--annotate",
        metavar="DIR",
        help="write a copy of each picture with each digit's box and reading drawn on it, as DIR/NAME.read.png",
    )

    export = commands.add_parser(
        "export",
        help="export a trained model for Paddle Inference or ONNX Runtime",
        description="Write a self-contained model folder (with a README.md model card) for one runtime. "
        "--out must be a new or empty folder; --force replaces an earlier export, and nothing else: never a "
        "run directory, never a folder holding files lenet5 did not write. Several runs make one model "
        "averaging their networks' probabilities (like networks, e.g. one recipe with different seeds).",
    )
    export.add_argument(
        "run",
        metavar="RUN",
        nargs="+",
        help="run directory or model folder; two or more run directories: their networks averaged",
    )
    export.add_argument(
        "--format", choices=["paddle", "onnx", "both"], default="paddle", help="target runtime (both: one folder, both)"
    )
    export.add_argument("--out", required=True, metavar="DIR", help="folder to write (new or empty)")
    export.add_argument("--force", action="store_true", help="replace an earlier lenet5 export in --out")

    report = commands.add_parser(
        "report",
        help="write an HTML report with plots for a run",
        description="Write RUN/report/index.html with learning curves, confusion matrix, per-class scores, "
        "the most confident mistakes, first-layer filters and feature maps. Opens from disk, no server.",
    )
    report.add_argument("run", metavar="RUN", help="run directory")
    report.add_argument("--digit", type=int, default=0, metavar="I", help="test digit whose feature maps to show")
    _add_data_dir(report)

    serve = commands.add_parser(
        "serve",
        help="browser demo and HTTP API",
        description="Serve the drawing page at / and the API (POST /api/predict, GET /api/model, GET /healthz; "
        "OpenAPI docs at /docs). Binds to 127.0.0.1 unless told otherwise.",
    )
    _add_model_options(serve, "the shipped seed model; /api/read uses the shipped reader model")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--max-bytes", type=_positive_int, default=2 * 1024 * 1024, metavar="N", help="request body limit (2 MB)"
    )
    serve.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=16_000_000,
        metavar="N",
        help="largest picture decoded, in pixels (default 16,000,000: a 12 MP photo fits)",
    )
    serve.add_argument(
        "--max-concurrent",
        type=_positive_int,
        default=2,
        metavar="N",
        help="pictures decoded at once (default 2); up to --max-queue more wait, beyond that 503 with Retry-After",
    )
    serve.add_argument(
        "--max-queue", type=int, default=16, metavar="N", help="requests that may wait for a decoding slot (default 16)"
    )
    serve.add_argument(
        "--body-timeout",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="seconds a client may take to send a request body; slower gets 408 (default 10)",
    )

    preview = commands.add_parser(
        "distort-preview",
        help="picture of training digits and random distortions of them",
        description="Write a PNG grid: the first row holds training digits, the rows below random affine "
        "distortions of each (translation, scaling, squeezing, horizontal shearing), as `train --distort` makes.",
    )
    preview.add_argument(
        "--out", default="distortions.png", metavar="FILE", help="PNG to write (new, or an earlier lenet5 picture)"
    )
    preview.add_argument("--n", type=_positive_int, default=10, help="digits per row (default 10)")
    preview.add_argument("--rows", type=_positive_int, default=4, help="rows of distortions (default 4)")
    preview.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _add_data_dir(preview)

    summary = commands.add_parser(
        "summary",
        help="print a model's layer table (maps, parameters, connections)",
        description="The layer table computed from the model itself: feature-map shapes from a forward "
        "pass, trainable parameters (masked C3 weights excluded), connections from shapes and kernels.",
    )
    summary.add_argument("--model", default="lenet5", help="network name (default lenet5)")
    summary.add_argument("--json", action="store_true", help="print one JSON object")

    models = commands.add_parser("models", help="list the networks and the shipped trained models")
    models.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _distort_fraction(args: argparse.Namespace, recipe: Recipe) -> float:
    """The flag if given (TrainConfig.validate refuses it without --distort), else the recipe's."""
    if args.distort_fraction is not None:
        return args.distort_fraction
    return recipe.distort_fraction if _distort(args, recipe) else 1.0


def _distort(args: argparse.Namespace, recipe: Recipe) -> bool:
    return recipe.distort if args.distort is None else args.distort


def cmd_train(args: argparse.Namespace) -> int:
    from lenet5.recipes import RECIPES
    from lenet5.train import distributed, launcher
    from lenet5.train.loop import TrainConfig, config_from_run, train

    world = distributed.launched_world()
    launcher.check_nproc(args.nproc, world.local_size, world.parallel)

    if args.resume:
        if args.out and Path(args.out) != Path(args.resume):
            raise UserError("--resume and --out name different directories; --resume continues in place")
        cfg = config_from_run(args.resume)
        out = Path(args.resume)
    else:
        recipe_name = args.recipe or {"lenet5": "paper"}.get(args.model, "seed")
        if recipe_name not in RECIPES:
            raise UserError(f"unknown recipe {recipe_name!r}; choose from {', '.join(RECIPES)}")
        recipe = RECIPES[recipe_name]
        model = args.model or recipe.model
        cfg = TrainConfig(
            model=model,
            optimizer=args.optimizer or recipe.optimizer,
            lr=args.lr or recipe.lr,
            batch_size=args.batch_size or recipe.batch_size,
            epochs=args.epochs or recipe.epochs,
            loss=args.loss or recipe.loss,
            seed=args.seed,
            val_size=args.val_size,
            train_limit=args.train_limit,
            test_limit=args.test_limit,
            select_by=args.select_by or recipe.select_by,
            device=args.device,
            data_dir=args.data_dir,
            download=args.download,
            distort=_distort(args, recipe),
            distort_fraction=_distort_fraction(args, recipe),
            lr_schedule=args.lr_schedule or recipe.lr_schedule,
            distort_engine=recipe.distort_engine,
            distort_strength=args.distort_strength,
            init=args.init or (recipe.init if model == "lenet5" else "paper"),
            recipe=recipe_name,
            junk=recipe.junk if args.junk is None else args.junk,
            segmented=recipe.segmented if args.segmented is None else args.segmented,
            line_epochs=recipe.line_epochs if args.line_epochs is None else args.line_epochs,
            lines=recipe.lines if args.lines is None else args.lines,
        )
        out = Path(args.out) if args.out else Path("runs") / f"{model}-{datetime.now():%Y%m%d-%H%M%S}"
    if args.nproc > 1 and not world.parallel:
        # This process starts the workers; each runs this same command (with the run
        # directory spelled out, so they agree on it) and finds its rank in the environment.
        distributed.refuse_sequential(cfg.optimizer, args.nproc)
        cfg.validate()
        worker_argv = [*args.argv, *([] if args.out or args.resume else ["--out", str(out)])]
        return launcher.run_workers(worker_argv, args.nproc, cfg.device, out)
    echo = (lambda _msg: None) if args.json else print
    summary = train(
        cfg,
        out,
        resume=bool(args.resume),
        echo=echo,
        progress=False if args.no_progress else None,
        visualdl=args.visualdl,
    )
    if args.json and world.is_writer:
        print(json.dumps(summary))
    return 0


def _confusion_target(args: argparse.Namespace) -> Path | None:
    """Where `evaluate` draws its confusion matrix: --plot if given; inside a run directory
    (never inside a model folder, which may be shipped as is) a name that says whether it
    covers the whole test set, so a partial evaluation never replaces the full one."""
    from lenet5.store import outputs

    if args.plot:
        return outputs.claim_file(args.plot, "png", "--plot")
    run = Path(args.run)
    if not outputs.is_run_dir(run):
        return None
    return run / ("confusion.png" if args.limit is None else f"confusion-first-{args.limit}.png")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from lenet5.infer.evaluate import evaluate_model

    target = _confusion_target(args)
    report = evaluate_model(args.run, args.data_dir, limit=args.limit)
    if target is not None:
        from lenet5.plots.confusion import plot_confusion

        scope = f"{report.n:,} of {report.total:,} test digits" if report.n < report.total else "all test digits"
        title = f"{Path(args.run).name}: test accuracy {100 * report.accuracy:.2f}%\non {scope}"
        with file_errors(target, "write"):
            plot_confusion(report.confusion, target, title=title)
    if args.json:
        print(json.dumps({**report.to_json(), "plot": str(target) if target else None}))
        return 0
    print(f"Test accuracy: {100 * report.accuracy:.2f}% ({round(report.accuracy * report.n)}/{report.n})")
    print("Per class: " + "  ".join(f"{d}: {100 * a:.2f}%" for d, a in enumerate(report.per_class)))
    if target is not None:
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


def _image_files(inputs: Sequence[str]) -> list[Path]:
    """The files `predict` and `read` read; what folders held besides images is counted on stderr."""
    from lenet5.infer.predict import expand_inputs

    files, skipped = expand_inputs(inputs)
    if skipped:
        print(f"note: passed over {len(skipped)} non-image file(s) in the folders given", file=sys.stderr)
    return files


def _report_failure(failure: Failure, as_json: bool) -> None:
    print(f"error: {failure}", file=sys.stderr)
    if as_json:  # a script reading stdout sees every file, failed ones too
        print(json.dumps(failure.to_json()), flush=True)


def cmd_predict(args: argparse.Namespace) -> int:
    from lenet5.infer.backends import load_backend
    from lenet5.infer.predict import Failure, predict_files, write_csv
    from lenet5.store import outputs

    # Output paths are checked before any work, so a bad one costs nothing and writes nothing.
    csv_path = outputs.claim_file(args.csv, "csv", "--csv") if args.csv else None
    save_input = outputs.claim_file_folder(args.save_input, "--save-input") if args.save_input else None
    backend = load_backend(args.model, args.backend)
    files = _image_files(args.inputs)
    results, failures = [], 0
    for result in predict_files(backend, files, args.top_k, save_input):
        if isinstance(result, Failure):
            failures += 1
            _report_failure(result, args.json)
            continue
        results.append(result)
        if args.json:
            print(json.dumps(result.to_json()), flush=True)
        else:
            others = ", ".join(f"{d} {100 * p:.1f}%" for d, p in result.top_k)
            print(f"{result.file}: {result.digit} ({100 * result.probability:.1f}%)  top-{args.top_k}: {others}")
            if result.warning:
                print(f"warning: {result.file}: {result.warning}", file=sys.stderr)
    if csv_path is not None:
        with file_errors(csv_path, "write"):
            write_csv(csv_path, results)
    return 1 if failures else 0


def cmd_read(args: argparse.Namespace) -> int:
    from lenet5.infer.backends import load_backend
    from lenet5.infer.predict import Failure, save_png, saved_input_names
    from lenet5.reader.annotate import annotated
    from lenet5.reader.read import read_file
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
    files = _image_files(args.inputs)
    names = saved_input_names(files, ".read.png") if annotate is not None else {}
    failures = 0
    for path in files:
        try:
            reading, picture = read_file(backend, path, str(path))
            if annotate is not None:
                save_png(annotated(picture, reading), annotate / names[path], "--annotate")
        except UserError as exc:
            failures += 1
            _report_failure(Failure.of(path, exc), args.json)
            continue
        if args.json:
            print(json.dumps(reading.to_json()), flush=True)
        else:
            print(f"{reading.file}  {reading.number}  ({reading.confidence:.2f})", flush=True)
    return 1 if failures else 0


def cmd_export(args: argparse.Namespace) -> int:
    from lenet5.export.folder import export_folder

    try:
        if len(args.run) > 1:
            from lenet5.export.ensemble import export_ensemble

            out = export_ensemble(args.run, args.format, args.out, force=args.force)
        else:
            out = export_folder(args.run[0], args.format, args.out, force=args.force)
    except KeyboardInterrupt:
        print(f"Interrupted; nothing was written to {args.out}.", file=sys.stderr)
        return 130
    print(f"Exported {args.format} model to {out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from lenet5.report.html_report import build_report

    out = build_report(args.run, args.data_dir, args.digit)
    print(f"Report: {out / 'index.html'}")
    return 0


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is announced, so a taken port is one
    clear line and not a "Serving on ..." followed by uvicorn's error."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"port {port} on {host} is already in use; choose another with --port") from None
        if exc.errno == errno.EACCES:
            raise UserError(f"no permission to listen on port {port}; use a port above 1023") from None
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from lenet5.serve.app import ServerLimits, create_app

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1-65535, got {args.port}")
    listener = _bind(args.host, args.port)  # before loading the model: a taken port costs nothing

    app = create_app(
        args.model,
        args.backend,
        ServerLimits(
            max_bytes=args.max_bytes,
            max_pixels=args.max_pixels,
            max_concurrent=args.max_concurrent,
            max_queue=args.max_queue,
            body_timeout=args.body_timeout,
        ),
    )
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"Serving model {app.state.service.info['model']} ({app.state.service.folder}) on "
        f"http://{shown_host}:{args.port}/  (API docs: /docs)",
        flush=True,
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[listener])
    return 0


def cmd_distort_preview(args: argparse.Namespace) -> int:
    import numpy as np

    from lenet5.data import mnist
    from lenet5.data.distort import distort_batch
    from lenet5.plots.plotting import plt, save_figure
    from lenet5.store import outputs

    target = outputs.claim_file(args.out, "png", "--out")
    digits = mnist.load(args.data_dir).train_images[: args.n]
    rng = np.random.default_rng(args.seed)
    rows = [digits.astype(np.float32)] + [distort_batch(digits, rng) for _ in range(args.rows)]
    fig, axes = plt.subplots(len(rows), args.n, figsize=(args.n * 0.9, len(rows) * 0.95 + 0.5), squeeze=False)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            axes[r][c].imshow(image, cmap="gray", vmin=0, vmax=255)
            axes[r][c].set_xticks([])
            axes[r][c].set_yticks([])
        axes[r][0].set_ylabel("original" if r == 0 else f"distorted {r}", fontsize=7)
    fig.suptitle("Training digits and random affine distortions (train --distort)")
    with file_errors(target, "write"):
        save_figure(fig, target)
    print(f"Wrote {target}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from lenet5.models import create_model
    from lenet5.models.summary import format_table, layer_table

    table = layer_table(create_model(args.model), args.model)
    print(json.dumps(table) if args.json else format_table(table))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from lenet5.models import get_spec
    from lenet5.models.registry import INPUTS
    from lenet5.store.model_folder import DEFAULT_MODEL, DEFAULT_READER, output_classes, read_meta, shipped_models

    networks = [{"name": name, "input": INPUTS[name]} for name in sorted(INPUTS)]
    shipped = []
    for name, folder in shipped_models().items():
        meta = read_meta(folder)
        shipped.append(
            {
                "name": name,
                "network": meta["model"],
                "recipe": meta.get("recipe"),
                "classes": output_classes(meta),  # 11: the ten digits and "junk" (not one whole digit)
                "test_accuracy": meta.get("test_accuracy"),
                "networks_averaged": len(meta.get("members") or [None]),  # `lenet5 export RUN RUN...`
                "default": name == DEFAULT_MODEL,
                "default_for_read": name == DEFAULT_READER,
                "folder": str(folder),
            }
        )
    if args.json:
        print(json.dumps({"networks": networks, "shipped": shipped}))
        return 0
    print("Networks (lenet5 train --model NAME):")
    print(f"  {'name':8}  {'input':6}  description")
    for row in networks:
        print(f"  {row['name']:8}  {row['input']:6}  {get_spec(row['name']).description}")
    print("Shipped trained models (lenet5 predict IMAGE --model NAME, lenet5 read IMAGE --model NAME):")
    print(f"  {'name':8}  {'network':8}  {'recipe':8}  {'test accuracy':>13}")
    for row in shipped:
        accuracy = f"{100 * row['test_accuracy']:.2f}%" if row["test_accuracy"] is not None else "?"
        notes = []
        if row["default"]:
            notes.append("default")
        if row["default_for_read"]:
            notes.append("default for read")
        if row["networks_averaged"] > 1:
            notes.append(f"the average of {row['networks_averaged']} networks")
        if row["classes"] == 11:
            notes.append("also answers 'junk': not one whole digit")
        note = f"  ({'; '.join(notes)})" if notes else ""
        print(f"  {row['name']:8}  {row['network']:8}  {row['recipe'] or '?':8}  {accuracy:>13}{note}")
    if not shipped:
        print("  (none installed; `make pretrained` builds them)")
    return 0


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "read": cmd_read,
    "export": cmd_export,
    "report": cmd_report,
    "summary": cmd_summary,
    "distort-preview": cmd_distort_preview,
    "serve": cmd_serve,
    "data": cmd_data,
    "models": cmd_models,
}


def _quiet_broken_pipe() -> int:
    """stdout's reader went away (`lenet5 ... | head`): stop quietly, as Unix tools do.

    Later writes, including the interpreter's own flush at exit, go to /dev/null so
    Python prints no second error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what data-parallel workers run again
    try:
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # inside the try: a reader that left shows up here, not at exit
        return status
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TrainingInterrupted as exc:
        if exc.resumable:
            message = (
                f"Interrupted; {exc.completed_epochs} completed epoch(s) are saved in {exc.run_dir}.\n"
                f"Continue with: lenet5 train --resume {exc.run_dir}"
            )
        else:
            message = f"Interrupted before the run started; nothing was saved in {exc.run_dir}."
        print(message, file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except OSError as exc:
        # The last line of defence for files: whatever escaped a specific message still
        # reaches the user as one line naming the path, never as a traceback.
        where = exc.filename or getattr(args, "out", None) or "lenet5"
        print(f"error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
