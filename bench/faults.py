"""Fault figures: runs the fault tests (tests/test_service_faults.py) and prints what each measured.

    .venv/bin/python bench/faults.py [--runs 3]

The tests assert the limits (reconciled within 60 s, nothing lost, no double
dial); this prints the figures behind them, with the machine, for
bench/RESULTS.md: each test file run --runs times, every numeric figure as
min / median / max over the runs (bench/spread.py).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from machine import describe  # noqa: E402  (bench/machine.py)
from spread import add_runs_argument, print_table  # noqa: E402  (bench/spread.py)

TESTS = ["tests/test_service_faults.py",
         "tests/test_ivr_runner.py::test_recordings_disk_full_still_stores_every_keypress"]


def one_run(tmp: Path, n: int) -> tuple[int, list[dict]]:
    """One pass of the fault tests; their exit code and the figures they wrote."""
    figures = tmp / f"figures-{n}.jsonl"
    env = dict(os.environ, CALLCENTER_FAULT_FIGURES=str(figures))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          f"--basetemp={tmp}/pt-{n}", *TESTS], cwd=ROOT, env=env)
    rows = [json.loads(line) for line in figures.read_text(encoding="utf-8").splitlines()] if figures.exists() else []
    return run.returncode, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_runs_argument(parser)
    args = parser.parse_args()
    worst = 0
    by_fault: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="cc-faults-") as tmp:
        for n in range(1, args.runs + 1):
            code, rows = one_run(Path(tmp), n)
            worst = worst or code
            for row in rows:
                figures = by_fault.setdefault(row.pop("fault"), {})
                for name, value in row.items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        figures.setdefault(name, []).append(float(value))
                    else:                               # e.g. attempts per instance: shown as they came
                        print(f"  run {n}: {name} {value}")
    print(f"\nmachine: {describe()}")
    for fault, figures in by_fault.items():
        if figures:
            print_table(f"{fault} ({args.runs} run(s))", figures, fmt="{:,.2f}")
    return worst


if __name__ == "__main__":
    sys.exit(main())
