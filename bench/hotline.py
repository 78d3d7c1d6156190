"""Hotline under load: 200 simultaneous inbound callers through the simulator, measured end to end.

Everything is real except the PBX: the simulator's AMI server over TCP,
AmiLink, HotlineService, a private embedded PostgreSQL, and the web app on
127.0.0.1 with one signed-in console websocket per agent.  It prints

* screen-pop latency: from the moment the simulator emits AgentCalled to the
  moment the agent's websocket client has the message (same process, same
  monotonic clock), p50 / p95 / max;
* live-state correctness: the service's waiting callers and agent states
  sampled during the run against the simulator's own queue, and at the end
  every ledger row against the simulator's ground truth (outcome, agent,
  wait and talk time).

    .venv/bin/python bench/hotline.py [--callers 200] [--agents 20] [--time-scale 0.02] [--runs 3]

The whole run is repeated --runs times (each on a fresh database) and the
figures are printed as min / median / max with the machine (bench/spread.py).
"""
from __future__ import annotations

import argparse
import asyncio
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe  # noqa: E402
from bench.spread import add_runs_argument, print_table  # noqa: E402
from callcenter.config import Settings  # noqa: E402
from callcenter.db.database import Database, _init_connection  # noqa: E402
from callcenter.db.embedded import start_embedded, with_database  # noqa: E402
from callcenter.db.migrations import migrate  # noqa: E402
from callcenter.db.users import add_user  # noqa: E402
from callcenter.hotline.service import HotlineService  # noqa: E402
from callcenter.security.passwords import hash_password  # noqa: E402
from callcenter.sim.queues import AgentScript, CallerScript, QueueConfig, QueueEngine  # noqa: E402
from callcenter.sim.simulator import SimConfig, Simulator  # noqa: E402
from callcenter.telephony.ami import AmiLink, AmiLinkConfig  # noqa: E402
from callcenter.web.app import create_app  # noqa: E402
from callcenter.web.runner import start_web  # noqa: E402

PASSWORD = "bench-password-1"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def seed(conn: asyncpg.Connection, callers: int, agents: int, rng: random.Random) -> None:
    now = datetime.now(timezone.utc)
    for i in range(callers):
        if rng.random() < 0.3:                         # a third of callers have earlier tickets
            for k in range(rng.randint(1, 4)):
                await conn.execute(
                    """INSERT INTO tickets (ticket_no, category_l1, title, called_at, caller_phone, caller_name)
                       VALUES ($1, '物业管理', '噪音扰民', $2, $3, '市民')""",
                    f"H{i:04d}{k}", now - timedelta(days=rng.randint(1, 60)), f"139{i:08d}")
    digest = hash_password(PASSWORD)
    for a in range(1, agents + 1):
        await add_user(conn, f"agent{a}", "agent", digest)


async def sign_in(session: aiohttp.ClientSession, base: str, username: str) -> None:
    async with session.get(f"{base}/login") as response:
        token = _CSRF.search(await response.text()).group(1)
    async with session.post(f"{base}/login", data={"csrf_token": token, "username": username,
                                                    "password": PASSWORD, "next": ""},
                            allow_redirects=False) as response:
        if response.status != 303:
            raise RuntimeError(f"sign-in of {username} failed: {response.status}")


async def console(base: str, username: str, pops: list, ready: asyncio.Event, done: asyncio.Event) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:   # 127.0.0.1 cookies
        await sign_in(session, base, username)
        async with session.ws_connect(f"{base.replace('http', 'ws')}/console/ws") as ws:
            async for message in ws:
                data = message.json()
                if data["type"] == "hello":
                    ready.set()
                elif data["type"] == "screen_pop":
                    pops.append((username, data["uniqueid"], time.monotonic(), len(data["tickets"])))
                if done.is_set():
                    break


def sim_waiting(sim: Simulator) -> set[str]:
    return {c.channel.uniqueid for q in sim.engine.queues.queues.values() for c in q.waiting}


