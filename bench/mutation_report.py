"""The score of `make mutation`, per module: what mutmut recorded in mutants/**/*.py.meta.

Score = (killed + timeout) / (mutants checked); "no tests" (no selected test reaches the
mutated function) counts as surviving. Prints a table and every survivor's name, so each
can be killed by a test or listed as equivalent in docs/results.md.
    python bench/mutation_report.py [--survivors]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

MUTANTS = Path("mutants")
DETECTED = ("killed", "timeout", "caught by type check", "segfault")
UNDETECTED = ("survived", "no tests", "suspicious")


def module_results() -> dict[str, dict[str, str]]:
    """{module path: {mutant name: status}} for every module mutmut has run on."""
    results = {}
    for meta in sorted(MUTANTS.glob("src/**/*.py.meta")):
        exit_codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        module = str(meta.relative_to(MUTANTS / "src"))[: -len(".meta")]
        results[module] = {name: status_by_exit_code[code] for name, code in exit_codes.items()}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="also list each surviving mutant")
    args = parser.parse_args()
    results = module_results()
    if not results:
        raise SystemExit("no mutmut results under mutants/: run `make mutation` first")
    print("| module | mutants | killed | timeout | survived | no tests | not checked | score |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for module, statuses in results.items():
        counts = Counter(statuses.values())
        checked = sum(n for status, n in counts.items() if status != "not checked")
        detected = sum(counts[status] for status in DETECTED)
        score = f"{100 * detected / checked:.1f}%" if checked else "-"
        print(
            f"| {module} | {len(statuses)} | {counts['killed']} | {counts['timeout']} | {counts['survived']} | "
            f"{counts['no tests']} | {counts['not checked']} | {score} |"
        )
    if args.survivors:
        for statuses in results.values():
            for name, status in sorted(statuses.items()):
                if status in UNDETECTED:
                    print(f"{status}: {name}")


if __name__ == "__main__":
    main()
