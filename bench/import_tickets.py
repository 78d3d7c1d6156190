"""Benchmark: import 100,000 synthetic tickets from CSV and from xlsx, then re-import (idempotent).

Run: ``.venv/bin/python bench/import_tickets.py [--rows N] [--runs N] [--no-xlsx] [--no-csv] [--data DIR]``

Each run imports into a fresh, migrated database (new), then imports the same
file again (re-import, every row unchanged).  Uses scratch databases on
``$CALLCENTER_DSN``'s server when set (created and dropped here), otherwise an
embedded PostgreSQL in a temporary directory.  Prints each run, then min /
median / max rows/s per figure and the machine it ran on; figures, not assertions.
Beside the wall time it prints the CPU seconds of the import (this process) and of
the database server (bench/proc_cpu.py): on a shared machine those move far less than
wall time between runs, so two checkouts compare by them.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import asyncpg

# This checkout's code, not whatever the venv's editable install points at (/work/main): an A/B of two
# worktrees must measure the two.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from callcenter.db.database import _init_connection, drop_database_on, ensure_database  # noqa: E402
from callcenter.db.embedded import start_embedded  # noqa: E402
from callcenter.db.migrations import migrate  # noqa: E402
from callcenter.transfer import sample  # noqa: E402
from callcenter.transfer.importer import import_tickets  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, describe_checkout  # noqa: E402  (bench/machine.py)
from proc_cpu import postmaster_of, server_cpu_seconds  # noqa: E402  (bench/proc_cpu.py)
from spread import add_runs_argument, print_table  # noqa: E402  (bench/spread.py)


@dataclass(frozen=True)
class Measured:
    rows_per_s: float
    python_cpu: float            # seconds, this process (the reading thread included)
    child_cpu: float             # seconds, its child processes (a big CSV's second half is read by one)
    server_cpu: float | None     # seconds, the whole PostgreSQL server (None: not measurable here)


async def timed_import(pool: asyncpg.Pool, path: Path, label: str, rows: int, postmaster: int | None) -> Measured:
    """One import_tickets call: rows/s by wall time (as a clerk waits for it) and the CPU it took."""
    server_before, python_before, child_before = server_cpu_seconds(postmaster), time.process_time(), _child_cpu()
    started = time.perf_counter()
    report = await import_tickets(pool, path)
    elapsed = time.perf_counter() - started
    python_cpu, server_after = time.process_time() - python_before, server_cpu_seconds(postmaster)
    child_cpu = _child_cpu() - child_before
    server_cpu = None if server_before is None or server_after is None else server_after - server_before
    assert report.rows == rows and report.rejected == 0, report
    server_text = "?" if server_cpu is None else f"{server_cpu:.2f}"
    print(f"  {label:<22} {rows:>8} rows {elapsed:8.2f} s {rows / elapsed:>10,.0f} rows/s   "
          f"cpu: python {python_cpu:.2f} s (+ child {child_cpu:.2f} s) + postgres {server_text} s   "
          f"(inserted {report.inserted}, updated {report.updated}, unchanged {report.unchanged})", flush=True)
    return Measured(rows / elapsed, python_cpu, child_cpu, server_cpu)


def _child_cpu() -> float:
    """CPU seconds of this process's children that have exited (the import's reading process)."""
    times = os.times()
    return times.children_user + times.children_system


async def one_run(server: str, path: Path, fmt: str, rows: int, postmaster: int | None) -> tuple[Measured, Measured]:
    """(new, re-import) into a fresh database."""
    dsn = await ensure_database(server, name := f"cc_bench_import_{uuid.uuid4().hex[:8]}")
    try:
        conn = await asyncpg.connect(dsn)
        await migrate(conn)
        await conn.close()
        # The service's own connection set-up: jsonb columns (rule sets' answer labels) decode as JSON.
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, init=_init_connection)
        try:
            new = await timed_import(pool, path, f"{fmt} new", rows, postmaster)
            again = await timed_import(pool, path, f"{fmt} re-import", rows, postmaster)
        finally:
            await pool.close()
    finally:
        await drop_database_on(server, name)
    return new, again


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-xlsx", action="store_true", help="skip the xlsx part")
    parser.add_argument("--no-csv", action="store_true", help="skip the csv part")
    parser.add_argument("--data", type=Path, help="keep the sample files here and reuse them on the next run "
                                                     "(an A/B of two checkouts then reads the very same files)")
    add_runs_argument(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cc-bench-") as tmp:
        work = Path(tmp)
        server = os.environ.get("CALLCENTER_DSN") or start_embedded(work / "pgdata")
        conn = await asyncpg.connect(server)
        pg_version = await conn.fetchval("SHOW server_version")
        # Counted only for the bench's own server: a shared one does other people's work too.
        postmaster = None if os.environ.get("CALLCENTER_DSN") else postmaster_of(
            await conn.fetchval("SELECT pg_backend_pid()"))
        await conn.close()
        machine = (f"{describe()}; platform.processor() = {platform.processor()!r}; PostgreSQL {pg_version}; "
                   f"load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} at start")
        print(f"machine: {machine}")
        print(f"code: {describe_checkout(ROOT)}")

        formats = [fmt for fmt, skip in (("csv", args.no_csv), ("xlsx", args.no_xlsx)) if not skip]
        data = args.data or work
        data.mkdir(parents=True, exist_ok=True)
        paths = {}
        for fmt in formats:
            paths[fmt] = data / f"tickets-{args.rows}.{fmt}"
            if paths[fmt].exists():
                print(f"reusing {paths[fmt]} ({paths[fmt].stat().st_size / 1e6:.1f} MB)")
                continue
            started = time.perf_counter()
            partial = paths[fmt].with_name(f"partial-{paths[fmt].name}")      # never reuse a half-written file
            sample.write_sample(partial, args.rows, seed=1, start=date(2023, 6, 19), months=12, fmt=fmt)
            partial.rename(paths[fmt])
            print(f"generated {args.rows} rows of {fmt} in {time.perf_counter() - started:.1f} s "
                  f"({paths[fmt].stat().st_size / 1e6:.1f} MB)")

        figures: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        for run in range(1, args.runs + 1):
            print(f"run {run}/{args.runs}")
            for fmt in formats:        # interleaved, so a burst of load on the box hits both formats alike
                for kind, measured in zip(("new", "re-import"), await one_run(server, paths[fmt], fmt, args.rows,
                                                                                 postmaster)):
                    figures.setdefault(f"{fmt} {kind}", []).append(measured.rows_per_s)
                    cpu.setdefault(f"{fmt} {kind}: python", []).append(measured.python_cpu)
                    cpu.setdefault(f"{fmt} {kind}: python child", []).append(measured.child_cpu)
                    if measured.server_cpu is not None:
                        cpu.setdefault(f"{fmt} {kind}: postgres", []).append(measured.server_cpu)
        print_table(f"rows/s over {args.runs} run(s), {args.rows:,} rows — {machine}", figures, fmt="{:,.0f}")
        print_table(f"CPU seconds per import of {args.rows:,} rows (this process; the PostgreSQL server)", cpu,
                    fmt="{:,.2f}")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
