"""Fault figures: runs the fault tests (tests/test_service_faults.py) and prints what each measured.

    .venv/bin/python bench/faults.py

The tests assert the limits (reconciled within 60 s, nothing lost, no double
dial); this prints the figures behind them, with the machine, for
bench/RESULTS.md.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from machine import describe  # noqa: E402  (bench/machine.py)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="cc-faults-") as tmp:
        figures = Path(tmp) / "figures.jsonl"
        env = dict(os.environ, CALLCENTER_FAULT_FIGURES=str(figures))
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={tmp}/pt",
                              "tests/test_service_faults.py", "tests/test_ivr_runner.py::"
                              "test_recordings_disk_full_still_stores_every_keypress"], cwd=ROOT, env=env)
        print(f"\nmachine: {describe()}")
        for line in figures.read_text(encoding="utf-8").splitlines() if figures.exists() else []:
            row = json.loads(line)
            fault = row.pop("fault")
            print(f"  {fault:<32} " + ", ".join(f"{k} {v}" for k, v in row.items()))
        return run.returncode


if __name__ == "__main__":
    sys.exit(main())
