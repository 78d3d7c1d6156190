"""The dialer's queue in PostgreSQL: enrolment, claiming limits, settling — across connections."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from callcenter.campaigns.outcomes import NextStep, Outcome
from callcenter.db import campaigns as camp
from callcenter.db import dialer
from callcenter.ivr.answers import Answer, outcome_of
from callcenter.transfer.importer import import_tickets

from .factories import insert_ticket
from .test_import import row, write_csv

NOW = datetime(2024, 5, 6, 2, 30, tzinfo=timezone.utc)   # 10:30 Beijing


async def setup_campaign(conn, *, tickets=5, max_channels=3, phones=None, cap=2) -> int:
    await camp.upsert_trunk(conn, "main", "PJSIP/{number}@trunk", max_channels, 10)
    for i in range(tickets):
        phone = phones[i] if phones else f"138000000{i:02d}"
        await insert_ticket(conn, f"T{i}", status="awaiting_callback", phone=phone)
    cid = await camp.create_campaign(conn, camp.CampaignSpec(name="五月回访", trunk="main",
                                                             daily_cap_per_number=cap))
    await camp.change_state(conn, cid, "start", actor="test")
    await dialer.enrol(conn, cid, due_at=NOW - timedelta(minutes=1))
    return cid


async def test_enrol_is_idempotent_and_skips_anonymous(db):
    async with db.pool.acquire() as conn:
        cid = await setup_campaign(conn, tickets=3)
        await insert_ticket(conn, "ANON", status="awaiting_callback", phone="")
        await insert_ticket(conn, "OPEN", status="handling", phone="13800000099")
        assert await dialer.enrol(conn, cid, due_at=NOW) == 0
        assert await conn.fetchval("SELECT count(*) FROM callback_attempts") == 3


async def test_claim_respects_trunk_channels_and_writes_dialing(db):
    async with db.pool.acquire() as conn:
        cid = await setup_campaign(conn, tickets=5, max_channels=3)
        trunk = (await camp.get_campaign(conn, cid)).trunk_id
        first = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=10, instance="a", now=NOW)
        more = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=10, instance="a", now=NOW)
        states = await conn.fetch("SELECT state, action_id, channel_id FROM callback_attempts WHERE state='dialing'")
    assert len(first) == 3 and more == []
    assert len(states) == 3 and all(s["action_id"] and s["channel_id"] for s in states)
    assert len({c.channel_id for c in first}) == 3


async def test_one_call_per_number_do_not_call_and_daily_cap(db):
    async with db.pool.acquire() as conn:
        cid = await setup_campaign(conn, tickets=4, max_channels=10, cap=1,
                                   phones=["13800000001", "13800000001", "13800000002", "13800000003"])
        await conn.execute("INSERT INTO do_not_call (phone, reason) VALUES ('13800000003', '本人要求')")
        trunk = (await camp.get_campaign(conn, cid)).trunk_id
        got = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=10, instance="a", now=NOW)
        assert sorted(c.phone for c in got) == ["13800000001", "13800000002"]
        # The same number's second ticket waits: finishing the call leaves it capped for today (cap 1).
        first = next(c for c in got if c.phone == "13800000001")
        await dialer.finish(conn, first.attempt_id, outcome=Outcome.BUSY, ended_at=NOW)
        again = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=10, instance="a", now=NOW)
        assert again == []
        tomorrow = NOW + timedelta(days=1)
        later = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=10, instance="a", now=tomorrow)
        assert [c.phone for c in later] == ["13800000001"]


async def test_database_refuses_a_second_live_call_to_a_number(db):
    async with db.pool.acquire() as conn:
        await setup_campaign(conn, tickets=2, phones=["13800000001", "13800000001"])
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("UPDATE callback_attempts SET state = 'dialing'")


async def test_two_instances_never_claim_the_same_attempt(db):
    async with db.pool.acquire() as conn:
        cid = await setup_campaign(conn, tickets=30, max_channels=12)
        trunk = (await camp.get_campaign(conn, cid)).trunk_id

    async def instance(name):
        got = []
        async with db.pool.acquire() as conn:
            for _ in range(10):
                got += await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=3,
                                              instance=name, now=NOW)
        return got

    a, b = await asyncio.gather(instance("a"), instance("b"))
    ids = [c.attempt_id for c in a + b]
    assert len(ids) == len(set(ids)) == 12          # the trunk limit holds across both


async def test_paused_campaign_is_not_claimed_and_stop_cancels_pending(db):
    async with db.pool.acquire() as conn:
        cid = await setup_campaign(conn, tickets=3)
        trunk = (await camp.get_campaign(conn, cid)).trunk_id
        await camp.change_state(conn, cid, "pause", actor="test")
        assert await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=5, instance="a", now=NOW) == []
        await camp.change_state(conn, cid, "stop", actor="test")
        assert await conn.fetchval("SELECT count(*) FROM callback_attempts WHERE state = 'cancelled'") == 3
        with pytest.raises(ValueError):
            await camp.change_state(conn, cid, "resume", actor="test")


async def test_settle_applies_the_next_step_once(db):
    async with db.pool.acquire() as conn:
        cid = await setup_campaign(conn, tickets=2, max_channels=5)
        trunk = (await camp.get_campaign(conn, cid)).trunk_id
        busy, done = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=5, instance="a", now=NOW)
        await dialer.finish(conn, busy.attempt_id, outcome=Outcome.BUSY, ended_at=NOW, reason=5, cause=17)
        assert not await dialer.finish(conn, busy.attempt_id, outcome=Outcome.FAILED, ended_at=NOW)  # once only
        await dialer.finish(conn, done.attempt_id, outcome=Outcome.ANSWERED_COMPLETE, ended_at=NOW)
        retry_at = NOW + timedelta(minutes=30)
        assert await dialer.settle(conn, busy.attempt_id, NextStep(retry_at, None))
        assert not await dialer.settle(conn, busy.attempt_id, NextStep(retry_at, None))
        assert await dialer.settle(conn, done.attempt_id, NextStep(None, "callback_done"))
        rows = await conn.fetch("SELECT ticket_id, round_attempt, state, due_at, outcome, attempt_no, phone, script, "
                                "trunk_id, campaign_id, settled FROM callback_attempts ORDER BY ticket_id, attempt_no")
        statuses = dict(await conn.fetch("SELECT id, status FROM tickets"))
    retry = [r for r in rows if r["ticket_id"] == busy.ticket_id]
    assert [(r["round_attempt"], r["state"]) for r in retry] == [(1, "finished"), (2, "pending")]
    assert retry[0]["outcome"] == "busy" and retry[1]["due_at"] == retry_at
    assert [(r["attempt_no"], r["settled"]) for r in retry] == [(1, True), (2, False)]
    same = ("phone", "script", "trunk_id", "campaign_id")
    assert [retry[1][c] for c in same] == [retry[0][c] for c in same]
    with pytest.raises(ValueError):                    # settle's one-statement retry relies on this
        NextStep(retry_at, "callback_done")
    assert statuses[done.ticket_id] == "called_back" and statuses[busy.ticket_id] == "awaiting_callback"


async def test_a_long_head_of_undialable_attempts_never_blocks_the_queue(db):
    """The claim reads the due queue a page at a time: 30 do-not-call numbers at its head (more than a
    one-call claim's first page) are skipped, and what it claims comes back oldest due first."""
    async with db.pool.acquire() as conn:
        blocked = [f"1390000{i:04d}" for i in range(30)]
        cid = await setup_campaign(conn, tickets=33, max_channels=10,
                                   phones=blocked + ["13800000101", "13800000102", "13800000103"])
        await conn.executemany("INSERT INTO do_not_call (phone, reason) VALUES ($1, '本人要求')",
                               [(p,) for p in blocked])
        # Due times in the order the tickets were made: the blocked ones are the head of the queue.
        await conn.execute("""UPDATE callback_attempts a SET due_at = $1::timestamptz + t.id * interval '1 second'
                                FROM tickets t WHERE t.id = a.ticket_id""", NOW - timedelta(hours=1))
        trunk = (await camp.get_campaign(conn, cid)).trunk_id
        one = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=1, instance="a", now=NOW)
        rest = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=5, instance="a", now=NOW)
    assert [c.phone for c in one] == ["13800000101"]
    assert [c.phone for c in rest] == ["13800000102", "13800000103"]


