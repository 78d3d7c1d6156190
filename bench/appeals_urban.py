"""Benchmark: the daily appeal candidate run, and the urban-case import and statistics.

Run: ``.venv/bin/python bench/appeals_urban.py [--tickets-per-year N] [--cases N]``

Seeds a scratch database (``$CALLCENTER_DSN``'s server when set, else an
embedded PostgreSQL in a temporary directory) with 100 days of tickets at the
given yearly rate (default 100,000: the design size for one street) and times
the candidate rules over the last report day, which compare it with the 91
days before.  Then imports a CSV of urban cases and times the monthly urban
statistics.  Prints figures and the machine; asserts nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402
from spread import add_runs_argument, format_spread  # noqa: E402  (bench/spread.py)
from scratch import scratch_database  # noqa: E402

from callcenter.db import appeals as appeals_repo  # noqa: E402
from callcenter.db import urban as urban_repo  # noqa: E402
from callcenter.db.database import _init_connection  # noqa: E402
from callcenter.db.migrations import migrate  # noqa: E402
from callcenter.ledger.appeals import AppealRules  # noqa: E402
from callcenter.transfer.urban_import import import_urban_cases  # noqa: E402

BJ = timezone(timedelta(hours=8))
DAY = date(2024, 5, 20)
END = datetime(2024, 5, 20, 12, tzinfo=BJ)
DAYS = 100

SEED = """
INSERT INTO tickets (ticket_no, category_l1, category_l2, title, content, called_at, closed_at, address, caller_phone,
                     street, status)
SELECT 'A' || lpad(g::text, 8, '0'), c.name, '二级' || (g % 9), '工单 ' || g,
       CASE WHEN g % 97 = 0 THEN '要求退还定金' ELSE '内容' END,
       called, CASE WHEN g % 3 = 0 THEN called + interval '2 days' END,
       CASE WHEN g % 53 = 0 THEN '回龙观西大街' ELSE '育新花园' || (g::bigint * 7919 % 800) || '号楼' END,
       '139' || lpad((g::bigint * 104729 % 20000)::text, 8, '0'),
       CASE WHEN g % 211 = 0 THEN '清河街道' ELSE '西三旗街道' END, 'called_back'
  FROM generate_series(1, $1::int) AS g
  CROSS JOIN LATERAL (SELECT $2::timestamptz - make_interval(secs => (g::bigint * 86400 * $3 / $1)::double precision)
                             AS called) t
  JOIN (SELECT name, row_number() OVER (ORDER BY name) - 1 AS i FROM categories) c ON c.i = g % 18
"""


def write_cases(path: Path, n: int) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(["案件编号", "案件来源", "案件类型", "问题描述", "问题点位", "所在社区", "上报人", "上报时间"])
        for i in range(n):
            w.writerow([f"U{i:07d}", "网格巡查" if i % 3 else "城管平台", ("暴露垃圾", "违规停车", "占道经营")[i % 3],
                        "描述", f"育新花园{i % 400}号楼", f"社区{i % 30}", "网格员",
                        (datetime(2024, 4, 20) + timedelta(minutes=i * 2)).strftime("%Y-%m-%d %H:%M")])
    return path


async def measure(dsn: str, per_year: int, cases: int, repeat: int, workdir: Path) -> None:
    tickets = per_year * DAYS // 365
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        started = time.perf_counter()
        await conn.execute(SEED, tickets, END, DAYS)
        print(f"seeded {tickets:,} tickets over {DAYS} days ({per_year:,}/year) in {time.perf_counter() - started:.1f} s")
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, init=_init_connection)
    try:
        async with pool.acquire() as conn:
            rules = AppealRules(keywords=("退还定金",), categories=("劳动和社会保障",), address_keywords=("育新花园",))
            await appeals_repo.save_rules(conn, rules, actor="bench")
            start = END - timedelta(days=1)
            timings = []
            for i in range(repeat):
                await conn.execute("DELETE FROM appeal_candidates")
                t = time.perf_counter()
                added = await appeals_repo.generate_candidates(conn, DAY, start, END)
                timings.append(time.perf_counter() - t)
            today = await conn.fetchval("SELECT count(*) FROM tickets WHERE called_at >= $1 AND called_at < $2", start, END)
            print(f"daily candidate run: {today} tickets of the day vs {DAYS - 1} days of history → {added} candidates; "
                  f"median (min–max) {format_spread([t * 1000 for t in timings], '{:,.0f}', 'ms')}, n={repeat}")
        path = write_cases(workdir / "cases.csv", cases)
        t = time.perf_counter()
        report = await import_urban_cases(pool, path, actor="bench")
        took = time.perf_counter() - t
        print(f"urban import: {report.inserted:,} cases in {took:.2f} s ({report.inserted / took:,.0f} rows/s)")
        async with pool.acquire() as conn:
            timings = []
            for _ in range(repeat):
                t = time.perf_counter()
                stats = await urban_repo.statistics(conn, datetime(2024, 4, 19, tzinfo=BJ), datetime(2024, 5, 19, tzinfo=BJ))
                timings.append(time.perf_counter() - t)
            print(f"urban monthly statistics over {stats.total:,} cases: median (min–max) "
                  f"{format_spread([t * 1000 for t in timings], '{:,.0f}', 'ms')}, n={repeat}")
    finally:
        await pool.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets-per-year", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=20_000)
    add_runs_argument(parser, 5, "--repeat")
    args = parser.parse_args()
    print(describe())
    async with scratch_database("appeals") as (dsn, work):
        await measure(dsn, args.tickets_per_year, args.cases, args.runs, work)


if __name__ == "__main__":
    asyncio.run(main())
