"""Mutation score of the rule modules, per module, from mutmut's results in ``mutants/``.

Usage (from the repository root, after ``mutmut run``)::

    python mutation/score.py                       # every mutated module
    python mutation/score.py --only 'target_pinterest_conversions.conversion.text.x_normalize_*'
    python mutation/score.py --only '...' --min 95 # exit 1 below 95 %
    python mutation/score.py --survivors           # also list the mutants that survived

The score is killed / tested: a mutant is killed when a test fails (or times out) with it
in place; "no tests" and survivors count against the score; a mutant left unchecked
(an interrupted run) is an error, as the score would mean nothing.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from collections import defaultdict
from pathlib import Path

KILLED = {1, 3, 36, 37, -24, 24, 152, 255}  # test failure, pytest error, timeouts, type check
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}


def load(mutants: Path) -> dict[str, int | None]:
    """Every mutant's exit code, from the ``.meta`` files mutmut writes beside each module."""
    codes: dict[str, int | None] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        codes.update(json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"])
    return codes


def module_of(name: str) -> str:
    """``pkg.conversion.text.x_normalize_email__mutmut_3`` -> ``pkg.conversion.text``."""
    return name.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[0]


def main(argv: list[str] | None = None) -> int:
    """Print the score per module and in total; return 1 below ``--min``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--only", action="append", default=[], help="mutant name glob")
    parser.add_argument("--min", type=float, default=None, help="lowest total score, in %%")
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants")
    args = parser.parse_args(argv)

    codes = load(args.mutants)
    if args.only:
        codes = {k: v for k, v in codes.items() if any(fnmatch.fnmatch(k, p) for p in args.only)}
    if not codes:
        print("no mutants found: run `mutmut run` first", file=sys.stderr)
        return 2
    unchecked = sorted(k for k, v in codes.items() if v is None)
    if unchecked:
        print(f"{len(unchecked)} mutants were not checked, e.g. {unchecked[0]}", file=sys.stderr)
        return 2

    # module -> [killed, survived, no tests, tested]
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for name, code in codes.items():
        row = rows[module_of(name)]
        if code in SKIPPED:
            continue
        row[3] += 1
        if code in KILLED:
            row[0] += 1
        elif code in NO_TESTS:
            row[2] += 1
        else:
            row[1] += 1
    total = [sum(col) for col in zip(*rows.values(), strict=True)]
    width = max(len(m) for m in rows) + 2
    print(f"{'module':<{width}}{'killed':>8}{'survived':>10}{'no tests':>10}{'score':>9}")
    for module, (killed, survived, no_tests, tested) in [*sorted(rows.items()), ("total", total)]:
        score = 100 * killed / tested if tested else 100.0
        print(f"{module:<{width}}{killed:>8}{survived:>10}{no_tests:>10}{score:>8.1f}%")
    if args.survivors:
        for name, code in sorted(codes.items()):
            if code not in KILLED and code not in SKIPPED:
                print(f"  {'no tests' if code in NO_TESTS else 'survived'}: {name}")
    score = 100 * total[0] / total[3] if total[3] else 100.0
    if args.min is not None and score < args.min:
        print(f"mutation score {score:.1f}% is below the threshold {args.min}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