async def test_finish_with_the_retry_worked_out_settles_in_the_same_statement_only_when_it_stands(db):
    """A call nobody answered: the dialer works out its retry and writes it with the finish.  It stands only
    if the attempt is on the round assumed and no outcome or end time was stored before; else the finish
    alone is written and the usual settle follows."""
    async with db.pool.acquire() as conn:
        cid = await setup_campaign(conn, tickets=3, max_channels=5)
        trunk = (await camp.get_campaign(conn, cid)).trunk_id
        plain, verdict, other_round = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=5,
                                                             instance="a", now=NOW)
        retry_at = NOW + timedelta(minutes=30)
        done = await dialer.finish(conn, plain.attempt_id, outcome=Outcome.BUSY, ended_at=NOW, cause=17,
                                   retry=(1, retry_at))
        assert done.settled and done.outcome is Outcome.BUSY
        assert not await dialer.settle(conn, plain.attempt_id, NextStep(retry_at, None))    # nothing left to do
        await conn.execute("UPDATE callback_attempts SET outcome = 'refused' WHERE id = $1", verdict.attempt_id)
        done = await dialer.finish(conn, verdict.attempt_id, outcome=Outcome.NO_ANSWER, ended_at=NOW,
                                   retry=(1, retry_at))
        assert not done.settled and done.outcome is Outcome.REFUSED           # the stored verdict stands
        done = await dialer.finish(conn, other_round.attempt_id, outcome=Outcome.BUSY, ended_at=NOW,
                                   retry=(2, retry_at))
        assert not done.settled
        assert await dialer.finish(conn, plain.attempt_id, outcome=Outcome.BUSY, ended_at=NOW,
                                   retry=(1, retry_at)) is None               # once only
        rows = await conn.fetch("SELECT ticket_id, attempt_no, round_attempt, state, due_at, settled, phone "
                                "FROM callback_attempts ORDER BY ticket_id, attempt_no")
    by_ticket: dict = {}
    for r in rows:
        by_ticket.setdefault(r["ticket_id"], []).append(r)
    first, again = by_ticket[plain.ticket_id]
    assert (first["settled"], again["attempt_no"], again["round_attempt"], again["state"], again["due_at"]) == (
        True, 2, 2, "pending", retry_at)
    assert again["phone"] == first["phone"]
    assert [len(by_ticket[c.ticket_id]) for c in (verdict, other_round)] == [1, 1]
    assert not any(r["settled"] for c in (verdict, other_round) for r in by_ticket[c.ticket_id])


async def test_a_stopped_campaigns_tickets_can_be_taken_by_the_next_one(db):
    """Stopping is for good, but the tickets it leaves 待回访 are not lost to the office: those never
    dialled, and those whose round the stop cut short (a retry that ended up cancelled, even one written
    by a call still live at the stop), go to the next campaign.  A ticket still in a round elsewhere, or
    handed to the desk, does not."""
    async with db.pool.acquire() as conn:
        first = await setup_campaign(conn, tickets=4, max_channels=5)
        trunk = (await camp.get_campaign(conn, first)).trunk_id
        busy, live_at_stop = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[first], limit=2,
                                                    instance="a", now=NOW)
        await dialer.finish(conn, busy.attempt_id, outcome=Outcome.BUSY, ended_at=NOW)
        assert await dialer.settle(conn, busy.attempt_id, NextStep(NOW + timedelta(minutes=30), None))
        await camp.change_state(conn, first, "stop", actor="test")      # busy's retry and 2 undialled: cancelled
        # The call live at the stop ends busy too; its retry is written into the stopped campaign …
        await dialer.finish(conn, live_at_stop.attempt_id, outcome=Outcome.BUSY, ended_at=NOW)
        assert await dialer.settle(conn, live_at_stop.attempt_id, NextStep(NOW + timedelta(minutes=30), None))
        # … and the dialer's housekeeping cancels it.
        assert await dialer.cancel_undiallable(conn, NOW) == 1
        assert await dialer.cancel_undiallable(conn, NOW) == 0
        assert await conn.fetchval("SELECT count(*) FROM callback_attempts WHERE state = 'pending'") == 0

        second = await camp.create_campaign(conn, camp.CampaignSpec(name="续呼", trunk="main"))
        await camp.change_state(conn, second, "start", actor="test")
        assert await dialer.count_eligible(conn, second) == 4
        assert await dialer.enrol(conn, second, due_at=NOW) == 4
        assert await dialer.enrol(conn, second, due_at=NOW) == 0        # still once per round
        rounds = await conn.fetch("SELECT round_attempt FROM callback_attempts WHERE campaign_id = $1", second)
        assert [r["round_attempt"] for r in rounds] == [1] * 4

        # A third campaign takes none of them: each is in the second one's round now.
        third = await camp.create_campaign(conn, camp.CampaignSpec(name="第三", trunk="main"))
        await camp.change_state(conn, third, "start", actor="test")
        assert await dialer.count_eligible(conn, third) == 0
        # Nor once the second's round ends without a ticket step (e.g. handed to the desk).
        await conn.execute("""UPDATE callback_attempts SET state = 'finished', outcome = 'no-answer', settled = true
                               WHERE campaign_id = $1""", second)
        assert await dialer.count_eligible(conn, third) == 0


