"""Web latency at ledger scale: p50/p95/p99 of the ticket list, ticket detail and dashboard, 50 clients.

Seeds (by default) 1,000,000 tickets with bench/bench_web_ledger.py's filler
into a private embedded PostgreSQL (or --dsn: a scratch database), gives one
assessment month city callback results so the dashboard has rates to rank,
then serves the real app (create_app + start_web) from a separate process on
127.0.0.1 and drives it with 50 concurrent aiohttp clients, each signed in
with its own session.  Prints figures and the machine; asserts nothing.

    .venv/bin/python bench/web.py [--tickets 1000000] [--clients 50] [--requests 2000] [--think 1] [--pgdata DIR]
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_web_ledger import fill  # noqa: E402  (the ledger bench's seeding, reused)
from machine import describe  # noqa: E402

from callcenter.config import Settings
from callcenter.db.embedded import start_embedded, with_database
from callcenter.db.migrations import migrate

PERIOD = "2025-06"          # an assessment month inside the filler's ten years (2016–2025)
PASSWORD = "bench-password-1"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# City results for the benchmarked month, so ticket_scores has effective callbacks to rate.
_RESULTS = """
UPDATE tickets SET closed_at = called_at + interval '3 days', city_effective_callback = true,
       city_contacted = (ARRAY['是','是','是','否'])[1 + id % 4],
       city_solved = (ARRAY['已解决','已解决','部分解决','未解决'])[1 + id % 4],
       city_satisfied = (ARRAY['满意','满意','基本满意','不满意'])[1 + id % 4]
 WHERE called_at >= $1 AND called_at < $2 AND city_contacted = ''
