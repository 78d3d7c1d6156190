"""Web latency at ledger scale: p50/p95/p99 of the ticket list, ticket detail and dashboard, 50 clients.

Seeds (by default) 1,000,000 tickets with bench/bench_web_ledger.py's filler
into a private embedded PostgreSQL (or --dsn: a scratch database), gives one
assessment month city callback results so the dashboard has rates to rank,
then serves the real app (create_app + start_web) from separate processes on
127.0.0.1 and drives it with 50 concurrent aiohttp clients, each signed in
with its own session.  Prints figures and the machine; asserts nothing.

    .venv/bin/python bench/web.py [--tickets 1000000] [--clients 50] [--requests 2000] [--think 1] [--pgdata DIR]
                                  [--workers N] [--no-compare] [--runs 3]

Each run measures one web process and ``--workers`` processes sharing the
port (as ``serve`` with CALLCENTER_WEB_WORKERS runs them) one after the
other, so both see the same machine; the summary gives min/median/max over
the runs and the ratio of the medians.

With several processes it also prints how the work split between them (the
answering worker's X-Callcenter-Worker header: responses, keep-alive
connections and p95 per worker), and for every figure the CPU per request of
the web processes, the PostgreSQL server and this client process (from
/proc, Linux only): on a shared machine those move far less than latency.
Which code is measured is whatever ``callcenter`` imports (PYTHONPATH); it is
printed at the start.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
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
from proc_cpu import postmaster_of, process_cpu_seconds, server_cpu_seconds  # noqa: E402
from spread import add_runs_argument, print_table, summary  # noqa: E402

import callcenter
from callcenter import event_loop
from callcenter.config import Settings
from callcenter.db.embedded import start_embedded, with_database
from callcenter.db.migrations import migrate
from callcenter.netutil import free_port

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


async def prepare(dsn: str, tickets: int, clients: int, dsn_is_foreign: bool) -> dict:
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
        postmaster = None if dsn_is_foreign else postmaster_of(await conn.fetchval("SELECT pg_backend_pid()"))
        version = (await conn.fetchval("SELECT version()")).split(" on ")[0]
    finally:
        await conn.close()
    return {"max_id": top, "dept": dept, "in_month": in_month, "total": total, "server": version,
            "postmaster": postmaster}


def serve(dsn: str, home: str, port: int, index: int, ready, pool_max: int, table: str | None) -> None:
    """One web process (as `callcenter serve` runs each of CALLCENTER_WEB_WORKERS), sharing ``port``.

    ``table``: the processes' shared connection table, as `serve` passes it (None: one process alone).
    """
    import logging

    from callcenter.db.database import open_database
    from callcenter.web.app import create_app
    from callcenter.web.core.config import WebConfig
    from callcenter.web.runner import start_web
    logging.basicConfig(level=logging.WARNING)

    async def main() -> None:
        settings = Settings(dsn=dsn, home=Path(home), db_pool_min=pool_max, db_pool_max=pool_max)
        async with open_database(settings, apply_migrations=False) as db:
            # Sessions last the whole run; no lockout surprises from 50 sign-ins from one address.
            app = create_app(db, settings, extras={"web_config": WebConfig(idle_minutes=600, ip_lockout_failures=10_000),
                                                   "worker": index})
            await start_web(app, "127.0.0.1", port, reuse_port=True, **balancing(table, index))
            ready.send(index)
            await asyncio.Event().wait()
    event_loop.run(main())      # the loop `serve` runs on (uvloop; CALLCENTER_EVENT_LOOP=asyncio for the standard one)


def balancing(table: str | None, index: int) -> dict:
    """start_web's ``balance`` argument as `serve` gives it, where the measured code has one."""
    try:
        from callcenter.web.core.balance import Balancer, ConnectionTable
    except ImportError:             # code from before the connection table (an A/B against older code)
        return {}
    return {"balance": Balancer(ConnectionTable(table), index)} if table else {}


def table_for(count: int) -> str | None:
    """The shared connection table `serve` makes for ``count`` web processes (None: one, or older code)."""
    try:
        from callcenter.cli.serve import connection_table
    except ImportError:
        return None
    return connection_table(count)


class WebProcesses:
    """``count`` web processes on one port (SO_REUSEPORT), as `serve` runs them; stopped on exit."""

    def __init__(self, dsn: str, count: int, pool: int) -> None:
        self.dsn, self.count, self.pool = dsn, count, pool
        self.port = free_port()
        self.procs: list = []
        self.table: str | None = None

    def __enter__(self) -> "WebProcesses":
        home = tempfile.mkdtemp(prefix="cc-bench-web-home-")
        spawn = multiprocessing.get_context("spawn")
        receive, send = spawn.Pipe(duplex=False)
        self.table = table = table_for(self.count)
        for index in range(self.count):
            proc = spawn.Process(target=serve, args=(self.dsn, home, self.port, index, send, self.pool, table),
                                 daemon=True)
            proc.start()
            self.procs.append(proc)
        for _ in range(self.count):
            if not receive.poll(60):
                self.__exit__()
                raise SystemExit("a web process did not start within 60 s")
            receive.recv()
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.join(10)
        if self.table:
            os.unlink(self.table)

    def cpu_seconds(self) -> float | None:
        """utime + stime of the web processes so far (None where /proc is not readable)."""
        try:
            return sum(process_cpu_seconds(proc.pid) for proc in self.procs)
        except OSError:
            return None


