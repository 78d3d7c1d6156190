"""Callback attempts and the citizen's answers: the rows the IVR writes during a call.

Answers are versioned.  Version 1 is what the citizen said and is never
overwritten: a second write of it is refused (``ON CONFLICT DO NOTHING``) and
reported, so a replayed or duplicated call cannot change the record.  A
supervisor's correction is a new version with a reason.  Each answer is
committed on its own the moment it arrives, so a hang-up or a crash loses
nothing already said.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

#: Outcomes the IVR may give an answered call; the dialer writes the unanswered ones.
IVR_OUTCOMES = ("answered-complete", "answered-partial", "refused", "no-answer")
ANSWER_SOURCES = ("dtmf", "speech")


class AttemptNotFound(LookupError):
    pass


class CorrectionRejected(ValueError):
    """A supervisor correction is missing something the audit trail needs."""


@dataclass(frozen=True)
class CallFacts:
    """One attempt and the ticket it calls about: what the IVR needs to greet and to store."""
    attempt_id: uuid.UUID
    ticket_id: int
    ticket_no: str
    title: str
    category: str
    called_at: datetime
    script: str
    state: str
    outcome: str | None
    channel_id: uuid.UUID | None


def parse_uuid(value: str | uuid.UUID | None) -> uuid.UUID | None:
    """A UUID from untrusted text (a channel variable), or None when it is not one."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value.strip())
    except (ValueError, AttributeError):
        return None


_FACTS = """
    SELECT a.id, a.ticket_id, t.ticket_no, t.title, t.category_l1, t.called_at, a.script, a.state,
           a.outcome, a.channel_id
      FROM callback_attempts a JOIN tickets t ON t.id = a.ticket_id
"""


def _facts(row: asyncpg.Record | None) -> CallFacts | None:
    if row is None:
        return None
    return CallFacts(row["id"], row["ticket_id"], row["ticket_no"], row["title"], row["category_l1"],
                     row["called_at"], row["script"], row["state"], row["outcome"], row["channel_id"])


async def create_attempt(conn: asyncpg.Connection, ticket_id: int, *, phone: str,
                         script: str = "callback_three_rates", channel_id: uuid.UUID | None = None,
                         state: str = "pending", attempt_id: uuid.UUID | None = None) -> uuid.UUID:
    """A new attempt numbered after the ticket's last one (tests, demo, and the dialer's callers)."""
    attempt_id = attempt_id or uuid.uuid4()
    async with conn.transaction():
        # Serialise numbering per ticket so two creators cannot pick the same attempt_no.
        await conn.execute("SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE", ticket_id)
        await conn.execute(
            """INSERT INTO callback_attempts (id, ticket_id, attempt_no, phone, script, state, channel_id)
               VALUES ($1, $2, coalesce((SELECT max(attempt_no) FROM callback_attempts WHERE ticket_id = $2), 0) + 1,
                       $3, $4, $5, $6)""",
            attempt_id, ticket_id, phone, script, state, channel_id)
    return attempt_id


async def call_facts(conn: asyncpg.Connection, attempt_id: str | uuid.UUID) -> CallFacts | None:
    key = parse_uuid(attempt_id)
    if key is None:
        return None
    return _facts(await conn.fetchrow(_FACTS + " WHERE a.id = $1", key))


async def call_facts_by_channel(conn: asyncpg.Connection, channel_id: str | uuid.UUID) -> CallFacts | None:
    """The attempt whose Originate used this ChannelId (Asterisk's agi_uniqueid of the ;1 leg)."""
    key = parse_uuid(channel_id)
    if key is None:
        return None
    return _facts(await conn.fetchrow(_FACTS + " WHERE a.channel_id = $1", key))


async def call_facts_both(conn: asyncpg.Connection, attempt_id: str | uuid.UUID | None,
                          channel_id: str | uuid.UUID) -> tuple[CallFacts | None, CallFacts | None]:
    """:func:`call_facts` and :func:`call_facts_by_channel` in one query (the IVR asks both of every call)."""
    by_id, by_channel = parse_uuid(attempt_id), parse_uuid(channel_id)
    if by_id is None and by_channel is None:
        return None, None
    rows = await conn.fetch(_FACTS + " WHERE a.id = $1 OR a.channel_id = $2", by_id, by_channel)
    return (_facts(next((r for r in rows if by_id is not None and r["id"] == by_id), None)),
            _facts(next((r for r in rows if by_channel is not None and r["channel_id"] == by_channel), None)))


async def answer_expected_call(conn: asyncpg.Connection, attempt_id: str | None, channel_id: str,
                               ticket_id: str | None) -> CallFacts | None:
    """The usual call in one round trip: mark it answered and read its facts, if everything is as expected.

    Expected: the channel variables name an attempt that was dialled as this very channel, for
    this ticket (when TICKET_ID is set), with no verdict yet and not finished.  Anything else
    gives None and changes nothing; the IVR then takes the careful path, which says why a call
    is refused (:func:`call_facts_both`, :func:`mark_answered`).
    """
    key, channel = parse_uuid(attempt_id), parse_uuid(channel_id)
    ticket = (ticket_id or "").strip()
    if key is None or channel is None or (ticket and not (ticket.isdigit() and str(int(ticket)) == ticket)):
        return None
    return _facts(await conn.fetchrow(
        """WITH marked AS (
               UPDATE callback_attempts SET state = 'answered', answered_at = coalesce(answered_at, now()),
                      updated_at = now()
                WHERE id = $1 AND channel_id = $2 AND outcome IS NULL AND state IN ('pending', 'dialing', 'answered')
                  AND ($3::bigint IS NULL OR ticket_id = $3)
            RETURNING id, ticket_id, script, state, outcome, channel_id)
           SELECT m.id, m.ticket_id, t.ticket_no, t.title, t.category_l1, t.called_at, m.script, m.state,
                  m.outcome, m.channel_id
             FROM marked m JOIN tickets t ON t.id = m.ticket_id""", key, channel, int(ticket) if ticket else None))


