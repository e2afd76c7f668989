"""The commands about trained models: evaluate, export, report, summary, models."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lenet5.cli.common import add_data_dir, add_json, json_line, positive_int
from lenet5.errors import UserError, file_errors

EVALUATE_DESCRIPTION = (
    "Load a run's exported inference model (or a model folder, or a shipped model by name) and report test "
    "accuracy, per-class accuracy and a confusion matrix (drawn to RUN/confusion.png, or "
    "RUN/confusion-first-N.png with --limit N, so a partial evaluation never replaces the full one)."
)
EXPORT_DESCRIPTION = (
    "Write a self-contained model folder (with a README.md model card) for one runtime. --out must be a new or "
    "empty folder; --force replaces an earlier export, and nothing else: never a run directory, never a folder "
    "holding files lenet5 did not write. Several runs make one model averaging their networks' probabilities "
    "(like networks, e.g. one recipe with different seeds)."
)
REPORT_DESCRIPTION = (
    "Write RUN/report/index.html with learning curves, confusion matrix, per-class scores, the most confident "
    "mistakes, first-layer filters and feature maps. For a model folder or a shipped model (no run behind it): "
    "its card, confusion matrix, per-class scores and most confident mistakes, in --out (default report-NAME). "
    "Opens from disk, no server."
)
SUMMARY_DESCRIPTION = (
    "The layer table computed from the model itself: feature-map shapes from a forward pass, trainable "
    "parameters (masked C3 weights excluded), connections from shapes and kernels."
)


def add_evaluate(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate", help="score a trained model on the MNIST test set", description=EVALUATE_DESCRIPTION
    )
    parser.add_argument("run", metavar="RUN", help="run directory, model folder or shipped model name")
    add_json(parser, "print one JSON object instead of text")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="score only the first N test digits")
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="where to draw the confusion matrix (default: RUN/confusion.png for the whole test set, "
        "RUN/confusion-first-N.png with --limit; none for a model folder)",
    )
    add_data_dir(parser)


def _confusion_target(args: argparse.Namespace) -> Path | None:
    """Where `evaluate` draws its confusion matrix: --plot if given; inside a run directory
    (never inside a model folder, which may be shipped as is) a name that says whether it
    covers the whole test set, so a partial evaluation never replaces the full one. Either
    way, only a new file or an earlier picture of ours is ever replaced."""
    from lenet5.store import outputs
    from lenet5.store.run_dir import RunDir

    if args.plot:
        return outputs.claim_file(args.plot, "png", "--plot")
    run = Path(args.run)
    if not outputs.is_run_dir(run):
        return None
    return outputs.claim_file(RunDir(run).confusion(args.limit), "png", "--plot (default)")


def run_evaluate(args: argparse.Namespace) -> int:
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
        print(json_line({**report.to_json(), "plot": str(target) if target else None}))
        return 0
    print(f"Test accuracy: {100 * report.accuracy:.2f}% ({round(report.accuracy * report.n)}/{report.n})")
    shown = ("-" if a is None else f"{100 * a:.2f}%" for a in report.per_class)
    print("Per class: " + "  ".join(f"{d}: {a}" for d, a in enumerate(shown)))
    if target is not None:
        print(f"Confusion matrix: {target}")
    return 0


def add_export(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export", help="export a trained model for Paddle Inference or ONNX Runtime", description=EXPORT_DESCRIPTION
    )
    parser.add_argument(
        "run", metavar="RUN", nargs="+", help="run directory or model folder; two or more run directories: "
        "their networks averaged"
    )  # fmt: skip
    parser.add_argument(
        "--format", choices=["paddle", "onnx", "both"], default="paddle", help="target runtime (both: one folder, both)"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write (new or empty)")
    parser.add_argument("--force", action="store_true", help="replace an earlier lenet5 export in --out")


def run_export(args: argparse.Namespace) -> int:
    try:
        if len(args.run) > 1:
            from lenet5.export.ensemble import export_ensemble

            out = export_ensemble(args.run, args.format, args.out, force=args.force)
        else:
            from lenet5.export.folder import export_folder

            out = export_folder(args.run[0], args.format, args.out, force=args.force)
    except KeyboardInterrupt:
        print(f"Interrupted; nothing was written to {args.out}.", file=sys.stderr)
        return 130
    print(f"Exported {args.format} model to {out}")
    return 0


def add_report(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report", help="write an HTML report with plots for a run or a model", description=REPORT_DESCRIPTION
    )
    parser.add_argument("run", metavar="RUN_OR_MODEL", help="run directory, model folder or shipped model name")
    parser.add_argument("--digit", type=int, default=0, metavar="I", help="test digit whose feature maps to show")
    parser.add_argument(
        "--out", metavar="DIR", help="for a model (not a run): the report's folder (default report-NAME here)"
    )
    add_data_dir(parser)


def run_report(args: argparse.Namespace) -> int:
    from lenet5.report.html_report import build_model_report, build_report
    from lenet5.store.run_dir import is_run_dir

    if is_run_dir(Path(args.run)):
        if args.out:
            raise UserError(f"--out: a run's report is always {Path(args.run) / 'report'}")
        out = build_report(args.run, args.data_dir, args.digit)
    else:
        out = build_model_report(args.run, args.out, args.data_dir)
    print(f"Report: {out / 'index.html'}")
    return 0


def add_summary(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "summary", help="print a model's layer table (maps, parameters, connections)", description=SUMMARY_DESCRIPTION
    )
    parser.add_argument(
        "--model",
        help="a network (seed, lenet5, ...: `lenet5 models`), or a shipped model, model folder or run whose "
        "network to show (default: the network of the model `predict` uses)",
    )
    add_json(parser)


def run_summary(args: argparse.Namespace) -> int:
    from lenet5.data.normalize import NETWORK_INPUTS
    from lenet5.models import create_model
    from lenet5.models.summary import format_table, layer_table
    from lenet5.store.model_folder import DEFAULT_MODEL, load_meta, resolve_model_folder

    if args.model in NETWORK_INPUTS:
        network, which = args.model, None
    else:
        folder = resolve_model_folder(args.model)
        network = load_meta(folder).model
        which = f"the network of {args.model or DEFAULT_MODEL + ' (the model predict uses by default)'}"
    table = layer_table(create_model(network), network)
    if args.json:
        print(json.dumps(table))
    else:
        print((f"{which}\n" if which else "") + format_table(table))
    return 0


def add_models(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("models", help="list the networks and the shipped trained models")
    add_json(parser)


def run_models(args: argparse.Namespace) -> int:
    from lenet5.data.normalize import NETWORK_INPUTS
    from lenet5.store.model_folder import DEFAULT_MODEL, DEFAULT_READER, load_meta, shipped_models

    networks = [{"name": name, "input": NETWORK_INPUTS[name]} for name in sorted(NETWORK_INPUTS)]
    shipped = []
    for name, folder in shipped_models().items():
        meta = load_meta(folder)
        shipped.append(
            {
                "name": name,
                "network": meta.model,
                "recipe": meta.recipe,
                "classes": meta.classes,  # 11: the ten digits and "junk" (not one whole digit)
                "test_accuracy": meta.test_accuracy,
                "networks_averaged": meta.networks_averaged,  # `lenet5 export RUN RUN...`
                "default": name == DEFAULT_MODEL,
                "default_for_read": name == DEFAULT_READER,
                "folder": str(folder),
            }
        )
    if args.json:
        print(json.dumps({"networks": networks, "shipped": shipped}))
        return 0
    _print_models(networks, shipped)
    return 0


def _print_models(networks: list[dict], shipped: list[dict]) -> None:
    from lenet5.models import get_spec

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
