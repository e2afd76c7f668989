"""`lenet5` command line: parsing, printing, and the boundary where every error becomes one
line. Each command is a module here with its parser and its run function; the work itself
is in the packages below. Heavy imports (Paddle) happen inside commands so `--help` is instant.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence

# pydantic looks for plugins among every installed distribution's entry points the first time
# it builds a schema: importlib.metadata plus a scan of the environment, a few hundredths of a
# second of every command's start. The command line uses no pydantic plugin. (Set before any
# module below imports pydantic; a user's own setting is kept.)
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from lenet5 import __version__
from lenet5.cli import data, models, pictures, serve
from lenet5.cli.common import TRAIN_HELP
from lenet5.errors import TrainingInterrupted, UserError

Adder = Callable[[argparse._SubParsersAction], None]
Runner = Callable[[argparse.Namespace], int]


# Command name -> (adds its parser, runs it), in the order `lenet5 --help` lists them.
def _add_train(commands: argparse._SubParsersAction) -> None:
    from lenet5.cli import train  # the settings' declarations and pydantic: a fifth of a second

    train.add_parser(commands)


def _run_train(args: argparse.Namespace) -> int:
    from lenet5.cli import train

    return train.run(args)


COMMANDS: dict[str, tuple[Adder, Runner]] = {
    "train": (_add_train, _run_train),
    "evaluate": (models.add_evaluate, models.run_evaluate),
    "data": (data.add_data, data.run_data),
    "predict": (pictures.add_predict, pictures.run_predict),
    "read": (pictures.add_read, pictures.run_read),
    "export": (models.add_export, models.run_export),
    "report": (models.add_report, models.run_report),
    "serve": (serve.add_parser, serve.run),
    "distort-preview": (data.add_preview, data.run_preview),
    "summary": (models.add_summary, models.run_summary),
    "models": (models.add_models, models.run_models),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given the command line, only the command it names gets its full
    set of flags built if that is `train` (whose flags come from the settings' declarations:
    importing them is most of `lenet5 predict one.png`'s start-up otherwise). `lenet5
    --help` still lists every command."""
    parser = argparse.ArgumentParser(
        prog="lenet5",
        description="Handwritten digit recognition with LeNet-5 on PaddlePaddle: train, evaluate, inspect.",
    )
    parser.add_argument("--version", action="version", version=f"lenet5 {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    named = next((a for a in argv if not a.startswith("-")), None) if argv is not None else "train"
    for name, (add, _run) in COMMANDS.items():
        if name == "train" and named != "train":
            commands.add_parser("train", help=TRAIN_HELP)  # not run: its flags are not needed
        else:
            add(commands)
    return parser


_interrupts: list[int] = []  # Ctrl-C seen by this process (see _note_interrupt)


def _note_interrupt(signum: int, frame: object) -> None:
    """Python's own Ctrl-C, remembered: Paddle turns one that lands in its import into an
    ImportError, which is then known for what it is."""
    _interrupts.append(signum)
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(sys.argv[1:] if argv is None else list(argv)).parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # file names that are not UTF-8 printed as their own bytes
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _note_interrupt)
    try:
        status = COMMANDS[args.command][1](args)
        sys.stdout.flush()  # inside the try: a reader that left shows up here, not at exit
        return status
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TrainingInterrupted as exc:
        print(_interrupted(exc), file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except ImportError:
        if _interrupts:  # Ctrl-C while Paddle was being imported
            print("interrupted", file=sys.stderr)
            return 130
        raise
    except OSError as exc:
        # The last line of defence for files: whatever escaped a specific message still
        # reaches the user as one line naming the path, never as a traceback.
        where = exc.filename or getattr(args, "out", None) or "lenet5"
        print(f"error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2


def _interrupted(exc: TrainingInterrupted) -> str:
    if not exc.resumable:
        return f"Interrupted before the run started; nothing was saved in {exc.run_dir}."
    return (
        f"Interrupted; {exc.completed_epochs} completed epoch(s) are saved in {exc.run_dir}.\n"
        f"Continue with: lenet5 train --resume {exc.run_dir}"
    )


def _quiet_broken_pipe() -> int:
    """stdout's reader went away (`lenet5 ... | head`): stop quietly, as Unix tools do.

    Later writes, including the interpreter's own flush at exit, go to /dev/null so
    Python prints no second error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe
