"""`lenet5 train`: its flags come from lenet5.settings (cli/settings_flags.py); this adds the
run's own (where, resume, processes, output) and starts the training."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

from lenet5.cli.common import TRAIN_HELP, positive_int
from lenet5.cli.settings_flags import add_settings_flags, given_settings
from lenet5.errors import UserError

DESCRIPTION = (
    "Train a model on MNIST (or Fashion-MNIST: --dataset; or your own pictures: --data DIR, fine-tuning a "
    "model with --from). Defaults are the article's seed recipe: --model seed, Adam 1e-3, batch 128, "
    "10 epochs. `--model lenet5` (or --recipe paper) trains the 1998 LeNet-5 with SDLM, one pattern per update, "
    "the MAP criterion, 20 passes. Flags override the recipe. The epoch kept is chosen on a validation split held "
    "out from the training digits; the test set is only reported."
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train", help=TRAIN_HELP, description=DESCRIPTION)
    add_settings_flags(parser)
    parser.add_argument("--out", metavar="DIR", help="run directory to create (default: runs/MODEL-TIMESTAMP)")
    parser.add_argument("--resume", metavar="DIR", help="continue an interrupted run after its last completed epoch")
    parser.add_argument(
        "--nproc",
        type=positive_int,
        default=1,
        metavar="N",
        help="data-parallel training on N processes (paddle.distributed: gloo on CPUs, one process per GPU "
        "with NCCL); --batch-size stays the global batch (default 1)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (log lines only)")
    parser.add_argument(
        "--visualdl",
        action="store_true",
        help="also log costs, accuracies, learning rate and misread validation digits for VisualDL "
        "(view with: visualdl --logdir RUN/visualdl)",
    )
    parser.add_argument("--json", action="store_true", help="print the final summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    from lenet5.settings import from_recipe
    from lenet5.store.run_dir import RunDir
    from lenet5.train import distributed, launcher

    world = distributed.launched_world()
    launcher.check_nproc(args.nproc, world.local_size, world.parallel)
    if args.resume:
        if args.out and Path(args.out) != Path(args.resume):
            raise UserError("--resume and --out name different directories; --resume continues in place")
        settings = RunDir(Path(args.resume)).read_settings()
        out = Path(args.resume)
    else:
        settings = from_recipe(args.recipe, **given_settings(args))
        out = Path(args.out) if args.out else Path("runs") / f"{settings.model}-{datetime.now():%Y%m%d-%H%M%S}"
    options = launcher.RunOptions(
        resume=bool(args.resume), progress=not args.no_progress, visualdl=args.visualdl, json=args.json
    )
    if args.nproc > 1 and not world.parallel:
        # This process starts the workers; each trains the same settings into the same run
        # and finds its rank in the environment.
        distributed.refuse_sequential(settings.optimizer, args.nproc)
        return launcher.run_workers(settings, out, options, args.nproc)
    summary = launcher.train_here(settings, out, options)
    if args.json and world.is_writer:
        print(json.dumps(summary))
    return 0