class CpuMeter:
    """CPU seconds of the web processes, the PostgreSQL server and this (client) process between two reads."""

    def __init__(self, web: "WebProcesses", postmaster: int | None) -> None:
        self.web, self.postmaster = web, postmaster

    def read(self) -> tuple[float | None, float | None, float]:
        return self.web.cpu_seconds(), server_cpu_seconds(self.postmaster), time.process_time()



async def sign_in(session: aiohttp.ClientSession, base: str) -> None:
    async with session.get(f"{base}/login") as r:
        token = _CSRF.search(await r.text()).group(1)
    async with session.post(f"{base}/login", data={"csrf_token": token, "username": "bench", "password": PASSWORD,
                                                   "next": "/"}, allow_redirects=False) as r:
        if r.status != 303:
            raise RuntimeError(f"sign-in failed: {r.status} {await r.text()}")


async def measure(sessions: list[aiohttp.ClientSession], base: str, label: str, urls, requests: int,
                  think: float = 0.0, cpu: CpuMeter | None = None) -> dict:
    """``requests`` GETs spread over every session at once; latency of each, wall time of all.

    ``think`` = 0: closed loop, every client fires its next request the moment
    the last one answers (saturation: latency is mostly queueing).  ``think`` >
    0: each client pauses 0.5–1.5 × think seconds between requests, like a
    person reading the page.
    """
    latencies: list[float] = []
    by_worker: dict[str, list[float]] = {}            # X-Callcenter-Worker → latencies
    connections: dict[str, set] = {}                  # X-Callcenter-Worker → its connections
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
                worker_id = r.headers.get("X-Callcenter-Worker", "-")
            elapsed = (time.perf_counter() - t0) * 1000
            latencies.append(elapsed)
            by_worker.setdefault(worker_id, []).append(elapsed)
            # The keep-alive connection it came over (aiohttp releases r.connection once a small body is read).
            connections.setdefault(worker_id, set()).add(id(getattr(r, "_protocol", None)))
            errors += not ok
            if think:
                await asyncio.sleep(think * random.uniform(0.5, 1.5))
    before = cpu.read() if cpu else None
    started = time.perf_counter()
    await asyncio.gather(*(worker(s) for s in sessions))
    wall = time.perf_counter() - started
    after = cpu.read() if cpu else None
    q = statistics.quantiles(latencies, n=100)
    result = {"label": label, "n": len(latencies), "p50": q[49], "p95": q[94], "p99": q[98], "errors": errors,
              "rps": len(latencies) / wall}
    if before and after:        # ms of CPU per request: web processes, PostgreSQL, client
        for name, b, a in zip(("cpu web", "cpu pg", "cpu client"), before, after):
            if a is not None and b is not None:
                result[name] = (a - b) * 1000 / len(latencies)
    result["workers"] = {w: {"n": len(v), "conns": len(connections[w]),
                             "p95": statistics.quantiles(v, n=100)[94] if len(v) > 1 else v[0]}
                         for w, v in sorted(by_worker.items())}
    cpu_text = "  cpu ms/req " + " + ".join(f"{result[k]:.2f}" for k in ("cpu web", "cpu pg", "cpu client")
                                            if k in result) if "cpu web" in result else ""
    print(f"    {label:<34} n={result['n']:5}  p50 {result['p50']:7.1f} ms  p95 {result['p95']:7.1f} ms  "
          f"p99 {result['p99']:7.1f} ms  {result['rps']:6.0f} req/s  errors {errors}{cpu_text}", flush=True)
    if len(by_worker) > 1:
        print("      per worker: " + ";  ".join(f"#{w}: {f['n']} responses over {f['conns']} connections, "
                                             f"p95 {f['p95']:.1f} ms" for w, f in result["workers"].items()),
              flush=True)
    return result


PAGES = ("ticket list", "ticket detail", "dashboard")