def sim_agents(sim: Simulator) -> dict[str, str]:
    out = {}
    for q in sim.engine.queues.queues.values():
        for m in q.members.values():
            out[m.name] = "in_call" if m.in_call and not m.ringing_for else "ringing" if m.ringing_for else \
                "paused" if m.paused else "idle"
    return out


async def one_run(args) -> dict[str, float]:
    """One run on a fresh database: prints what it saw, returns its figures."""
    rng = random.Random(args.seed)
    pgdata = Path(tempfile.mkdtemp(prefix="cc-bench-hotline-")) / "pgdata"
    dsn = with_database(start_embedded(pgdata), "postgres")
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await seed(conn, args.callers, args.agents, rng)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10, init=_init_connection)
    settings = Settings(dsn=dsn, home=pgdata.parent / "home")

    sim = Simulator(SimConfig(ami_port=0, time_scale=args.time_scale, noise_per_call=0))
    sim.engine.queues = QueueEngine(
        sim.engine, queues=[QueueConfig(strategy="rrmemory", timeout=15, retry=2)],
        agents={f"agent{a}": AgentScript(ring_seconds=rng.uniform(1, 4), talk_seconds=rng.uniform(20, 60))
                for a in range(1, args.agents + 1)})
    await sim.start()
    link = AmiLink(AmiLinkConfig(port=sim.port, ping_interval=5))
    await link.start()
    await link.wait_ready(10)
    service = HotlineService(interface_template="PJSIP/{username}")
    await service.start(link, pool, settings)
    app = create_app(Database(pool=pool, dsn=dsn, embedded=True), settings, extras={"hotline": service, "ami": link})
    runner = await start_web(app, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"

    pops: list = []
    done = asyncio.Event()
    readies = [asyncio.Event() for _ in range(args.agents)]
    consoles = [asyncio.create_task(console(base, f"agent{a + 1}", pops, readies[a], done))
                for a in range(args.agents)]
    waiting_ready = asyncio.gather(*(r.wait() for r in readies))
    finished, _ = await asyncio.wait([waiting_ready, *consoles], timeout=120, return_when=asyncio.FIRST_COMPLETED)
    if waiting_ready not in finished:
        failed = [t for t in consoles if t.done()]
        raise RuntimeError(f"consoles not ready: {failed[0].exception() if failed else 'timeout'}")
    for a in range(1, args.agents + 1):
        await service.login_agent(f"agent{a}")

    scripts = {}
    for i in range(args.callers):
        roll = rng.random()
        if roll < 0.15:
            scripts[f"139{i:08d}"] = CallerScript(patience=rng.uniform(5, 60))
        elif roll < 0.25:
            scripts[f"139{i:08d}"] = CallerScript(press_one_after=rng.uniform(20, 90))
        else:
            scripts[f"139{i:08d}"] = CallerScript(patience=3600)
    started = time.perf_counter()
    tasks = [sim.engine.queues.inbound(number, script=script) for number, script in scripts.items()]

    samples, exact_waiting, exact_agents, worst_gap = 0, 0, 0, 0
    while not all(t.done() for t in tasks):
        await asyncio.sleep(args.sample_every)
        samples += 1
        truth_waiting, seen_waiting = sim_waiting(sim), {c["uniqueid"] for c in service.state.waiting(0)}
        exact_waiting += truth_waiting == seen_waiting
        worst_gap = max(worst_gap, len(truth_waiting ^ seen_waiting))
        seen_agents = {r["name"]: r["status"] for r in service.state.agent_rows()}
        exact_agents += seen_agents == sim_agents(sim)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.5)
    await service.drain()
    done.set()

    truth = sim.engine.queues.truth
    latencies = []
    for agent, uid, received, _ in pops:
        called = truth[uid].agent_called_at.get(agent)
        if called is not None:
            latencies.append((received - called) * 1000)
    async with pool.acquire() as conn:
        rows = {r["uniqueid"]: r for r in await conn.fetch("SELECT * FROM hotline_calls")}
        tasks_open = await conn.fetchval("SELECT count(*) FROM callback_tasks WHERE reason = 'callback_requested'")
    wrong = []
    for uid, t in truth.items():
        row = rows.get(uid)
        if row is None:
            wrong.append((uid, "missing"))
            continue
        if row["outcome"] != t.outcome or row["agent"] != t.agent:
            wrong.append((uid, f"{row['outcome']}/{row['agent']} vs {t.outcome}/{t.agent}"))
        elif t.outcome in ("answered", "abandoned") and (abs(float(row["wait_seconds"]) - t.wait_s) > 1
                                                        or abs(float(row["talk_seconds"]) - t.talk_s) > 1):
            wrong.append((uid, "times"))
    outcomes = {o: sum(1 for t in truth.values() if t.outcome == o)
                for o in ("answered", "abandoned", "callback_requested")}
    final_ok = not service.state.waiting(0) and all(r["status"] == "idle" for r in service.state.agent_rows())

    print(f"hotline bench: {args.callers} simultaneous inbound callers, {args.agents} agents "
          f"(rrmemory), sim time scale {args.time_scale}")
    print(f"machine: {describe()}; platform.processor() = {platform.processor()!r}; "
          f"Python {platform.python_version()}")
    print(f"outcomes (simulator truth): {outcomes}; run took {elapsed:.1f} s wall")
    print(f"screen-pops received: {len(latencies)} for {sum(len(t.agent_called_at) for t in truth.values())} "
          f"AgentCalled events")
    if latencies:
        print(f"screen-pop latency AgentCalled → websocket: p50 {percentile(latencies, .5):.1f} ms, "
              f"p95 {percentile(latencies, .95):.1f} ms, max {max(latencies):.1f} ms, "
              f"mean {statistics.mean(latencies):.1f} ms")
    print(f"live state samples every {args.sample_every}s: {samples}; waiting set exact in {exact_waiting} "
          f"({100 * exact_waiting / max(samples, 1):.0f} %), largest difference {worst_gap} callers; "
          f"agent states exact in {exact_agents} ({100 * exact_agents / max(samples, 1):.0f} %)")
    print(f"ledger vs truth: {len(truth) - len(wrong)}/{len(truth)} calls correct "
          f"(outcome, agent, wait/talk ±1 s); callback tasks {tasks_open} for "
          f"{outcomes['callback_requested']} requests; final live state empty and idle: {final_ok}; "
          f"service errors {service.errors}")
    for uid, why in wrong[:10]:
        print(f"  wrong: {uid}: {why}")

    for task in consoles:
        task.cancel()
    await asyncio.gather(*consoles, return_exceptions=True)
    await runner.cleanup()
    await service.stop()
    await link.close()
    await sim.close()
    await pool.close()
    figures = {"waiting set exact": 100 * exact_waiting / max(samples, 1),
               "agent states exact": 100 * exact_agents / max(samples, 1),
               "ledger rows correct": 100 * (len(truth) - len(wrong)) / max(len(truth), 1)}
    if latencies:
        figures = {"screen-pop p50": percentile(latencies, .5), "screen-pop p95": percentile(latencies, .95),
                   "screen-pop max": max(latencies), **figures}
    return figures


async def run(args) -> None:
    runs = []
    for n in range(1, args.runs + 1):
        print(f"\nrun {n} of {args.runs}")
        runs.append(await one_run(args))
    names = [name for name in runs[0] if all(name in r for r in runs)]
    print_table(f"hotline, {args.callers} callers, {args.agents} agents, {args.runs} run(s); machine: {describe()}",
                {name: [r[name] for r in runs] for name in names},
                units={"screen-pop p50": "ms", "screen-pop p95": "ms", "screen-pop max": "ms",
                       "waiting set exact": "% of samples", "agent states exact": "% of samples",
                       "ledger rows correct": "%"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--time-scale", type=float, default=0.02,
                        help="simulated seconds → real seconds (ring, talk and patience times)")
    parser.add_argument("--sample-every", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=7)
    add_runs_argument(parser)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
