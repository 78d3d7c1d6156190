"""Running real campaigns in tests: the service (or `callcenter serve`) against the simulator over TCP.

Shared by the end-to-end and fault tests so each states only what it breaks
and what it checks.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta

from callcenter.campaigns.dialer import DialerOptions
from callcenter.db import campaigns as campaign_repo
from callcenter.netutil import free_port  # noqa: F401  (re-exported for the tests)
from callcenter.service import Service, ServiceOptions
from callcenter.sim.citizens import CitizenBook
from callcenter.sim.simulator import SimConfig, Simulator
from tests.factories import insert_ticket

FINAL_TICKET_STATES = ("called_back", "callback_failed")


def phone(i: int) -> str:
    return f"139{i:08d}"


async def seed_tickets(pool, count: int, *, first: int = 0) -> list[int]:
    """``count`` tickets at 待回访, each with its own number."""
    async with pool.acquire() as conn:
        return [await insert_ticket(conn, f"E{first + i:05d}", status="awaiting_callback", phone=phone(first + i))
                for i in range(count)]


async def start_campaign(pool, *, channels: int, cps: float = 100, max_attempts: int = 3,
                         retry: timedelta = timedelta(seconds=1), name: str = "e2e",
                         dial: str = "Local/{number}@citizen-sim", daily_cap: int = 20) -> int:
    async with pool.acquire() as conn:
        await campaign_repo.upsert_trunk(conn, "sim", dial, channels, cps, "<01082345678>")
        campaign_id = await campaign_repo.create_campaign(conn, campaign_repo.CampaignSpec(
            name=name, trunk="sim", windows=("00:00-23:59",), max_attempts=max_attempts, retry_busy=retry,
            retry_no_answer=retry, retry_failed=retry, retry_partial=retry, retry_no_answer_elsewhere=False,
            daily_cap_per_number=daily_cap))
        await campaign_repo.change_state(conn, campaign_id, "start", actor="test")
    return campaign_id


def simulator(agi_port: int, *, book: CitizenBook | None = None, time_scale: float = 0.005) -> Simulator:
    return Simulator(SimConfig(ami_port=0, agi_url=f"agi://127.0.0.1:{agi_port}/callback", time_scale=time_scale,
                               noise_per_call=5, book=book or CitizenBook(seed=7)))


def service(settings, sim_port: int, agi_port: int, instance: str, *, originate_timeout_ms: int = 30000,
            key_settle_s: float = 0.0, **options) -> Service:
    """The real service wired for tests: fast ticks, fast pings, no web (``options``: more ServiceOptions).

    ``key_settle_s``: the IVR's pause after an answering key; none against the simulator, whose clock runs
    hundreds of times faster; the real PBX's tests pass ``runner.KEY_SETTLE_S``, as ``serve`` runs."""
    settings = replace(settings, ami_port=sim_port, agi_port=agi_port, agi_host="127.0.0.1",
                       instance_name=instance)
    return Service(settings, ServiceOptions(
        web=False,
        dialer=DialerOptions(instance=instance, tick=0.05, refresh_every=0.2, reconcile_every=1.0,
                             originate_timeout_ms=originate_timeout_ms, orphaned_after=timedelta(seconds=5)),
        ami=dict(ping_interval=0.5, ping_timeout=2.0, backoff_initial=0.05, backoff_max=0.5, settle_grace=0.3),
        key_settle_s=key_settle_s, **options))


async def open_tickets(pool) -> int:
    async with pool.acquire() as conn:
        return await conn.fetchval(
            "SELECT count(*) FROM tickets WHERE status = 'awaiting_callback'")


async def wait_until_all_final(pool, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await open_tickets(pool) or await live_attempts(pool):
        if loop.time() > deadline:
            raise AssertionError(f"{await open_tickets(pool)} ticket(s) still awaiting callback, "
                                 f"{await live_attempts(pool)} attempt(s) live after {timeout}s")
        await asyncio.sleep(0.1)


async def live_attempts(pool) -> int:
    async with pool.acquire() as conn:
        return await conn.fetchval(
            """SELECT count(*) FROM callback_attempts
                WHERE state IN ('pending', 'dialing', 'answered') OR (state = 'finished' AND NOT settled)""")


async def assert_ledger_matches_the_pbx(pool, sim: Simulator, *, channels: int, max_attempts: int = 3,
                                        exact: bool = True) -> None:
    """The invariants the dialer promises, checked against what the simulated PBX really did.

    ``exact=False`` after an AMI outage: an Originate written just as the link
    died may never have reached the PBX; its attempt is then finished as failed
    (and retried by the rules), so the ledger may hold calls the PBX never saw.
    """
    log = sim.engine.log
    assert log.channel_ids_dialed_twice() == [], "an Originate was sent twice"
    assert log.overlapping_numbers == [], "a number was rung while already on a call"
    assert log.max_live <= channels, f"{log.max_live} channels used, trunk allows {channels}"
    async with pool.acquire() as conn:
        dialed = await conn.fetch(
            """SELECT channel_id::text AS channel_id, state, outcome FROM callback_attempts
                WHERE channel_id IS NOT NULL""")
        per_ticket = await conn.fetchval(
            "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM callback_attempts GROUP BY ticket_id) x")
        not_final = await conn.fetchval(
            "SELECT count(*) FROM tickets WHERE status <> ALL($1::text[])", list(FINAL_TICKET_STATES))
    assert per_ticket <= max_attempts
    assert not_final == 0
    rung = {c.channel_id for c in log.calls}
    ours = {r["channel_id"] for r in dialed}
    assert rung <= ours, "the PBX rang a call the ledger does not know"
    if exact:
        assert ours == rung, "the ledger holds a call the PBX never rang"
    assert all(r["state"] == "finished" and r["outcome"] for r in dialed)


async def cli(settings, *argv: str) -> str:
    """`callcenter ARGV` as an operator runs it beside `serve` (its own process, the same database); its
    output, once it succeeded."""
    env = dict(os.environ, CALLCENTER_DSN=settings.dsn, CALLCENTER_HOME=str(settings.home))
    env.pop("CALLCENTER_CONFIG", None)
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "callcenter", *argv], env=env,
                                   capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"callcenter {' '.join(argv)}: {done.stdout}{done.stderr}"
    return done.stdout


def serve(settings, ami_port: int, agi_port: int, log_path, **env: str) -> subprocess.Popen:
    """`callcenter serve` as a separate process, so it can be killed for real (``env``: more variables)."""
    full = dict(os.environ, CALLCENTER_DSN=settings.dsn, CALLCENTER_HOME=str(settings.home),
                CALLCENTER_AMI_PORT=str(ami_port), CALLCENTER_AGI_PORT=str(agi_port),
                CALLCENTER_WEB_PORT=str(free_port()), CALLCENTER_INSTANCE="killed-1",
                CALLCENTER_SHUTDOWN_GRACE="5")
    full.update(env)
    full.pop("CALLCENTER_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "callcenter", "serve"], env=full,
                            stdout=log_path.open("ab"), stderr=subprocess.STDOUT)


def reap(*procs: subprocess.Popen | None) -> None:
    """Kill whatever is still running of these processes (a test's cleanup)."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