CLOSED = dict(工单状态="已办结", 办结时间="2024-05-03 10:00", 办理结果="已解决")


async def imported_and_waiting(db, tmp_path) -> int:
    """Tickets A0 and A1 imported from the city's file at 待回访, each with its call waiting in a campaign."""
    await import_tickets(db.pool, write_csv(tmp_path / "may.csv", [row("A0", **CLOSED),
                                                                    row("A1", 来电人电话="13800000002", **CLOSED)]))
    async with db.pool.acquire() as conn:
        await camp.upsert_trunk(conn, "main", "PJSIP/{number}@trunk", 5, 10)
        cid = await camp.create_campaign(conn, camp.CampaignSpec(name="五月回访", trunk="main"))
        await camp.change_state(conn, cid, "start", actor="test")
        assert await dialer.enrol(conn, cid, due_at=NOW) == 2
    return cid


async def test_a_ticket_the_city_calls_back_first_is_not_called_again(db, tmp_path):
    """The city's file says 已回访 for a ticket whose retry waits in our queue: the retry is cancelled in
    the import's own transaction, so no claim dials the citizen about it (any status move does this)."""
    cid = await imported_and_waiting(db, tmp_path)
    called = dict(CLOSED, 工单状态="已回访", 是否有效回访="是", 是否联系="是", 是否解决="是", 是否满意="满意")
    await import_tickets(db.pool, write_csv(tmp_path / "city.csv", [row("A0", **called),
                                                                     row("A1", 来电人电话="13800000002", **CLOSED)]))
    async with db.pool.acquire() as conn:
        states = dict(await conn.fetch("""SELECT t.ticket_no, a.state FROM callback_attempts a
                                            JOIN tickets t ON t.id = a.ticket_id"""))
        assert states == {"A0": "cancelled", "A1": "pending"}
        trunk = (await camp.get_campaign(conn, cid)).trunk_id
        claimed = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=5, instance="a", now=NOW)
        assert [c.ticket_no for c in claimed] == ["A1"]
        assert (await camp.progress(conn, cid))["open_tickets"] == 1