async def mark_answered(conn: asyncpg.Connection, attempt_id: uuid.UUID, at: datetime | None = None) -> bool:
    """The IVR has the citizen on the line; False if the attempt was not waiting for that.

    Already 'answered' counts as success: the dialer may have seen the
    OriginateResponse (Reason 4) a moment before the AGI session began.
    """
    status = await conn.execute(
        """UPDATE callback_attempts SET state = 'answered', answered_at = coalesce(answered_at, $2, now()),
                  updated_at = now()
            WHERE id = $1 AND state IN ('pending', 'dialing', 'answered')""", attempt_id, at)
    return status.endswith(" 1")


async def record_answer(conn: asyncpg.Connection, attempt_id: uuid.UUID, question: str, *,
                        intent: str | None, source: str, digits: str | None = None,
                        transcript: str | None = None, confidence: float | None = None,
                        recording_path: str | None = None, needs_review: bool = False) -> bool:
    """Store the citizen's answer as version 1; False (and nothing changed) if one already exists."""
    if source not in ANSWER_SOURCES:
        raise ValueError(f"answer source {source!r}: the citizen answers by {' or '.join(ANSWER_SOURCES)}")
    if confidence is not None and not 0.0 <= confidence <= 1.0:
        raise ValueError(f"confidence {confidence!r} is outside 0–1")
    row = await conn.fetchval(
        """INSERT INTO callback_answers (attempt_id, question, version, intent, source, digits, transcript,
                                         confidence, recording_path, needs_review)
           VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (attempt_id, question, version) DO NOTHING
           RETURNING id""",
        attempt_id, question, intent, source, digits, transcript, confidence, recording_path, needs_review)
    return row is not None


async def finish_attempt(conn: asyncpg.Connection, attempt_id: uuid.UUID, outcome: str) -> str:
    """Record the IVR's verdict on the call; return the outcome now stored.

    The first verdict stands (a replayed call cannot change it).  The state is
    left ``answered``: the dialer closes the attempt when it sees the hang-up
    and records the cause, keeping this outcome (see db/dialer.finish).
    """
    if outcome not in IVR_OUTCOMES:
        raise ValueError(f"outcome {outcome!r} is not one the IVR gives ({', '.join(IVR_OUTCOMES)})")
    # The usual case in one round trip: no verdict yet, so this one is written.
    written = await conn.fetchval(
        """UPDATE callback_attempts SET outcome = $2, updated_at = now()
            WHERE id = $1 AND outcome IS NULL RETURNING outcome""", attempt_id, outcome)
    if written is not None:
        return written
    stored = await conn.fetchrow("SELECT outcome FROM callback_attempts WHERE id = $1", attempt_id)
    if stored is None:
        raise AttemptNotFound(f"回访记录 {attempt_id} 不存在 (no such callback attempt)")
    return stored["outcome"]


async def answers(conn: asyncpg.Connection, attempt_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every version of every answer of an attempt, oldest first."""
    return await conn.fetch(
        """SELECT id, question, version, intent, source, digits, transcript, confidence, recording_path,
                  needs_review, created_by, reason, created_at
             FROM callback_answers WHERE attempt_id = $1 ORDER BY question, version""", attempt_id)


async def current_answers(conn: asyncpg.Connection, attempt_id: uuid.UUID) -> dict[str, asyncpg.Record]:
    """The newest version of each question's answer (a correction supersedes the citizen's)."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (question) question, version, intent, source, digits, transcript, confidence,
                  recording_path, needs_review, created_by, reason
             FROM callback_answers WHERE attempt_id = $1 ORDER BY question, version DESC""", attempt_id)
    return {r["question"]: r for r in rows}


async def correct_answer(conn: asyncpg.Connection, attempt_id: uuid.UUID, question: str, *, intent: str | None,
                         reason: str, by: str, transcript: str | None = None) -> int:
    """A supervisor's correction as a new version (the citizen's stays); returns the version number."""
    if not reason.strip():
        raise CorrectionRejected("更正必须说明原因 (a correction needs a reason)")
    if not by.strip():
        raise CorrectionRejected("更正必须注明更正人 (a correction needs the supervisor's name)")
    async with conn.transaction():
        exists = await conn.fetchval("SELECT 1 FROM callback_attempts WHERE id = $1 FOR UPDATE", attempt_id)
        if exists is None:
            raise AttemptNotFound(f"回访记录 {attempt_id} 不存在 (no such callback attempt)")
        version = await conn.fetchval(
            """INSERT INTO callback_answers (attempt_id, question, version, intent, source, transcript,
                                             created_by, reason, needs_review)
               VALUES ($1, $2, (SELECT coalesce(max(version), 0) + 1 FROM callback_answers
                                 WHERE attempt_id = $1 AND question = $2),
                       $3, 'supervisor', $4, $5, $6, false)
               RETURNING version""",
            attempt_id, question, intent, transcript, by, reason.strip())
        await conn.execute(
            """INSERT INTO audit_log (actor, action, object_type, object_id, detail)
               VALUES ($1, 'correct_answer', 'callback_attempt', $2, $3)""",
            by, str(attempt_id), {"question": question, "version": version, "intent": intent,
                                  "reason": reason.strip()})
    return version
