"""The whole service runs a campaign against the simulated Asterisk over real TCP (AMI + FastAGI).

Checked against the simulator's ground truth: every ticket ends 已回访 or
回访不成功, no Originate is sent twice, no number is rung while already on a
call, the trunk's channel limit holds, and the citizens' keypresses are the
answers stored.
"""
from __future__ import annotations

from callcenter.db import callbacks
from callcenter.sim.citizens import CitizenBook, CitizenScript, Pickup, Reply
from tests import campaign_harness as h

SCRIPTED = {
    h.phone(0): CitizenScript.keys("1", "1", "1", ring_seconds=1),          # contacted, solved, satisfied
    h.phone(1): CitizenScript.keys("2", "3", "2", ring_seconds=1),          # not contacted, unsolved, basic
    h.phone(2): CitizenScript(pickup=Pickup.BUSY, ring_seconds=1),          # busy every time
    h.phone(3): CitizenScript(replies=(Reply.press("9"),), ring_seconds=1),  # declines the survey
    h.phone(4): CitizenScript(pickup=Pickup.UNALLOCATED, ring_seconds=0),   # the network: cause 1
}


async def test_campaign_calls_every_ticket_back_within_the_rules(db, settings):
    agi_port = h.free_port()
    sim = h.simulator(agi_port, book=CitizenBook(by_number=SCRIPTED, seed=3))
    sim_port = await sim.start()
    tickets = await h.seed_tickets(db.pool, 60)
    await h.start_campaign(db.pool, channels=6)
    try:
        async with h.service(settings, sim_port, agi_port, "e2e-1"):
            await h.wait_until_all_final(db.pool, timeout=90)
    finally:
        await sim.close()
    await h.assert_ledger_matches_the_pbx(db.pool, sim, channels=6)
    assert sim.engine.log.max_live > 1                       # it did call in parallel

    async with db.pool.acquire() as conn:
        by_phone = {r["caller_phone"]: r for r in await conn.fetch(
            "SELECT id, caller_phone, status FROM tickets WHERE id = ANY($1::bigint[])", tickets)}
        satisfied = await conn.fetchval(
            "SELECT id FROM callback_attempts WHERE ticket_id = $1 AND outcome = 'answered-complete'",
            by_phone[h.phone(0)]["id"])
        unhappy = await conn.fetchval(
            "SELECT id FROM callback_attempts WHERE ticket_id = $1 AND outcome = 'answered-complete'",
            by_phone[h.phone(1)]["id"])
        answers_0 = {q: r["intent"] for q, r in (await callbacks.current_answers(conn, satisfied)).items()}
        answers_1 = {q: r["intent"] for q, r in (await callbacks.current_answers(conn, unhappy)).items()}
        busy_attempts = await conn.fetch(
            "SELECT outcome FROM callback_attempts WHERE ticket_id = $1", by_phone[h.phone(2)]["id"])
        refused = await conn.fetchval(
            "SELECT outcome FROM callback_attempts WHERE ticket_id = $1", by_phone[h.phone(3)]["id"])
        invalid = await conn.fetch(
            "SELECT outcome FROM callback_attempts WHERE ticket_id = $1", by_phone[h.phone(4)]["id"])
    assert answers_0 == {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"}
    assert {k: answers_1[k] for k in ("contacted", "solved", "satisfaction")} == \
        {"contacted": "no", "solved": "unsolved", "satisfaction": "basic"}
    assert by_phone[h.phone(0)]["status"] == "called_back"
    assert [r["outcome"] for r in busy_attempts] == ["busy"] * 3          # retried up to max attempts, no more
    assert by_phone[h.phone(2)]["status"] == "callback_failed"
    assert refused == "refused" and by_phone[h.phone(3)]["status"] == "callback_failed"
    assert [r["outcome"] for r in invalid] == ["invalid-number"]          # a wrong number is not retried