"""


async def prepare(dsn: str, tickets: int, clients: int) -> dict:
    from callcenter.db.scoring import load_calendar
    from callcenter.db.users import add_user
    from callcenter.scoring.periods import period
    from callcenter.security.passwords import hash_password
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await fill(conn, tickets)
        p = period(PERIOD, await load_calendar(conn))
        started = time.perf_counter()
        changed = await conn.execute(_RESULTS, p.start, p.end)
        print(f"  city results for {PERIOD}: {changed.split()[-1]} tickets ({time.perf_counter() - started:.1f} s)")
        await conn.execute("ANALYZE")
        if await conn.fetchval("SELECT count(*) FROM users WHERE username = 'bench'") == 0:
            await add_user(conn, "bench", "supervisor", hash_password(PASSWORD), "压测主管")
        await conn.execute("DELETE FROM web_sessions")
        await conn.execute("DELETE FROM login_failures")
        top = await conn.fetchval("SELECT max(id) FROM tickets")
        dept = await conn.fetchval("SELECT min(department_id) FROM tickets")
        in_month = await conn.fetchval("SELECT count(*) FROM ticket_scores s JOIN tickets t ON t.id = s.ticket_id "
                                       "WHERE t.called_at >= $1 AND t.called_at < $2", p.start, p.end)
        total = await conn.fetchval("SELECT count(*) FROM tickets")
        version = (await conn.fetchval("SELECT version()")).split(" on ")[0]
    finally:
        await conn.close()
    return {"max_id": top, "dept": dept, "in_month": in_month, "total": total, "server": version}


def serve(dsn: str, home: str, ready, pool_max: int) -> None:
    """The web app alone in its own process (as `callcenter serve` runs it), until killed."""
    import logging

    from callcenter.db.database import open_database
    from callcenter.web.app import create_app
    from callcenter.web.core.config import WebConfig
    from callcenter.web.runner import start_web
    logging.basicConfig(level=logging.WARNING)

    async def main() -> None:
        settings = Settings(dsn=dsn, home=Path(home), db_pool_min=pool_max, db_pool_max=pool_max)
        async with open_database(settings) as db:
            # Sessions last the whole run; no lockout surprises from 50 sign-ins from one address.
            app = create_app(db, settings, extras={"web_config": WebConfig(idle_minutes=600, ip_lockout_failures=10_000)})
            runner = await start_web(app, "127.0.0.1", 0)
            ready.send(runner.addresses[0][1])
            await asyncio.Event().wait()
    asyncio.run(main())


async def sign_in(session: aiohttp.ClientSession, base: str) -> None:
    async with session.get(f"{base}/login") as r:
        token = _CSRF.search(await r.text()).group(1)
    async with session.post(f"{base}/login", data={"csrf_token": token, "username": "bench", "password": PASSWORD,
                                                   "next": "/"}, allow_redirects=False) as r:
        if r.status != 303:
            raise RuntimeError(f"sign-in failed: {r.status} {await r.text()}")


async def measure(sessions: list[aiohttp.ClientSession], base: str, label: str, urls, requests: int,
                  think: float = 0.0) -> dict:
    """``requests`` GETs spread over every session at once; latency of each, wall time of all.

    ``think`` = 0: closed loop, every client fires its next request the moment
    the last one answers (saturation: latency is mostly queueing).  ``think`` >
    0: each client pauses 0.5–1.5 × think seconds between requests, like a
    person reading the page.
    """
    latencies: list[float] = []
    errors = 0
    remaining = requests

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal remaining, errors
        if think:
            await asyncio.sleep(random.uniform(0, think))      # people do not all click at the same instant
        while remaining > 0:
            remaining -= 1
            url = urls()
            t0 = time.perf_counter()
            async with session.get(base + url) as r:
                await r.read()
                ok = r.status == 200
            latencies.append((time.perf_counter() - t0) * 1000)
            errors += not ok
            if think:
                await asyncio.sleep(think * random.uniform(0.5, 1.5))
    started = time.perf_counter()
    await asyncio.gather(*(worker(s) for s in sessions))
    wall = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    result = {"label": label, "n": len(latencies), "p50": q[49], "p95": q[94], "p99": q[98], "errors": errors,
              "rps": len(latencies) / wall}
    print(f"  {label:<34} n={result['n']:5}  p50 {result['p50']:7.1f} ms  p95 {result['p95']:7.1f} ms  "
          f"p99 {result['p99']:7.1f} ms  {result['rps']:6.0f} req/s  errors {errors}")
    return result


async def drive(port: int, facts: dict, clients: int, requests: int, think: float) -> None:
    base = f"http://127.0.0.1:{port}"
    connector = aiohttp.TCPConnector(limit=clients * 2)
    sessions = [aiohttp.ClientSession(connector=connector, connector_owner=False,
                                      cookie_jar=aiohttp.CookieJar(unsafe=True)) for _ in range(clients)]
    try:
        started = time.perf_counter()
        for s in sessions:
            await sign_in(s, base)
        print(f"  {clients} sessions signed in ({time.perf_counter() - started:.1f} s)")
        rng = random.Random(7)
        list_urls = ["/tickets", "/tickets?status=handling", f"/tickets?department={facts['dept']}",
                     "/tickets?category=供暖", "/tickets?from=2024-05-01&to=2024-05-07"]
        await measure(sessions, base, "warm-up (not counted)", lambda: rng.choice(list_urls), clients * 2)
        for pause in (0.0, think):
            print(f" {'closed loop (no think time)' if not pause else f'paced ({pause:g} s think time per client)'}:")
            await measure(sessions, base, "ticket list (5 filter mixes)", lambda: rng.choice(list_urls), requests,
                          pause)
            await measure(sessions, base, "ticket detail (random of all)",
                          lambda: f"/tickets/{rng.randint(1, facts['max_id'])}", requests, pause)
            await measure(sessions, base, f"dashboard /?period={PERIOD}", lambda: f"/?period={PERIOD}", requests,
                          pause)
    finally:
        for s in sessions:
            await s.close()
        await connector.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000, help="requests per page kind")
    parser.add_argument("--think", type=float, default=1.0, help="seconds between a paced client's requests")
    parser.add_argument("--pool", type=int, default=10, help="database connections of the web process")
    parser.add_argument("--dsn", help="a scratch database (default: a private embedded server)")
    parser.add_argument("--pgdata", type=Path, help="keep the embedded data here to reuse it between runs")
    args = parser.parse_args()
    if args.dsn:
        dsn = args.dsn
    else:
        pgdata = args.pgdata or Path(tempfile.mkdtemp(prefix="cc-bench-web-")) / "pgdata"
        dsn = with_database(start_embedded(pgdata), "postgres")
    print(f"machine: {describe()}; platform.processor() = {platform.processor()!r}; "
          f"cpu count {multiprocessing.cpu_count()}; Python {platform.python_version()}")
    print(f"seeding {args.tickets} tickets …")
    facts = asyncio.run(prepare(dsn, args.tickets, args.clients))
    print(f"  {facts['total']} tickets; month {PERIOD}: {facts['in_month']} tickets; {facts['server']}")
    home = tempfile.mkdtemp(prefix="cc-bench-web-home-")
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(dsn, home, send, args.pool),
                                                          daemon=True)
    server.start()
    try:
        if not receive.poll(60):
            raise SystemExit("the web server did not start within 60 s")
        port = receive.recv()
        print(f"web app on 127.0.0.1:{port} (own process, pool {args.pool}); {args.clients} concurrent clients, "
              f"{args.requests} requests per page kind")
        asyncio.run(drive(port, facts, args.clients, args.requests, args.think))
    finally:
        server.terminate()
        server.join(10)


if __name__ == "__main__":
    main()
