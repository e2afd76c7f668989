"""Time of the photo's first stage (find_sheet + rectify + find_writing) on one core.

Synthetic 1024 x 768 frames (lenet5.photo.synth): a sheet with numbers, ruled lines, a box
and dust on each kind of desk. Prints the median and the best of N runs per frame, for
each step and in all, in milliseconds of wall time (time.perf_counter), and the whole
stage's CPU time (time.process_time), which a machine shared with other work inflates less.

    .venv/bin/python bench/photo_layout_speed.py [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2

from lenet5.photo import synth
from lenet5.photo.sheet import find_sheet, rectify
from lenet5.photo.writing import find_writing


def page(seed: int) -> synth.Page:
    p = synth.blank_page(600, 800, seed=seed)
    synth.ruled(p, 56, 90)
    synth.write(p, "4271", 80, 200, 48, 4)
    synth.write(p, "358", 330, 316, 44, 4)
    synth.print_text(p, "Amount:", 60, 460, 18)
    synth.rectangle(p, (200, 420, 420, 490), 2)
    synth.write(p, "16", 260, 475, 40, 4)
    synth.write(p, "90", 120, 600, 44, 4)
    synth.specks(p, 40, seed=seed)
    return p


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one core, as the budget says
    totals: list[float] = []
    cpus: list[float] = []
    for seed, desk in enumerate(synth.DESKS):
        frame = synth.photograph(page(seed), (1024, 768), desk=desk, cover=0.9, hand=seed % 2 == 1, seed=seed).frame
        times: dict[str, list[float]] = {"sheet": [], "rectify": [], "writing": [], "total": []}
        cpu: list[float] = []
        for _ in range(args.runs):
            c0 = time.process_time()
            t0 = time.perf_counter()
            sheet = find_sheet(frame)
            t1 = time.perf_counter()
            assert sheet is not None, desk
            rectified = rectify(frame, sheet)
            t2 = time.perf_counter()
            find_writing(rectified.image)
            t3 = time.perf_counter()
            cpu.append(1000 * (time.process_time() - c0))
            for key, value in zip(times, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                times[key].append(1000 * value)
        totals += times["total"]
        cpus += cpu
        shape = rectified.image.shape
        cells = "  ".join(f"{k} {statistics.median(v):5.1f} (best {min(v):5.1f})" for k, v in times.items())
        print(f"{desk:9s} sheet {shape[1]}x{shape[0]}: {cells}  cpu {statistics.median(cpu):5.1f}")
    print(
        f"all frames, wall: median {statistics.median(totals):.1f} ms, best {min(totals):.1f}, worst {max(totals):.1f}"
    )
    print(f"all frames, cpu:  median {statistics.median(cpus):.1f} ms, best {min(cpus):.1f}, worst {max(cpus):.1f}")


if __name__ == "__main__":
    main()
