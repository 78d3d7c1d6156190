"""The desk queue in PostgreSQL: escalation on settling, SKIP LOCKED claims, leases, agent and manual calls."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st

from callcenter.campaigns.outcomes import NextStep
from callcenter.db import campaigns as camp
from callcenter.db import desk
from callcenter.db import dialer as queue
from callcenter.desk.lease import Hold, holder, may_call

from .factories import insert_ticket

T0 = datetime(2099, 5, 6, 2, 0, tzinfo=timezone.utc)    # after any enqueue time (items are due from now())
LEASE = timedelta(seconds=90)


async def _campaign(conn, **rules) -> int:
    await camp.upsert_trunk(conn, "sim", "Local/{number}@citizen-sim", 4, 10)
    cid = await camp.create_campaign(conn, camp.CampaignSpec(name="c", trunk="sim"))
    for column, value in rules.items():          # the column names are fixed here, never user input
        await conn.execute(f"UPDATE campaigns SET desk_{column} = $2 WHERE id = $1", cid, value)
    return cid


async def _robot_attempt(conn, ticket_id, cid, outcome, round_attempt=1, answers=()):
    attempt_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO callback_attempts (id, ticket_id, campaign_id, attempt_no, round_attempt, phone, state,
                                          outcome, ended_at)
           VALUES ($1, $2, $3, $4, $4, '13800000001', 'finished', $5, now())""",
        attempt_id, ticket_id, cid, round_attempt, outcome)
    for question, intent, review in answers:
        await conn.execute(
            """INSERT INTO callback_answers (attempt_id, question, intent, source, needs_review, confidence)
               VALUES ($1, $2, $3, 'speech', $4, 0.9)""", attempt_id, question, intent, review)
    return attempt_id


@pytest.mark.parametrize("known", [False, True], ids=["read-while-settling", "known-from-finish"])
async def test_settling_escalates_what_the_rules_say(db, known):
    """Both ways give the same desk items and ticket trail: the dialer's (the attempt as finish() returned
    it, so a call nobody needs to call again settles in one statement) and a bare settle."""
    async with db.pool.acquire() as conn:
        cid = await _campaign(conn)
        cases = {
            "dissatisfied": ("answered-complete", 1, [("contacted", "yes", False), ("solved", "solved", False),
                                                      ("satisfaction", "dissatisfied", False)], "callback_done"),
            "satisfied": ("answered-complete", 1, [("contacted", "yes", False), ("solved", "solved", False),
                                                   ("satisfaction", "satisfied", False)], "callback_done"),
            "unsure": ("answered-complete", 1, [("contacted", "yes", False), ("solved", "solved", False),
                                                ("satisfaction", "satisfied", True)], "callback_done"),
            "unreached": ("no-answer", 3, [], "callback_failed"),
            "refused": ("refused", 1, [], "callback_failed"),
        }
        ids = {}
        for name, (outcome, n, answers, action) in cases.items():
            ids[name] = await insert_ticket(conn, name, status="awaiting_callback")
            attempt = await _robot_attempt(conn, ids[name], cid, outcome, n, answers)
            item = (await queue.unsettled(conn, attempt_ids=[attempt]))[0] if known else None
            assert await queue.settle(conn, attempt, NextStep(None, action), known=item)
            assert not await queue.settle(conn, attempt, NextStep(None, action), known=item)    # once only
        reasons = dict(await conn.fetch("SELECT ticket_id, reason FROM desk_items"))
        trail = {r["ticket_id"]: (r["action"], r["from_state"], r["to_state"], r["actor"]) for r in await conn.fetch(
            "SELECT ticket_id, action, from_state, to_state, actor FROM ticket_events")}
        statuses = dict(await conn.fetch("SELECT id, status FROM tickets"))
    assert reasons == {ids["dissatisfied"]: "dissatisfied", ids["unsure"]: "low-confidence",
                       ids["unreached"]: "unreached", ids["refused"]: "refused"}
    for name, (_, _, _, action) in cases.items():
        to_state = "called_back" if action == "callback_done" else "callback_failed"
        assert trail[ids[name]] == (action, "awaiting_callback", to_state, "dialer")
        assert statuses[ids[name]] == to_state


