"""Accuracy of `lenet5 predict` / `lenet5 read` on full-frame phone photos of a sheet on a desk.

    .venv/bin/python bench/photo_frames.py [--kinds K ...] [--count 100] [--seed 1] [--model M]
                                           [--read-model M] [--keep DIR] [--json-out FILE]

For each kind of bench/desk_photos.py, N pictures are written to a folder (temporary, or
--keep DIR/KIND) and the CLI is run on the folder once, as a user would: `lenet5 predict DIR
--json` for desk_digit and small_digit_page, `lenet5 read DIR --json` for the number kinds.
Every JSON line is one file; a {"file", "error"} line (or a file with no line) is a miss.

Right means: the digit equals the answer (predict); the file's numbers joined by spaces, or
its single "number", equal the answer (read; a future output listing several numbers as
"numbers": [{"number": ...}, ...] is accepted too). Reported per kind: accuracy, errors (of
which "no ink"), and wall time per picture: the whole CLI run divided by N (model loading
included), and the steady time between consecutive answers.

Seed 1 is the tuning set; seed 0 is reserved as the report set (tune nothing on it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from desk_photos import COMMAND, KINDS, write_kind


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("lenet5")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lenet5"]


def readings(line: dict[str, Any]) -> tuple[str | None, list[str] | None]:
    """A read/predict JSON object -> (its single answer, its list of numbers or None)."""
    if "numbers" in line and isinstance(line["numbers"], list):
        numbers = [str(n["number"]) if isinstance(n, dict) else str(n) for n in line["numbers"]]
    else:
        numbers = None
    if "number" in line and line["number"] is not None:
        return str(line["number"]), numbers
    if "digit" in line and line["digit"] is not None:
        return str(line["digit"]), numbers
    return None, numbers


def is_right(line: dict[str, Any], answer: str) -> bool:
    single, numbers = readings(line)
    return (numbers is not None and " ".join(numbers) == answer) or single == answer


def run_cli(command: list[str], timeout: float) -> tuple[list[tuple[float, dict[str, Any]]], float, str]:
    """Run the CLI; its JSON lines with the time each arrived, the wall time, and stderr's tail."""
    started = time.perf_counter()
    lines = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for text in proc.stdout:
            text = text.strip()
            if text.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    lines.append((time.perf_counter() - started, json.loads(text)))
            if time.perf_counter() - started > timeout:
                proc.kill()
                break
        stderr = proc.stderr.read()
        proc.wait()
    return lines, time.perf_counter() - started, stderr[-2000:]


def measure(
    kind: str, count: int, seed: int, folder: Path, model: str | None, timeout: float, show: int
) -> dict[str, Any]:
    started = time.perf_counter()
    answers = write_kind(kind, count, seed, folder)
    generate_s = time.perf_counter() - started
    command = [*_cli(), COMMAND[kind], str(folder), "--json"] + (["--model", model] if model else [])
    lines, wall, stderr = run_cli(command, timeout)
    by_file = {Path(obj.get("file", "")).name: (t, obj) for t, obj in lines}
    right = errors = no_ink = missing = 0
    wrong: list[str] = []
    groups: dict[str, Counter] = defaultdict(Counter)
    for name, truth in answers.items():
        answer = truth["answer"]
        group = truth.get("variant") or ""
        got = by_file.get(name)
        if got is None:
            missing += 1
            ok, said = False, "(no line)"
        elif "error" in got[1]:
            errors += 1
            no_ink += "no ink" in str(got[1]["error"]).lower()
            ok, said = False, f"error: {got[1]['error'][-80:]}"
        else:
            ok = is_right(got[1], answer)
            single, numbers = readings(got[1])
            said = " ".join(numbers) if numbers is not None else str(single)
        right += ok
        groups[group]["n"] += 1
        groups[group]["right"] += ok
        if not ok and len(wrong) < show:
            wrong.append(f"{name}: {answer} -> {said}")
    times = sorted(t for t, _ in lines)
    steady = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else float("nan")
    row = {
        "kind": kind,
        "command": COMMAND[kind],
        "n": count,
        "right": right,
        "accuracy": right / count if count else 0.0,
        "errors": errors,
        "no_ink": no_ink,
        "missing": missing,
        "wall_s": round(wall, 2),
        "ms_per_picture": round(1000 * wall / max(count, 1), 1),
        "ms_per_picture_steady": round(1000 * steady, 1),
        "generate_ms_per_picture": round(1000 * generate_s / max(count, 1), 1),
        "wrong_examples": wrong,
    }
    if len(groups) > 1 or "" not in groups:
        row["by_variant"] = {g: {"n": c["n"], "accuracy": c["right"] / c["n"]} for g, c in sorted(groups.items())}
    if missing == count:
        row["stderr_tail"] = stderr
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--count", type=int, default=100, help="pictures per kind (default 100)")
    parser.add_argument("--seed", type=int, default=1, help="1: the tuning set (default); 0 is the report set")
    parser.add_argument("--model", help="model for both commands (default: each command's own default)")
    parser.add_argument("--read-model", help="model for `lenet5 read` only (overrides --model there)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="write the pictures to DIR/KIND and keep them")
    parser.add_argument("--json-out", type=Path, metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--errors", type=int, default=5, help="wrong readings to show per kind (default 5)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per CLI run (default 3600)")
    args = parser.parse_args()

    rows = []
    scratch = None if args.keep else Path(tempfile.mkdtemp(prefix="photo_frames-"))
    try:
        for kind in args.kinds:
            folder = (args.keep or scratch) / kind
            if folder.exists():
                shutil.rmtree(folder)
            model = (args.read_model or args.model) if COMMAND[kind] == "read" else args.model
            row = measure(kind, args.count, args.seed, folder, model, args.timeout, args.errors)
            rows.append(row)
            print(
                f"{kind:20s} {row['command']:8s} {100 * row['accuracy']:5.1f}%  ({row['right']}/{row['n']})  "
                f"errors {row['errors']} (no ink {row['no_ink']})  missing {row['missing']}  "
                f"{row['ms_per_picture']:.0f} ms/picture ({row['ms_per_picture_steady']:.0f} steady)",
                flush=True,
            )
            for group, stats in row.get("by_variant", {}).items():
                print(f"    {group:18s} {100 * stats['accuracy']:5.1f}%  (n={stats['n']})")
            for example in row["wrong_examples"]:
                print(f"    wrong: {example}")
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if args.json_out:
        from common import machine

        from lenet5 import atomic

        payload = {
            "machine": machine(),
            "seed": args.seed,
            "count": args.count,
            "model": args.model,
            "read_model": args.read_model,
            "kinds": rows,
        }
        atomic.write_json(args.json_out, payload)
        print(f"wrote {args.json_out}")


if __name__ == "__main__":
    main()
