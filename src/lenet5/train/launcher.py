"""`lenet5 train --nproc N`: start N data-parallel workers on this machine and watch them.

The workers are started with `paddle.distributed.spawn` (gloo on CPUs, NCCL with --device
gpu), each entering `worker` with the same settings; lenet5.train.distributed and the loop
do the rest. Several machines are `paddle.distributed.launch`'s job (README: "Training on
several processes"); the processes it starts run the `lenet5 train` command line, which
trains in place (train_here), the very same code.

If a worker dies, spawn stops the others at once; this turns what happened into one line
naming the rank, and says how to continue.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from lenet5.errors import UserError
from lenet5.runtime import import_paddle
from lenet5.settings import TrainSettings
from lenet5.store.run_dir import RunDir

PR_SET_PDEATHSIG = 1  # prctl(2)


@dataclass(frozen=True)
class RunOptions:
    """How a training process runs, beside its settings: none of it changes the numbers."""

    resume: bool = False
    progress: bool = True  # progress bars (False: --no-progress)
    visualdl: bool = False
    json: bool = False  # the summary as one JSON line at the end, and nothing else on stdout


def train_here(settings: TrainSettings, out: Path, options: RunOptions, command: list[str] | None = None) -> dict:
    """Train in this process (alone, or as a worker that a launcher started)."""
    from lenet5.train.loop import train

    echo = (lambda _message: None) if options.json else print
    progress = None if options.progress else False
    return train(
        settings, out, resume=options.resume, echo=echo, progress=progress, visualdl=options.visualdl, command=command
    )


def worker(settings_json: str, out: str, options: RunOptions, command: list[str], parent: int) -> None:
    """One spawned worker: the same settings into the same run (the environment says which
    rank it is). Errors are printed as one line, as the command line prints them."""
    die_with_parent(parent)
    # Paddle answers SIGTERM with a multi-line C++ report; when spawn stops the survivors of
    # a failed worker, they should just stop.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Ctrl-C is the parent's to handle (run_workers). A worker interrupted on its own would
    # leave the others blocked in a collective, which gloo ends with an abort.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = TrainSettings.model_validate_json(settings_json)
    try:
        summary = train_here(settings, Path(out), options, command)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except OSError as exc:  # the command line's last line of defence for files, in a worker
        print(f"error: {exc.filename or out}: {exc.strerror or exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    if options.json and "rank" not in summary:
        print(json.dumps(summary), flush=True)


def die_with_parent(parent: int) -> None:
    """Ask the kernel to stop this process when the process that started it dies (Linux's
    parent-death signal), so a killed `lenet5 train --nproc N` leaves no worker training on."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return  # not Linux: the parent's own handlers stop the workers
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def run_workers(settings: TrainSettings, out: Path, options: RunOptions, nproc: int) -> int:
    """Start `nproc` workers on the settings, wait for all of them; the exit status to return."""
    paddle = import_paddle()
    warnings.filterwarnings("ignore", message="Your model will be trained under CPUONLY mode")
    # The workers import Paddle before lenet5 can quiet it (spawn's bootstrap comes first).
    quiet = "ignore:No ccache found,ignore:When training,ignore:resource_tracker"
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (os.environ.get("PYTHONWARNINGS"), quiet)))
    logging.disable(logging.INFO)  # spawn logs the ports it picked
    backend = "nccl" if settings.device == "gpu" else "gloo"
    arguments = (settings.model_dump_json(), str(out), options, list(sys.argv), os.getpid())
    context = paddle.distributed.spawn(worker, args=arguments, nprocs=nproc, backend=backend, join=False)
    try:
        while not context.join():
            pass
    except KeyboardInterrupt:
        # Ctrl-C: stop every worker at once. Rank 0 writes each file under a temporary name
        # and renames it, so the completed epochs are intact and --resume continues them.
        for process in context.processes:
            if process.is_alive():
                process.terminate()
        for process in context.processes:
            process.join()
        print(f"Interrupted. {_resume_hint(out, nproc)}", file=sys.stderr)
        return 130
    except Exception as exc:  # spawn reports a failed worker as a bare Exception
        return _report_failure(str(exc), out, nproc)
    return 0


def _report_failure(report: str, run_root: Path, nproc: int) -> int:
    """spawn's account of the first worker to fail, as one line (or none, when the worker
    has already printed its own one-line error)."""
    signalled = re.search(r"Process (\d+) terminated with signal (\w+)", report)
    exited = re.search(r"Process (\d+) terminated with exit code (-?\d+)", report)
    if exited:
        return int(exited.group(2))  # the worker printed its own error line
    resume = _resume_hint(run_root, nproc)
    if signalled:
        rank, name = signalled.groups()
        message = f"worker rank {rank} was killed ({name}); the other workers were stopped. {resume}"
        print(f"error: {message}", file=sys.stderr)
        return 1
    failed = re.search(r"Process (\d+) terminated with the following error", report)
    last = next((line for line in reversed(report.strip().splitlines()) if line.strip()), "unknown error")
    rank = failed.group(1) if failed else "?"
    print(f"error: worker rank {rank} failed: {last.strip()}. {resume}", file=sys.stderr)
    return 1


def _resume_hint(run_root: Path, nproc: int) -> str:
    try:
        completed = len(RunDir(run_root).read_metrics())
    except UserError:  # no epoch yet, or nothing readable: either way nothing to continue
        completed = 0
    if not completed:
        return "No epoch was completed."
    return f"{completed} completed epoch(s) are saved; continue with: lenet5 train --resume {run_root} --nproc {nproc}"


def check_nproc(nproc: int, world_local_size: int, under_launcher: bool) -> None:
    if under_launcher and nproc > 1 and nproc != world_local_size:
        raise UserError(
            f"--nproc {nproc}: this process was started by a launcher with {world_local_size} "
            "processes on this node; leave --nproc out when the launcher starts the workers"
        )