async def test_a_campaign_without_the_desk_escalates_nothing(db):
    async with db.pool.acquire() as conn:
        cid = await _campaign(conn, enabled=False)
        tid = await insert_ticket(conn, status="awaiting_callback")
        attempt = await _robot_attempt(conn, tid, cid, "refused")
        await queue.settle(conn, attempt, NextStep(None, "callback_failed"))
        assert await conn.fetchval("SELECT count(*) FROM desk_items") == 0


async def test_agent_who_goes_away_loses_the_ticket_after_the_lease(db):
    async with db.pool.acquire() as conn:
        tid = await insert_ticket(conn)
        await desk.enqueue(conn, tid, "manual", by="王主任")
        first = await desk.claim_next(conn, "a", now=T0, lease=LEASE)
        assert first is not None and first.held_by == "a"
        assert await desk.claim_next(conn, "b", now=T0 + timedelta(seconds=89), lease=LEASE) is None
        assert await desk.renew(conn, first.id, "a", now=T0 + timedelta(seconds=60), lease=LEASE)
        assert await desk.claim_next(conn, "b", now=T0 + timedelta(seconds=149), lease=LEASE) is None
        # "a" disconnected: no more renewals.  After the lease "b" gets it, and "a" can no longer act on it.
        taken = await desk.claim_next(conn, "b", now=T0 + timedelta(seconds=151), lease=LEASE)
        assert taken is not None and taken.id == first.id and taken.held_by == "b"
        assert not await desk.renew(conn, first.id, "a", now=T0 + timedelta(seconds=152), lease=LEASE)
        assert not await desk.start_call(conn, first.id, "a", now=T0 + timedelta(seconds=152))
        with pytest.raises(desk.DeskError):
            await desk.record_call(conn, first.id, "a", outcome="busy", answers={}, now=T0 + timedelta(seconds=153))


async def test_a_live_call_keeps_the_ticket_past_the_lease(db):
    async with db.pool.acquire() as conn:
        tid = await insert_ticket(conn)
        await desk.enqueue(conn, tid, "manual", by="王主任")
        item = await desk.claim_next(conn, "a", now=T0, lease=LEASE)
        assert await desk.start_call(conn, item.id, "a", now=T0 + timedelta(seconds=1))
        assert not await desk.start_call(conn, item.id, "a", now=T0 + timedelta(seconds=2))   # one call at a time
        assert await desk.claim_next(conn, "b", now=T0 + timedelta(hours=1), lease=LEASE) is None
        assert await desk.end_call(conn, item.id, "a", now=T0 + timedelta(hours=1), lease=LEASE)
        assert (await desk.held_by(conn, "a", T0 + timedelta(hours=1))).id == item.id


async def test_concurrent_claims_never_share_a_ticket(db):
    async with db.pool.acquire() as conn:
        for i in range(3):
            await desk.enqueue(conn, await insert_ticket(conn, f"T{i}"), "manual", by="王主任")

    async def claim(agent):
        async with db.pool.acquire() as conn:
            return await desk.claim_next(conn, agent, now=T0, lease=LEASE)
    got = await asyncio.gather(*(claim(f"agent{i}") for i in range(5)))
    held = [g.ticket_id for g in got if g is not None]
    assert len(held) == 3 and len(set(held)) == 3


OPS = st.lists(st.tuples(st.sampled_from(["claim", "renew", "release", "call", "hangup", "record", "wait"]),
                         st.integers(0, 2), st.sampled_from([0, 1, 30, 89, 91, 200])), min_size=1, max_size=40)