async def drive(port: int, facts: dict, clients: int, requests: int, paced_requests: int, think: float,
                cpu: CpuMeter | None = None) -> dict:
    """One measurement: every page kind closed-loop, then paced; {(load, page): result}."""
    base = f"http://127.0.0.1:{port}"
    connector = aiohttp.TCPConnector(limit=clients * 2)
    sessions = [aiohttp.ClientSession(connector=connector, connector_owner=False,
                                      cookie_jar=aiohttp.CookieJar(unsafe=True)) for _ in range(clients)]
    figures = {}
    try:
        started = time.perf_counter()
        for s in sessions:
            await sign_in(s, base)
        print(f"    {clients} sessions signed in ({time.perf_counter() - started:.1f} s)")
        rng = random.Random(7)
        list_urls = ["/tickets", "/tickets?status=handling", f"/tickets?department={facts['dept']}",
                     "/tickets?category=供暖", "/tickets?from=2024-05-01&to=2024-05-07"]
        urls = {"ticket list": lambda: rng.choice(list_urls),
                "ticket detail": lambda: f"/tickets/{rng.randint(1, facts['max_id'])}",
                "dashboard": lambda: f"/?period={PERIOD}"}
        await measure(sessions, base, "warm-up (not counted)", lambda: rng.choice(list_urls), clients * 2)
        for load, pause, n in (("closed", 0.0, requests), ("paced", think, paced_requests)):
            print(f"   {'closed loop (no think time)' if not pause else f'paced ({pause:g} s think time per client)'}:")
            for page in PAGES:
                figures[(load, page)] = await measure(sessions, base, page, urls[page], n, pause, cpu)
    finally:
        for s in sessions:
            await s.close()
        await connector.close()
    return figures


def report(results: dict[int, list[dict]], counts: list[int]) -> None:
    """min/median/max over the runs for each process count, then N processes against one, from the medians."""
    for count in counts:
        runs = results[count]
        for load in ("closed", "paced"):
            table = {}
            for page in PAGES:
                for q in ("p50", "p95", "p99"):
                    table[f"{page} {q} (ms)"] = [r[(load, page)][q] for r in runs]
                table[f"{page} req/s"] = [r[(load, page)]["rps"] for r in runs]
                for key in ("cpu web", "cpu pg", "cpu client"):
                    if all(key in r[(load, page)] for r in runs):
                        table[f"{page} {key} (ms/req)"] = [r[(load, page)][key] for r in runs]
                if count > 1:     # the busier worker's share of the connections, and its p95 against the other's
                    shares = [max(f["conns"] for f in r[(load, page)]["workers"].values())
                              / max(1, sum(f["conns"] for f in r[(load, page)]["workers"].values()))
                              for r in runs]
                    table[f"{page} busiest worker's connection share (%)"] = [100 * x for x in shares]
                    table[f"{page} worst worker p95 (ms)"] = [max(f["p95"] for f in r[(load, page)]["workers"].values())
                                                              for r in runs]
            print_table(f"{count} web process(es), {load} — {len(runs)} run(s)", table)
    if len(counts) == 2:
        one, many = counts
        print(f"\n{many} processes against 1 (ratio of the medians; same data, same machine, runs interleaved)")
        for load in ("closed", "paced"):
            for page in PAGES:
                def median(count, key):
                    return summary([r[(load, page)][key] for r in results[count]])[1]
                print(f"  {load:<6} {page:<14} p95 {median(one, 'p95'):7.1f} → {median(many, 'p95'):7.1f} ms "
                      f"(× {median(many, 'p95') / median(one, 'p95'):.2f});  "
                      f"req/s {median(one, 'rps'):6.0f} → {median(many, 'rps'):6.0f} "
                      f"(× {median(many, 'rps') / median(one, 'rps'):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000, help="requests per page kind")
    parser.add_argument("--think", type=float, default=1.0, help="seconds between a paced client's requests")
    parser.add_argument("--paced-requests", type=int, default=1000, help="paced requests per page kind")
    parser.add_argument("--pool", type=int, default=10, help="database connections of each web process")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="web processes, as CALLCENTER_WEB_WORKERS (default: one per core)")
    parser.add_argument("--no-compare", dest="compare", action="store_false",
                        help="measure --workers only (default: also one process, side by side)")
    add_runs_argument(parser)
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
    print(f"code: {Path(callcenter.__file__).parent}")
    facts = asyncio.run(prepare(dsn, args.tickets, args.clients, dsn_is_foreign=bool(args.dsn)))
    print(f"  {facts['total']} tickets; month {PERIOD}: {facts['in_month']} tickets; {facts['server']}")
    counts = sorted({1, args.workers}) if args.compare else [args.workers]
    print(f"web processes: {' vs '.join(map(str, counts))} (pool {args.pool} each); {args.clients} concurrent "
          f"clients; {args.requests} closed-loop and {args.paced_requests} paced requests per page kind; "
          f"{args.runs} run(s), the process counts interleaved within each run")
    results: dict[int, list[dict]] = {count: [] for count in counts}
    for run in range(1, args.runs + 1):
        for count in counts:
            with WebProcesses(dsn, count, args.pool) as web:
                print(f"\n run {run}/{args.runs}: {count} web process(es) on 127.0.0.1:{web.port}"
                      f"{', connections balanced (serve --connection-table)' if web.table else ''}", flush=True)
                results[count].append(asyncio.run(
                    drive(web.port, facts, args.clients, args.requests, args.paced_requests, args.think,
                          CpuMeter(web, facts["postmaster"]))))
    print(f"\nmachine: {describe()}")
    report(results, counts)


if __name__ == "__main__":
    main()