@pytest.mark.parametrize("stored", [(), (("contacted", "yes"),), (("contacted", None),),
                                    (("contacted", "yes"), ("solved", "solved"), ("satisfaction", None)),
                                    (("contacted", "yes"), ("solved", "solved"), ("satisfaction", "satisfied")),
                                    (("dissatisfaction_reason", None),)])
async def test_an_answered_call_without_the_ivrs_verdict_is_judged_by_the_ivrs_own_rule(db, stored):
    """The IVR never ran, or a restart came between: the stored answers decide as the IVR would have —
    and a citizen who heard no question is not reached (retried, then 回访不成功), never 已回访."""
    async with db.pool.acquire() as conn:
        cid = await setup_campaign(conn, tickets=1)
        trunk = (await camp.get_campaign(conn, cid)).trunk_id
        [call] = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=1, instance="a", now=NOW)
        for question, intent in stored:
            await conn.execute("INSERT INTO callback_answers (attempt_id, question, intent, source) "
                               "VALUES ($1, $2, $3, 'dtmf')", call.attempt_id, question, intent)
        judged = await dialer.answered_outcome(conn, call.attempt_id)
    ivr = outcome_of(("contacted", "solved", "satisfaction"),
                     [Answer(question, intent, "dtmf") for question, intent in stored])
    assert judged.value == ivr
    assert (judged is Outcome.NO_ANSWER) == (not stored)


async def test_a_number_on_the_do_not_call_list_gets_no_robot_call_and_does_not_hold_up_its_campaign(db):
    """Listed before the campaign: never enrolled.  Listed while its call waits: that call is cancelled
    (by the listing itself, or by the dialer's sweep when an enrolment ran beside the listing).  The
    tickets stay 待回访 for a person, and the campaign has nothing left open."""
    async with db.pool.acquire() as conn:
        await camp.add_do_not_call(conn, "13800000000", "市民要求不再回访", "test")
        cid = await setup_campaign(conn, tickets=3)
        assert await conn.fetchval("SELECT count(*) FROM callback_attempts") == 2      # …00 never enrolled
        assert await camp.add_do_not_call(conn, "13800000001", "号码错误", "test") == 1
        # An enrolment that ran beside a listing and did not see it:
        await conn.execute("INSERT INTO do_not_call (phone) VALUES ('13800000002')")
        tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
        assert await dialer.cancel_undiallable(conn, tomorrow) == 0     # a day on, the sweep no longer looks …
        assert await dialer.cancel_undiallable(conn, datetime.now(timezone.utc)) == 1     # … but it does now
        assert (await camp.progress(conn, cid))["open_tickets"] == 0
        assert await dialer.enrol(conn, cid, due_at=NOW) == 0
        statuses = {r["status"] for r in await conn.fetch("SELECT status FROM tickets")}
    assert statuses == {"awaiting_callback"}


async def test_a_corrected_caller_number_is_the_one_the_waiting_call_dials(db, tmp_path):
    """The city's file corrects 来电人电话 while the ticket's call waits: the call dials the new number; a
    number corrected to one on the do-not-call list cancels it."""
    cid = await imported_and_waiting(db, tmp_path)
    async with db.pool.acquire() as conn:
        await camp.add_do_not_call(conn, "13900000009", "号码错误", "test")
    await import_tickets(db.pool, write_csv(tmp_path / "fixed.csv", [
        row("A0", 来电人电话="139-0000-0001", **CLOSED), row("A1", 来电人电话="13900000009", **CLOSED)]))
    async with db.pool.acquire() as conn:
        waiting = [tuple(r) for r in await conn.fetch(
            """SELECT t.ticket_no, a.phone, a.state FROM callback_attempts a JOIN tickets t ON t.id = a.ticket_id
                ORDER BY t.ticket_no""")]
        trunk = (await camp.get_campaign(conn, cid)).trunk_id
        claimed = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=5, instance="a", now=NOW)
    assert waiting == [("A0", "13900000001", "pending"), ("A1", "13800000002", "cancelled")]
    assert [(c.ticket_no, c.phone) for c in claimed] == [("A0", "13900000001")]
