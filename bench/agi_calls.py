"""Benchmark: whole callback calls through FastAGI → IVR → PostgreSQL, with the simulated citizen.

Run: ``.venv/bin/python bench/agi_calls.py [--calls N] [--concurrency 1,10,50] [--runs 3]``

Each call is the real thing minus the waiting: the citizen (callcenter.sim.
agi_citizen, ``time_scale=0``) connects over TCP on 127.0.0.1, the server
identifies the attempt, plays the greeting and asks the three questions
(DTMF), stores each answer as its own commit, and writes the outcome.  Uses a
scratch database on ``$CALLCENTER_DSN``'s server when set, else an embedded
PostgreSQL in a temporary directory.  Prints calls/s, per-call latency
percentiles, answers stored, and the machine; each concurrency level is run
--runs times and its figures printed as min / median / max; asserts nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe  # noqa: E402
from bench.spread import add_runs_argument, print_table  # noqa: E402
from callcenter.db import callbacks  # noqa: E402
from callcenter.db.database import _init_connection, ensure_database  # noqa: E402
from callcenter.db.embedded import start_embedded  # noqa: E402
from callcenter.db.migrations import migrate  # noqa: E402
from callcenter.ivr.loader import ScriptLibrary  # noqa: E402
from callcenter.ivr.session import CallbackIvr  # noqa: E402
from callcenter.sim.agi_citizen import default_env, run_agi_session  # noqa: E402
from callcenter.sim.citizens import CitizenScript  # noqa: E402
from callcenter.telephony.agi import AgiServer  # noqa: E402


async def seed(pool: asyncpg.Pool, n: int, batch: int) -> list[tuple[int, uuid.UUID, uuid.UUID]]:
    async with pool.acquire() as conn:
        ids = await conn.fetch(
            """INSERT INTO tickets (ticket_no, category_l1, title, called_at, caller_phone, status)
               SELECT 'A' || $2::int || '-' || g, '物业管理', '楼道堆物 ' || g, now() - interval '3 days',
                      '13' || $2::int || lpad(g::text, 8, '0'), 'awaiting_callback'
                 FROM generate_series(1, $1::int) g RETURNING id, caller_phone""", n, batch)
        out = []
        for row in ids:
            channel = uuid.uuid4()
            attempt = await callbacks.create_attempt(conn, row["id"], phone=row["caller_phone"],
                                                     channel_id=channel, state="dialing")
            out.append((row["id"], attempt, channel))
    return out


async def one_level(pool: asyncpg.Pool, url: str, server: AgiServer, calls: int, level: int,
                    batch: int) -> dict[str, float]:
    """``calls`` calls at ``level`` at once; this run's figures (and a line with what was stored)."""
    plan = await seed(pool, calls, batch)
    gate = asyncio.Semaphore(level)
    latencies: list[float] = []

    async def one(ticket_id: int, attempt: uuid.UUID, channel: uuid.UUID) -> None:
        async with gate:
            t0 = time.perf_counter()
            await run_agi_session(url, default_env(str(channel), agi_url=url),
                                  CitizenScript.keys("1", "2", "1"),
                                  {"ATTEMPT_ID": str(attempt), "TICKET_ID": str(ticket_id)}, time_scale=0)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(one(*p) for p in plan))
    await server.drained(60)
    wall = time.perf_counter() - start
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM callback_answers WHERE attempt_id = ANY($1::uuid[])", [p[1] for p in plan])
        complete = await conn.fetchval(
            "SELECT count(*) FROM callback_attempts WHERE id = ANY($1::uuid[]) AND outcome = 'answered-complete'",
            [p[1] for p in plan])
    q = statistics.quantiles(sorted(latencies), n=100)
    print(f"  concurrency {level:>3}: {calls / wall:7.1f} calls/s  ({wall:.2f} s wall)  "
          f"answers stored {stored}/{calls * 3}  complete {complete}/{calls}")
    return {"calls/s": calls / wall, "latency p50": q[49] * 1000, "latency p95": q[94] * 1000,
            "latency max": max(latencies) * 1000}


async def run(dsn: str, calls: int, levels: list[int], runs: int, recordings: Path) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=20, init=_init_connection)
    ivr = CallbackIvr(pool, ScriptLibrary.from_directory(), recordings_dir=recordings)
    print(f"machine: {describe()}")
    print(f"calls per level: {calls}; script callback_three_rates, DTMF 1/2/1; citizen time_scale=0; "
          f"{runs} run(s) per level")
    batch = 0
    async with AgiServer(ivr, port=0) as server:
        url = f"agi://127.0.0.1:{server.port}/callback"
        for level in levels:
            figures: dict[str, list[float]] = {}
            for _ in range(runs):
                batch += 1                   # fresh tickets and phone numbers for every run
                for name, value in (await one_level(pool, url, server, calls, level, batch)).items():
                    figures.setdefault(name, []).append(value)
            print_table(f"concurrency {level}: {calls} calls, {runs} run(s)", figures,
                        units={"latency p50": "ms", "latency p95": "ms", "latency max": "ms"})
    await pool.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", default="1,10,50")
    add_runs_argument(parser)
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        server = os.environ.get("CALLCENTER_DSN") or start_embedded(Path(tmp) / "pgdata")
        dsn = await ensure_database(server, f"bench_agi_{uuid.uuid4().hex[:8]}")
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        await run(dsn, args.calls, levels, args.runs, Path(tmp) / "recordings")


if __name__ == "__main__":
    asyncio.run(main())
