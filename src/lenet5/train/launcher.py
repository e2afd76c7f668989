"""`lenet5 train --nproc N`: start N data-parallel workers on this machine and watch them.

The workers are started with `paddle.distributed.spawn` (gloo on CPUs, NCCL with --device
gpu), each running the same `lenet5 train` command line; lenet5.train.distributed and the
loop do the rest. Several machines are `paddle.distributed.launch`'s job (README: "Training
on several processes"); the workers it starts run the very same code.

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
from collections.abc import Sequence
from pathlib import Path

from lenet5.errors import UserError
from lenet5.runtime import import_paddle


def worker(argv: Sequence[str]) -> None:
    """One worker: the CLI on the same arguments (the environment says which rank it is)."""
    # Paddle answers SIGTERM with a multi-line C++ report; when spawn stops the survivors of
    # a failed worker, they should just stop.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Ctrl-C is the parent's to handle (run_workers). A worker interrupted on its own would
    # leave the others blocked in a collective, which gloo ends with an abort.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from lenet5.cli import main

    status = main(list(argv))
    if status:
        sys.exit(status)


def run_workers(argv: Sequence[str], nproc: int, device: str, run_root: Path) -> int:
    """Start `nproc` workers on `argv`, wait for all of them; the exit status to return."""
    paddle = import_paddle()
    warnings.filterwarnings("ignore", message="Your model will be trained under CPUONLY mode")
    # The workers import Paddle before lenet5 can quiet it (spawn's bootstrap comes first).
    quiet = "ignore:No ccache found,ignore:When training,ignore:resource_tracker"
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (os.environ.get("PYTHONWARNINGS"), quiet)))
    logging.disable(logging.INFO)  # spawn logs the ports it picked
    backend = "nccl" if device == "gpu" else "gloo"
    context = paddle.distributed.spawn(worker, args=(list(argv),), nprocs=nproc, backend=backend, join=False)
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
        print(f"Interrupted. {_resume_hint(run_root, nproc)}", file=sys.stderr)
        return 130
    except Exception as exc:  # spawn reports a failed worker as a bare Exception
        return _report_failure(str(exc), run_root, nproc)
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
    metrics = run_root / "metrics.jsonl"
    try:
        completed = sum(1 for line in metrics.read_text().splitlines() if json.loads(line))
    except (OSError, ValueError):
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
