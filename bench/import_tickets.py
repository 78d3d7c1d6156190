"""Benchmark: import 100,000 synthetic tickets from CSV and from xlsx, then re-import (idempotent).

Run: ``.venv/bin/python bench/import_tickets.py [--rows N] [--no-xlsx]``

Uses a scratch database on ``$CALLCENTER_DSN``'s server when set (created and
dropped here), otherwise an embedded PostgreSQL in a temporary directory.
Prints rows/s per phase and the machine it ran on; figures, not assertions.
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
from datetime import date
from pathlib import Path

import asyncpg

from callcenter.db.database import drop_database_on, ensure_database
from callcenter.db.embedded import start_embedded
from callcenter.db.migrations import migrate
from callcenter.transfer import sample
from callcenter.transfer.importer import import_tickets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402  (bench/machine.py)


async def timed_import(dsn: str, path: Path, label: str, rows: int) -> float:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        started = time.perf_counter()
        report = await import_tickets(pool, path)
        elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    assert report.rows == rows and report.rejected == 0, report
    print(f"{label:<28} {rows:>8} rows {elapsed:8.2f} s {rows / elapsed:>10,.0f} rows/s   "
          f"(inserted {report.inserted}, updated {report.updated}, unchanged {report.unchanged})")
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-xlsx", action="store_true", help="skip the (slow) xlsx part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cc-bench-") as tmp:
        work = Path(tmp)
        server = os.environ.get("CALLCENTER_DSN")
        if server is None:
            server = start_embedded(work / "pgdata")
        conn = await asyncpg.connect(server)
        pg_version = await conn.fetchval("SHOW server_version")
        await conn.close()
        print(f"machine: {describe()}; platform.processor() = {platform.processor()!r}; "
              f"PostgreSQL {pg_version}")

        csv_path, xlsx_path = work / "tickets.csv", work / "tickets.xlsx"
        started = time.perf_counter()
        sample.write_sample(csv_path, args.rows, seed=1, start=date(2023, 6, 19), months=12)
        print(f"generated {args.rows} rows of csv in {time.perf_counter() - started:.1f} s "
              f"({csv_path.stat().st_size / 1e6:.1f} MB)")
        if not args.no_xlsx:
            started = time.perf_counter()
            sample.write_sample(xlsx_path, args.rows, seed=1, start=date(2023, 6, 19), months=12, fmt="xlsx")
            print(f"generated {args.rows} rows of xlsx in {time.perf_counter() - started:.1f} s "
                  f"({xlsx_path.stat().st_size / 1e6:.1f} MB)")

        for fmt, path in (("csv", csv_path), ("xlsx", xlsx_path)):
            if fmt == "xlsx" and args.no_xlsx:
                continue
            dsn = await ensure_database(server, name := f"cc_bench_{uuid.uuid4().hex[:8]}")
            try:
                conn = await asyncpg.connect(dsn)
                await migrate(conn)
                await conn.close()
                await timed_import(dsn, path, f"{fmt} import (new)", args.rows)
                await timed_import(dsn, path, f"{fmt} re-import (unchanged)", args.rows)
            finally:
                await drop_database_on(server, name)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
