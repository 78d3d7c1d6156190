"""Benchmark: three-rate ranking and the monthly .xlsx report on a 1,000,000-ticket ledger.

Run: ``.venv/bin/python bench/scoring.py [--tickets N] [--own N] [--runs N]``

Seeds a scratch database (on ``$CALLCENTER_DSN``'s server when set, else an
embedded PostgreSQL in a temporary directory) with 12 assessment months of
tickets for 30 departments and 30 communities, mostly scored from the city's
columns and partly from our own versioned callback answers, plus appeals; the
triggers build ticket_scores as the rows arrive.  Then times the monthly
ranking (departments, current + previous period, all three rates, both bases)
and the monthly workbook.  Prints figures and the machine; asserts nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg

from callcenter.db.database import _init_connection
from callcenter.db.migrations import migrate
from callcenter.reports import scorecard
from callcenter.reports.monthly_xlsx import write_monthly

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402  (bench/machine.py)
from scratch import scratch_database  # noqa: E402  (bench/scratch.py)
from spread import add_runs_argument, format_spread  # noqa: E402  (bench/spread.py)

BJ = timezone(timedelta(hours=8))
FIRST = datetime(2023, 6, 19, tzinfo=BJ)          # period 2023-07 … 2024-06: twelve months
AS_OF = datetime(2024, 7, 1, tzinfo=BJ)
PERIOD = "2024-05"

SEED_TICKETS = """
INSERT INTO tickets (ticket_no, ticket_type, appeal_kind, category_l1, category_l2, title, called_at, closed_at,
                     department_id, community_id, address, caller_phone, status, city_effective_callback,
                     city_contacted, city_solved, city_satisfied, sign_due_at, signed_at, close_due_at)
SELECT 'B' || lpad(g::text, 8, '0'),
       CASE WHEN g % 33 = 0 THEN '咨询' ELSE '诉求' END,
       (ARRAY['投诉', '求助', '举报', '建议', '咨询'])[1 + g % 5],
       c.name, '二级' || (g % 7), '工单 ' || g, called, called + make_interval(hours => 24 + g % 140),
       $2::int + g % 30, $3::int + (g / 30) % 30,
       '点位' || (g::bigint * 7919 % 5000), '139' || lpad((g::bigint * 104729 % 200000)::text, 8, '0'),
       CASE WHEN g % 20 = 0 THEN 'callback_failed' ELSE 'called_back' END,
       CASE WHEN g % 20 = 0 THEN false WHEN g % 20 = 1 THEN NULL ELSE true END,
       CASE WHEN g % 17 = 0 THEN '否' ELSE '是' END,
       CASE WHEN g % 10 = 0 THEN '未解决' WHEN g % 10 = 1 THEN '部分解决' ELSE '已解决' END,
       CASE WHEN g % 19 = 0 THEN '不满意' WHEN g % 7 = 0 THEN '基本满意' ELSE '满意' END,
       called + interval '2 hours', called + make_interval(mins => g % 180), called + interval '7 days'
  FROM generate_series(1, $1::int) AS g
  CROSS JOIN LATERAL (SELECT $4::timestamptz + make_interval(secs => (g::bigint * 31557600 / $1::int)::double precision)
                             AS called) t
  JOIN (SELECT name, row_number() OVER (ORDER BY name) - 1 AS i FROM categories) c ON c.i = g % 18
"""

SEED_OWN = """
WITH picked AS (
    SELECT id, closed_at, row_number() OVER (ORDER BY id) AS n FROM tickets WHERE id % $1::int = 3
), attempts AS (
    INSERT INTO callback_attempts (id, ticket_id, attempt_no, phone, state, outcome, answered_at, ended_at)
    SELECT gen_random_uuid(), id, 1, '1', 'finished', 'answered-complete',
           closed_at + interval '2 days', closed_at + interval '2 days 3 minutes'
      FROM picked RETURNING id, ticket_id
)
INSERT INTO callback_answers (attempt_id, question, intent, source)
SELECT a.id, q.question,
       CASE q.question WHEN 'contacted' THEN CASE WHEN a.ticket_id % 13 = 0 THEN 'no' ELSE 'yes' END
                       WHEN 'solved' THEN CASE WHEN a.ticket_id % 9 = 0 THEN 'unsolved' ELSE 'solved' END
                       ELSE CASE WHEN a.ticket_id % 11 = 0 THEN 'dissatisfied' ELSE 'satisfied' END END,
       'dtmf'
  FROM attempts a CROSS JOIN (VALUES ('contacted'), ('solved'), ('satisfaction')) AS q(question)