@hsettings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(ops=OPS)
@example(ops=[("claim", 0, 0), ("record", 0, 0), ("claim", 0, 0), ("claim", 1, 0)])   # busy: not due yet
async def test_no_ticket_is_ever_called_by_two_agents(db, ops):
    """Any interleaving of three agents' actions and a moving clock: the database agrees with the lease rules,
    and a call starts only for the ticket's one holder, never while another call on it is up."""
    agents = ["a", "b", "c"]
    async with db.pool.acquire() as conn:
        await conn.execute("TRUNCATE desk_items, callback_answers, callback_attempts, tickets CASCADE")
        for i in range(2):
            await desk.enqueue(conn, await insert_ticket(conn, f"T{i}"), "manual", by="test")
        now = T0
        calling: dict[int, str] = {}                # item → agent with a call up (the test's own record)
        for op, who, step in ops:
            agent = agents[who]
            rows = await conn.fetch("SELECT id, held_by, lease_until, call_live, due_at, "
                                    "call_started_at IS NOT NULL AND NOT call_live AS unrecorded "
                                    "FROM desk_items WHERE state = 'open'")
            holds = {r["id"]: Hold(r["held_by"], r["lease_until"], r["call_live"], r["unrecorded"]) for r in rows}
            due = {r["id"] for r in rows if r["due_at"] <= now}        # a busy line waits before it is offered again
            mine = next((i for i, h in holds.items() if holder(h, now) == agent), None)
            if op == "claim":
                item = await desk.claim_next(conn, agent, now=now, lease=LEASE)
                if item is not None:
                    assert holder(holds[item.id], now) in (None, agent), "claimed a ticket someone else holds"
                    assert mine is None or mine == item.id
                else:
                    assert mine is None and all(holder(h, now) is not None for i, h in holds.items() if i in due)
            elif op == "wait":
                now += timedelta(seconds=step)
            elif mine is None:
                continue
            elif op == "renew":
                assert await desk.renew(conn, mine, agent, now=now, lease=LEASE)
            elif op == "release":
                assert await desk.release(conn, mine, agent) == (not holds[mine].call_live)
            elif op == "call":
                started = await desk.start_call(conn, mine, agent, now=now)
                assert started == may_call(holds[mine], agent, now)
                if started:
                    assert mine not in calling, f"{agent} called a ticket {calling.get(mine)} is calling"
                    calling[mine] = agent
            elif op == "hangup":
                if await desk.end_call(conn, mine, agent, now=now, lease=LEASE):
                    assert calling.pop(mine) == agent
            elif op == "record" and not holds[mine].call_live:
                await desk.record_call(conn, mine, agent, outcome="busy", answers={}, now=now)
            now += timedelta(seconds=1)
        live = await conn.fetch("SELECT id, held_by FROM desk_items WHERE call_live")
    assert {r["id"]: r["held_by"] for r in live} == calling


async def test_agent_answers_score_like_any_callback(db):
    async with db.pool.acquire() as conn:
        tid = await insert_ticket(conn, status="callback_failed")
        await desk.enqueue(conn, tid, "unreached")
        item = await desk.claim_next(conn, "a", now=T0, lease=LEASE)
        with pytest.raises(desk.DeskError):     # a complete call needs all three answers
            await desk.record_call(conn, item.id, "a", outcome="answered-complete",
                                   answers={"contacted": "yes"}, now=T0)
        attempt = await desk.record_call(
            conn, item.id, "a", outcome="answered-complete", now=T0 + timedelta(seconds=5),
            answers={"contacted": "yes", "solved": "partly", "satisfaction": "basic"}, note="市民说还在修")
        sources = {r["source"] for r in await conn.fetch(
            "SELECT source FROM callback_answers WHERE attempt_id = $1", attempt)}
        score = await conn.fetchrow("SELECT source, contacted, solved, satisfaction FROM ticket_scores "
                                    "WHERE ticket_id = $1", tid)
        state = await conn.fetchval("SELECT state FROM desk_items WHERE id = $1", item.id)
    assert sources == {"agent"}
    assert tuple(score) == ("own", "yes", "partly", "basic")
    assert state == "done"


