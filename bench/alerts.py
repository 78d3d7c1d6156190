"""Benchmark: the alert and 高发 warning pass over one day at the scale of a whole district.

Run: ``.venv/bin/python bench/alerts.py [--tickets N] [--repeat N]``

Seeds a scratch database (``$CALLCENTER_DSN``'s server when set, else an
embedded PostgreSQL in a temporary directory) with 1,000,000 tickets over the
365 days up to now, across 29 streets of 20 communities each and every
first-level category: the last 3 hours' tickets wait for 签收, the last week's
are being handled, the rest are closed.  One community gets a seeded spike today.
Then times :func:`callcenter.alerts.engine.alert_pass` with every rule and the
高发 source: the first pass (raises the day's alerts and their deliveries) and the
steady passes after it (nothing new).  Prints min / median / max and the machine.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import asyncpg

from callcenter.alerts.engine import AlertOptions, alert_pass
from callcenter.db.database import _init_connection
from callcenter.db.migrations import migrate
from callcenter.hotspots.warnings import spike_source

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402  (bench/machine.py)
from spread import add_runs_argument, format_spread  # noqa: E402  (bench/spread.py)
from scratch import scratch_database  # noqa: E402  (bench/scratch.py)

STREETS, COMMUNITIES = 29, 20

SEED = """
INSERT INTO tickets (ticket_no, category_l1, title, street, community_name, address, called_at, dispatched_at,
                     status, sign_due_at, signed_at, close_due_at, closed_at)
SELECT 'A' || lpad(g::text, 8, '0'), c.name, '工单 ' || (g % 97), '街道' || lpad((g % $3)::text, 2, '0'),
       '街道' || lpad((g % $3)::text, 2, '0') || '社区' || lpad(((g / $3) % $4)::text, 2, '0'),
       '小区' || (g % 400) || '号楼', t.called, t.called,
       CASE WHEN t.age < interval '3 hours' THEN 'received'
            WHEN t.age < interval '7 days' THEN 'handling' ELSE 'called_back' END,
       t.called + interval '2 hours',
       CASE WHEN t.age >= interval '3 hours' THEN t.called + interval '1 hour' END,
       t.called + interval '7 days',
       CASE WHEN t.age >= interval '7 days' THEN t.called + interval '5 days' END
  FROM generate_series(1, $1::int) AS g
  CROSS JOIN LATERAL (SELECT $2::timestamptz - make_interval(secs => (g::bigint * 31536000 / $1::int)::double precision)
                             AS called) s
  CROSS JOIN LATERAL (SELECT s.called AS called, $2::timestamptz - s.called AS age) t
  JOIN (SELECT name, row_number() OVER (ORDER BY name) - 1 AS i FROM categories) c ON c.i = g % 18
"""

SPIKE = """
INSERT INTO tickets (ticket_no, category_l1, title, street, community_name, address, called_at, dispatched_at,
                     status, sign_due_at)
SELECT 'SPIKE' || g, '水电气热', '停水', '街道01', '街道01社区01', '小区1号楼', $1::timestamptz - make_interval(mins => g),
       $1::timestamptz - make_interval(mins => g), 'received', $1::timestamptz - make_interval(mins => g) + interval '2 hours'
  FROM generate_series(1, 12) g
"""


async def seed(dsn: str, tickets: int, now: datetime) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        started = time.perf_counter()
        await conn.execute(SEED, tickets, now, STREETS, COMMUNITIES)
        await conn.execute(SPIKE, now)
        await conn.execute("VACUUM ANALYZE")
        counts = dict(await conn.fetch("SELECT status, count(*) FROM tickets GROUP BY 1"))
        print(f"seeded {sum(counts.values()):,} tickets in {time.perf_counter() - started:.1f} s: {counts}")
    finally:
        await conn.close()


def line(label: str, timings: list[float]) -> str:
    return f"{label}: median (min–max) {format_spread([t * 1000 for t in timings], unit='ms')} over {len(timings)} runs"


async def measure(dsn: str, repeat: int) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, init=_init_connection)
    options = AlertOptions(email=True)
    try:
        async with pool.acquire() as conn:
            await conn.execute("""INSERT INTO alert_channels (name, kind, url) VALUES
                                  ('wecom', 'wecom', 'http://127.0.0.1:9/wecom'),
                                  ('hook', 'webhook', 'http://127.0.0.1:9/hook')""")
            await conn.execute("""INSERT INTO duty_shifts (starts_at, ends_at, staff_name, email)
                                  VALUES (now() - interval '1 hour', now() + interval '1 day', '值班', 'd@example.org')""")
            started = time.perf_counter()
            first = await alert_pass(conn, datetime.now(timezone.utc), options, [spike_source])
            cold = time.perf_counter() - started
            rules = dict(await conn.fetch("SELECT rule, count(*) FROM alerts GROUP BY 1"))
            print(f"first pass (raises the day's alerts): {cold * 1000:.1f} ms — {len(first.raised):,} alerts "
                  f"{rules}, {first.deliveries:,} deliveries")
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                result = await alert_pass(conn, datetime.now(timezone.utc), options, [spike_source])
                timings.append(time.perf_counter() - started)
                assert not result.raised
            print(line("steady pass (every rule + 高发 daily and weekly, nothing new)", timings))
    finally:
        await pool.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    add_runs_argument(parser, 9, "--repeat")
    args = parser.parse_args()
    print(describe())
    async with scratch_database("alerts") as (dsn, _work):
        conn = await asyncpg.connect(dsn)
        print(f"PostgreSQL {await conn.fetchval('SHOW server_version')}")
        await conn.close()
        await seed(dsn, args.tickets, datetime.now(timezone.utc))
        await measure(dsn, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