"""


async def seed(dsn: str, tickets: int, own_every: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await conn.execute("INSERT INTO units (kind, name) SELECT 'department', '科室' || lpad(g::text, 2, '0') "
                           "FROM generate_series(1, 30) g")
        await conn.execute("INSERT INTO units (kind, name) SELECT 'community', '社区' || lpad(g::text, 2, '0') "
                           "FROM generate_series(1, 30) g")
        dept = await conn.fetchval("SELECT min(id) FROM units WHERE kind = 'department'")
        comm = await conn.fetchval("SELECT min(id) FROM units WHERE kind = 'community'")
        started = time.perf_counter()
        await conn.execute(SEED_TICKETS, tickets, dept, comm, FIRST)
        print(f"seed {tickets:,} tickets (ticket_scores built by trigger) {time.perf_counter() - started:8.2f} s")
        started = time.perf_counter()
        await conn.execute(SEED_OWN, own_every)
        own = await conn.fetchval("SELECT count(*) FROM ticket_scores WHERE source = 'own'")
        print(f"seed {own:,} own callbacks × 3 answers (trigger refresh) {time.perf_counter() - started:8.2f} s")
        started = time.perf_counter()
        await conn.execute("""INSERT INTO appeals (ticket_id, state, decided_at, grounds)
                              SELECT id, CASE WHEN id % 5 = 0 THEN 'submitted' ELSE 'granted' END,
                                     CASE WHEN id % 5 = 0 THEN NULL ELSE closed_at + interval '5 days' END, '不合理诉求'
                                FROM tickets WHERE id % 97 = 0 AND city_satisfied = '不满意'""")
        await conn.execute("VACUUM ANALYZE")
        print(f"appeals + VACUUM ANALYZE {time.perf_counter() - started:8.2f} s")
        in_month = await conn.fetchval(
            "SELECT count(*) FROM ticket_scores WHERE scored_at >= '2024-04-19 00:00+08' AND scored_at < '2024-05-19 00:00+08'")
        print(f"tickets scored in {PERIOD}: {in_month:,}")
    finally:
        await conn.close()


async def measure(dsn: str, repeat: int, workdir: Path) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, init=_init_connection)
    try:
        async with pool.acquire() as conn:
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                result = await scorecard.ranking(conn, PERIOD, "department", as_of=AS_OF)
                timings.append(time.perf_counter() - started)
            print(f"monthly department ranking (2 periods, 3 rates, both bases): median (min–max) "
                  f"{format_spread([t * 1000 for t in timings], unit='ms')} over {repeat} runs; "
                  f"{len(result.units)} units ranked")
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                await scorecard.ranking(conn, PERIOD, "community", as_of=AS_OF)
                timings.append(time.perf_counter() - started)
            print(f"monthly community ranking: median (min–max) {format_spread([t * 1000 for t in timings], unit='ms')}")
            plan = await conn.fetch(
                "EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM ticket_scores "
                "WHERE scored_at >= '2024-04-19 00:00+08' AND scored_at < '2024-05-19 00:00+08'")
            print("period scan plan: " + " | ".join(r[0].strip() for r in plan[:3]))
            for label in ("first", "second"):
                started = time.perf_counter()
                m = await scorecard.monthly(conn, PERIOD, as_of=AS_OF)
                gathered = time.perf_counter() - started
                path = write_monthly(m, workdir / f"bench-{label}.xlsx")
                total = time.perf_counter() - started
                print(f"monthly .xlsx report ({label} run): {total:6.2f} s (queries + explain {gathered:5.2f} s, "
                      f"workbook {total - gathered:5.2f} s; {len(m.problems):,} problem tickets, "
                      f"{path.stat().st_size / 1024:,.0f} KiB)")
    finally:
        await pool.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--own", type=int, default=10, help="one ticket in N gets our own callback answers")
    add_runs_argument(parser, 15, "--repeat")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database (with $CALLCENTER_DSN)")
    parser.add_argument("--reuse", metavar="DSN", help="measure an already seeded database; seed nothing")
    args = parser.parse_args()
    print(describe())
    if args.reuse:
        with tempfile.TemporaryDirectory(prefix="cc-bench-scoring-") as tmp:
            await measure(args.reuse, args.runs, Path(tmp))
        return
    async with scratch_database("scoring", keep=args.keep) as (dsn, work):
        conn = await asyncpg.connect(dsn)
        print(f"PostgreSQL {await conn.fetchval('SHOW server_version')}")
        await conn.close()
        await seed(dsn, args.tickets, args.own)
        await measure(dsn, args.runs, work)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