async def test_dated_callback_returns_at_the_citizens_time(db):
    async with db.pool.acquire() as conn:
        await desk.enqueue(conn, await insert_ticket(conn), "dissatisfied")
        item = await desk.claim_next(conn, "a", now=T0, lease=LEASE)
        with pytest.raises(desk.DeskError):
            await desk.record_call(conn, item.id, "a", outcome="callback-requested", answers={}, now=T0)
        later = T0 + timedelta(days=1)
        await desk.record_call(conn, item.id, "a", outcome="callback-requested", answers={}, callback_at=later,
                               now=T0)
        assert await desk.claim_next(conn, "b", now=later - timedelta(minutes=1), lease=LEASE) is None
        again = await desk.claim_next(conn, "b", now=later, lease=LEASE)
    assert again.id == item.id and again.reason == "callback-requested"


async def test_manual_entry_needs_a_note_is_audited_and_can_be_rejected(db):
    answers = {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"}
    async with db.pool.acquire() as conn:
        tid = await insert_ticket(conn, status="callback_failed")
        with pytest.raises(desk.DeskError):
            await desk.record_manual(conn, tid, "a", outcome="answered-complete", answers=answers, note=" ",
                                     called_at=T0)
        attempt = await desk.record_manual(conn, tid, "a", outcome="answered-complete", answers=answers,
                                           note="用办公座机回访", called_at=T0)
        assert await conn.fetchval("SELECT source FROM ticket_scores WHERE ticket_id = $1", tid) == "own"
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'desk_manual_entry' "
                                   "AND object_id = $1", str(attempt)) == 1
        with pytest.raises(desk.DeskError):
            await desk.reject_manual(conn, attempt, "王主任", "")
        await desk.reject_manual(conn, attempt, "王主任", "无通话记录")
        with pytest.raises(desk.DeskError):
            await desk.reject_manual(conn, attempt, "王主任", "再次")
        first = await conn.fetch("SELECT source FROM callback_answers WHERE attempt_id = $1 AND version = 1",
                                 attempt)
        score = await conn.fetchval("SELECT source FROM ticket_scores WHERE ticket_id = $1", tid)
    assert {r["source"] for r in first} == {"manual"}      # the entry itself is kept
    assert score == "failed"                               # but no longer counts


async def test_a_ticket_moved_on_meanwhile_is_left_alone_when_its_attempt_settles(db):
    async with db.pool.acquire() as conn:
        cid = await _campaign(conn)
        tid = await insert_ticket(conn, "moved", status="called_back")     # a person closed it meanwhile
        attempt = await _robot_attempt(conn, tid, cid, "answered-complete", 1,
                                       [("contacted", "yes", False), ("solved", "solved", False),
                                        ("satisfaction", "satisfied", False)])
        item = (await queue.unsettled(conn, attempt_ids=[attempt]))[0]
        assert item.escalation is None
        assert await queue.settle(conn, attempt, NextStep(None, "callback_done"), known=item)
        assert await conn.fetchval("SELECT settled FROM callback_attempts WHERE id = $1", attempt)
        assert await conn.fetchval("SELECT status FROM tickets WHERE id = $1", tid) == "called_back"
        assert await conn.fetchval("SELECT count(*) FROM ticket_events WHERE ticket_id = $1", tid) == 0


@pytest.mark.parametrize("outcome, cancelled", [("answered-complete", True), ("refused", True),
                                                ("invalid-number", True), ("busy", False)])
async def test_a_persons_closing_call_cancels_the_robots_calls_not_yet_dialled(db, outcome, cancelled):
    """A callback made by hand (or at the desk) while the robot's retry waits: the robot does not call
    the citizen again after a person got an answer, a refusal or a wrong number; after a busy line it may."""
    answers = {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"} \
        if outcome == "answered-complete" else {}
    async with db.pool.acquire() as conn:
        cid = await _campaign(conn)
        tid = await insert_ticket(conn, status="awaiting_callback", phone="13800000001")
        await camp.change_state(conn, cid, "start", actor="test")
        await queue.enrol(conn, cid, due_at=T0)
        await desk.record_manual(conn, tid, "a", outcome=outcome, answers=answers, note="用办公座机回访",
                                 called_at=T0)
        robot = await conn.fetchval("SELECT state FROM callback_attempts WHERE ticket_id = $1 AND agent IS NULL",
                                    tid)
    assert robot == ("cancelled" if cancelled else "pending")
