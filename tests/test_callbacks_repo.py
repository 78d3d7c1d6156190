"""callback_attempts / callback_answers repository: version 1 is never overwritten, corrections are versions."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from callcenter.db import callbacks
from tests.factories import insert_ticket


async def new_attempt(db, **kw):
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn, kw.pop("no", "T1"), status="awaiting_callback")
        return ticket_id, await callbacks.create_attempt(conn, ticket_id, phone="13800000001", **kw)


async def test_attempts_are_numbered_per_ticket_and_found_by_id_and_channel(db):
    channel = uuid.uuid4()
    ticket_id, first = await new_attempt(db, channel_id=channel)
    async with db.pool.acquire() as conn:
        second = await callbacks.create_attempt(conn, ticket_id, phone="13800000001")
        numbers = await conn.fetch("SELECT id, attempt_no FROM callback_attempts ORDER BY attempt_no")
        assert [(r["id"], r["attempt_no"]) for r in numbers] == [(first, 1), (second, 2)]
        facts = await callbacks.call_facts(conn, str(first))
        assert facts.ticket_id == ticket_id and facts.ticket_no == "T1" and facts.title == "楼道堆物"
        assert facts.script == "callback_three_rates" and facts.channel_id == channel
        assert (await callbacks.call_facts_by_channel(conn, str(channel))).attempt_id == first
        assert await callbacks.call_facts_by_channel(conn, "chan-dtmf") is None       # not a UUID: no match
        assert await callbacks.call_facts(conn, "'; DROP TABLE tickets; --") is None
        assert await callbacks.call_facts(conn, str(uuid.uuid4())) is None


async def test_mark_answered_keeps_the_first_time_and_never_revives_a_finished_call(db):
    _, attempt = await new_attempt(db)
    async with db.pool.acquire() as conn:
        assert await callbacks.mark_answered(conn, attempt)
        first = await conn.fetchval("SELECT answered_at FROM callback_attempts WHERE id = $1", attempt)
        # The dialer may have marked it first (OriginateResponse before the AGI session): still answered.
        assert await callbacks.mark_answered(conn, attempt)
        assert await conn.fetchval("SELECT answered_at FROM callback_attempts WHERE id = $1", attempt) == first
        assert await conn.fetchval("SELECT state FROM callback_attempts WHERE id = $1", attempt) == "answered"
        await conn.execute("UPDATE callback_attempts SET state = 'finished' WHERE id = $1", attempt)
        assert not await callbacks.mark_answered(conn, attempt)
        assert await conn.fetchval("SELECT state FROM callback_attempts WHERE id = $1", attempt) == "finished"


async def test_the_expected_call_is_marked_and_identified_at_once_and_anything_else_is_left_alone(db):
    channel = uuid.uuid4()
    ticket_id, attempt = await new_attempt(db, channel_id=channel, state="dialing")
    async with db.pool.acquire() as conn:
        async def state():
            return tuple(await conn.fetchrow("SELECT state, answered_at IS NOT NULL FROM callback_attempts "
                                             "WHERE id = $1", attempt))

        for attempt_var, channel_var, ticket_var in [
                (str(attempt), str(uuid.uuid4()), None),            # another channel
                (str(uuid.uuid4()), str(channel), None),            # another attempt
                (str(attempt), str(channel), str(ticket_id + 1)),   # another ticket
                (str(attempt), str(channel), f"0{ticket_id}"),      # not the ticket id as written
                ("not-a-uuid", str(channel), None), (None, str(channel), None)]:
            assert await callbacks.answer_expected_call(conn, attempt_var, channel_var, ticket_var) is None
            assert await state() == ("dialing", False)

        facts = await callbacks.answer_expected_call(conn, str(attempt), str(channel), f" {ticket_id} ")
        assert (facts.attempt_id, facts.ticket_id, facts.ticket_no, facts.title, facts.state) == (
            attempt, ticket_id, "T1", "楼道堆物", "answered")
        assert await state() == ("answered", True)
        again = await callbacks.answer_expected_call(conn, str(attempt), str(channel), None)   # a retried write
        assert again.attempt_id == attempt

        await callbacks.finish_attempt(conn, attempt, "answered-complete")     # a verdict: a replay is not usual
        assert await callbacks.answer_expected_call(conn, str(attempt), str(channel), None) is None


async def test_version_one_is_never_overwritten(db):
    _, attempt = await new_attempt(db)
    async with db.pool.acquire() as conn:
        assert await callbacks.record_answer(conn, attempt, "contacted", intent="yes", source="dtmf", digits="1")
        assert not await callbacks.record_answer(conn, attempt, "contacted", intent="no", source="dtmf", digits="2")
        rows = await callbacks.answers(conn, attempt)
    assert [(r["question"], r["version"], r["intent"], r["digits"]) for r in rows] == [("contacted", 1, "yes", "1")]


async def test_speech_answer_keeps_recording_transcript_confidence_and_review_flag(db):
    _, attempt = await new_attempt(db)
    async with db.pool.acquire() as conn:
        await callbacks.record_answer(conn, attempt, "solved", intent="partly", source="speech",
                                      transcript="部分解决", confidence=0.4321, recording_path="/r/solved-1.wav",
                                      needs_review=True)
        row = (await callbacks.answers(conn, attempt))[0]
    assert (row["transcript"], float(row["confidence"]), row["recording_path"], row["needs_review"]) == \
        ("部分解决", 0.4321, "/r/solved-1.wav", True)


@pytest.mark.parametrize("kw, message", [
    ({"source": "supervisor"}, "answer source"),
    ({"source": "dtmf", "confidence": 1.5}, "outside 0–1"),
])
async def test_bad_answers_are_refused(db, kw, message):
    _, attempt = await new_attempt(db)
    async with db.pool.acquire() as conn:
        with pytest.raises(ValueError, match=message):
            await callbacks.record_answer(conn, attempt, "contacted", intent="yes", **kw)
        assert await callbacks.answers(conn, attempt) == []


async def test_concurrent_duplicate_writes_store_exactly_one(db):
    _, attempt = await new_attempt(db)

    async def write(intent):
        async with db.pool.acquire() as conn:
            return await callbacks.record_answer(conn, attempt, "satisfaction", intent=intent, source="dtmf")

    results = await asyncio.gather(*(write(i) for i in ["satisfied", "basic", "dissatisfied", "basic"]))
    assert sorted(results) == [False, False, False, True]
    async with db.pool.acquire() as conn:
        assert len(await callbacks.answers(conn, attempt)) == 1


async def test_finish_keeps_the_first_verdict_and_leaves_the_state_to_the_dialer(db):
    _, attempt = await new_attempt(db)
    async with db.pool.acquire() as conn:
        await callbacks.mark_answered(conn, attempt)
        assert await callbacks.finish_attempt(conn, attempt, "answered-partial") == "answered-partial"
        assert await callbacks.finish_attempt(conn, attempt, "answered-complete") == "answered-partial"
        row = await conn.fetchrow("SELECT state, outcome FROM callback_attempts WHERE id = $1", attempt)
    assert (row["state"], row["outcome"]) == ("answered", "answered-partial")


async def test_finish_rejects_outcomes_the_ivr_cannot_know_and_unknown_attempts(db):
    _, attempt = await new_attempt(db)
    async with db.pool.acquire() as conn:
        with pytest.raises(ValueError, match="busy"):
            await callbacks.finish_attempt(conn, attempt, "busy")
        with pytest.raises(callbacks.AttemptNotFound):
            await callbacks.finish_attempt(conn, uuid.uuid4(), "refused")
        assert await conn.fetchval("SELECT outcome FROM callback_attempts WHERE id = $1", attempt) is None


async def test_supervisor_correction_is_a_new_version_with_reason_and_audit(db):
    _, attempt = await new_attempt(db)
    async with db.pool.acquire() as conn:
        await callbacks.record_answer(conn, attempt, "satisfaction", intent=None, source="speech",
                                      transcript="嗯还行吧", needs_review=True)
        v2 = await callbacks.correct_answer(conn, attempt, "satisfaction", intent="basic",
                                            reason="录音中市民说“还行”，按基本满意", by="supervisor1")
        v3 = await callbacks.correct_answer(conn, attempt, "satisfaction", intent="satisfied",
                                            reason="复核改判", by="supervisor2")
        rows = await callbacks.answers(conn, attempt)
        current = await callbacks.current_answers(conn, attempt)
        audit = await conn.fetch("SELECT actor, detail FROM audit_log ORDER BY id")
    assert (v2, v3) == (2, 3)
    assert [(r["version"], r["intent"], r["source"], r["created_by"]) for r in rows] == [
        (1, None, "speech", "citizen"), (2, "basic", "supervisor", "supervisor1"),
        (3, "satisfied", "supervisor", "supervisor2")]
    assert current["satisfaction"]["version"] == 3 and current["satisfaction"]["reason"] == "复核改判"
    assert [a["actor"] for a in audit] == ["supervisor1", "supervisor2"]
    assert audit[0]["detail"]["version"] == 2


@pytest.mark.parametrize("reason, by", [("", "sup"), ("   ", "sup"), ("ok", " ")])
async def test_correction_needs_a_reason_and_a_name(db, reason, by):
    _, attempt = await new_attempt(db)
    async with db.pool.acquire() as conn:
        with pytest.raises(callbacks.CorrectionRejected):
            await callbacks.correct_answer(conn, attempt, "contacted", intent="yes", reason=reason, by=by)
        assert await callbacks.answers(conn, attempt) == []


async def test_correction_of_unknown_attempt_writes_nothing(db):
    async with db.pool.acquire() as conn:
        with pytest.raises(callbacks.AttemptNotFound):
            await callbacks.correct_answer(conn, uuid.uuid4(), "contacted", intent="yes", reason="x", by="s")
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 0


async def test_complete_answers_feed_the_three_rates(db):
    """The scoring triggers pick up a complete set of answers (the IVR's contract with scoring)."""
    ticket_id, attempt = await new_attempt(db)
    async with db.pool.acquire() as conn:
        for question, intent in [("contacted", "yes"), ("solved", "partly"), ("satisfaction", "basic")]:
            await callbacks.record_answer(conn, attempt, question, intent=intent, source="dtmf")
        row = await conn.fetchrow("SELECT source, contacted, solved, satisfaction FROM ticket_scores "
                                  "WHERE ticket_id = $1", ticket_id)
    assert dict(row) == {"source": "own", "contacted": "yes", "solved": "partly", "satisfaction": "basic"}
