"""回访审核 queries: callback attempts for the review pages, the speech review queue, recordings.

An answer waits for a supervisor while it is flagged ``needs_review`` and no
newer version of the same question exists (a confirmation or correction is a
new version, so it takes the answer out of the queue without touching it).
Every statement is fixed text with bind parameters; optional filters are
``$n IS NULL OR …`` so no SQL is ever assembled from input.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from .keyset import split_page

#: An answer still waiting for a supervisor (alias ``r``).
_WAITING = """r.needs_review AND NOT EXISTS (
        SELECT 1 FROM callback_answers n
         WHERE n.attempt_id = r.attempt_id AND n.question = r.question AND n.version > r.version)"""


@dataclass(frozen=True)
class AttemptFilter:
    """What the reviewer asked for; ``None`` means "any"."""
    outcome: str | None = None
    needs_review: bool | None = None
    created_from: datetime | None = None      # inclusive
    created_until: datetime | None = None     # exclusive
    campaign_id: int | None = None
    answered_only: bool = False               # only calls a citizen picked up (what a reviewer listens to)


@dataclass(frozen=True)
class AttemptKey:
    """Where a page starts: just after this (created_at, id), newest first."""
    created_at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class AttemptPage:
    rows: list[asyncpg.Record]
    next_key: AttemptKey | None


_PAGE_SQL = f"""
    SELECT a.id, a.ticket_id, t.ticket_no, t.title, a.attempt_no, a.phone, a.state, a.outcome,
           a.campaign_id, c.name AS campaign_name, a.created_at, a.dialed_at, a.answered_at, a.ended_at,
           (SELECT count(*) FROM callback_answers r WHERE r.attempt_id = a.id AND {_WAITING}) AS waiting
      FROM callback_attempts a
      JOIN tickets t ON t.id = a.ticket_id
      LEFT JOIN campaigns c ON c.id = a.campaign_id
     WHERE ($1::text IS NULL OR a.outcome = $1)
       AND ($2::boolean IS NULL OR $2 = EXISTS (
                SELECT 1 FROM callback_answers r WHERE r.attempt_id = a.id AND {_WAITING}))
       AND ($3::timestamptz IS NULL OR a.created_at >= $3)
       AND ($4::timestamptz IS NULL OR a.created_at < $4)
       AND ($5::bigint IS NULL OR a.campaign_id = $5)
       AND (NOT $9::boolean OR a.answered_at IS NOT NULL OR a.state = 'answered'
            OR a.outcome IN ('answered-complete', 'answered-partial', 'refused'))
       AND ($6::timestamptz IS NULL OR (a.created_at, a.id) < ($6, $7::uuid))
     ORDER BY a.created_at DESC, a.id DESC
     LIMIT $8"""


async def attempt_page(conn: asyncpg.Connection, flt: AttemptFilter, *, after: AttemptKey | None = None,
                       size: int = 50) -> AttemptPage:
    """One page of attempts, newest first, and the key of the next page (None on the last)."""
    rows = await conn.fetch(
        _PAGE_SQL, flt.outcome, flt.needs_review, flt.created_from, flt.created_until, flt.campaign_id,
        after.created_at if after else None, after.id if after else None, size + 1, flt.answered_only)
    return AttemptPage(*split_page(rows, size, lambda last: AttemptKey(last["created_at"], last["id"])))


async def attempt_detail(conn: asyncpg.Connection, attempt_id: uuid.UUID) -> asyncpg.Record | None:
    """One attempt with its ticket's number, title, phone and state, and its campaign's name."""
    return await conn.fetchrow(
        """SELECT a.*, t.ticket_no, t.title, t.caller_phone, t.status AS ticket_status,
                  c.name AS campaign_name
             FROM callback_attempts a
             JOIN tickets t ON t.id = a.ticket_id
             LEFT JOIN campaigns c ON c.id = a.campaign_id
            WHERE a.id = $1""", attempt_id)


async def review_queue(conn: asyncpg.Connection, *, limit: int = 200, offset: int = 0) -> list[asyncpg.Record]:
    """Answers waiting for a supervisor, oldest first (the order they should be worked)."""
    return await conn.fetch(
        f"""SELECT r.id, r.attempt_id, r.question, r.version, r.intent, r.source, r.digits, r.transcript,
                   r.confidence, r.recording_path IS NOT NULL AS has_recording, r.created_at,
                   a.attempt_no, t.id AS ticket_id, t.ticket_no, t.title
              FROM callback_answers r
              JOIN callback_attempts a ON a.id = r.attempt_id
              JOIN tickets t ON t.id = a.ticket_id
             WHERE {_WAITING}
             ORDER BY r.created_at, r.id
             LIMIT $1 OFFSET $2""", limit, offset)


async def answers_in_force(conn: asyncpg.Connection, attempt_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    """The answer in force to every question of these attempts (what the citizen said before and after)."""
    return await conn.fetch(
        """SELECT DISTINCT ON (attempt_id, question) attempt_id, question, version, intent, transcript, source,
                  created_at
             FROM callback_answers WHERE attempt_id = ANY($1::uuid[])
            ORDER BY attempt_id, question, version DESC""", attempt_ids)


async def review_queue_size(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(f"SELECT count(*) FROM callback_answers r WHERE {_WAITING}")


async def is_waiting(conn: asyncpg.Connection, attempt_id: uuid.UUID, question: str) -> bool:
    """Whether the newest answer to this question still waits for a supervisor."""
    return bool(await conn.fetchval(
        f"""SELECT EXISTS (SELECT 1 FROM callback_answers r
                            WHERE r.attempt_id = $1 AND r.question = $2 AND {_WAITING})""",
        attempt_id, question))


async def recording_path(conn: asyncpg.Connection, attempt_id: uuid.UUID, answer_id: int) -> str | None:
    """The stored recording of one answer of one attempt (None: no such answer or no recording)."""
    return await conn.fetchval(
        "SELECT recording_path FROM callback_answers WHERE id = $1 AND attempt_id = $2", answer_id, attempt_id)


async def ticket_callbacks(conn: asyncpg.Connection, ticket_id: int) -> list[asyncpg.Record]:
    """A ticket's callback attempts, oldest first, with each rate question's current answer (newest version)
    and, for a human callback, the agent (``desk_kind`` agent or manual) whose call 质检 may grade."""
    return await conn.fetch(
        """SELECT a.id, a.attempt_no, a.state, a.outcome, a.dialed_at, a.answered_at, a.ended_at, a.created_at,
                  q.contacted, q.solved, q.satisfaction, a.agent, a.desk_kind
             FROM callback_attempts a
             LEFT JOIN LATERAL (
                 SELECT max(x.intent) FILTER (WHERE x.question = 'contacted') AS contacted,
                        max(x.intent) FILTER (WHERE x.question = 'solved') AS solved,
                        max(x.intent) FILTER (WHERE x.question = 'satisfaction') AS satisfaction
                   FROM (SELECT DISTINCT ON (question) question, intent FROM callback_answers
                          WHERE attempt_id = a.id ORDER BY question, version DESC) x) q ON true
            WHERE a.ticket_id = $1 ORDER BY a.attempt_no""", ticket_id)


async def ticket_score(conn: asyncpg.Connection, ticket_id: int) -> asyncpg.Record | None:
    """The answers that count for a ticket (ticket_scores: our callback, else the city's) and their source."""
    return await conn.fetchrow(
        "SELECT source, contacted, solved, satisfaction, scored_at FROM ticket_scores WHERE ticket_id = $1",
        ticket_id)


async def ticket_corrections(conn: asyncpg.Connection, ticket_id: int) -> list[asyncpg.Record]:
    """Supervisors' confirmations and corrections of a ticket's callback answers, oldest first."""
    return await conn.fetch(
        """SELECT r.attempt_id, a.attempt_no, r.question, r.version, r.intent, r.created_by, r.reason,
                  r.created_at,
                  (SELECT p.intent FROM callback_answers p
                    WHERE p.attempt_id = r.attempt_id AND p.question = r.question AND p.version = r.version - 1)
                  AS previous_intent
             FROM callback_answers r JOIN callback_attempts a ON a.id = r.attempt_id
            WHERE a.ticket_id = $1 AND r.source = 'supervisor'
            ORDER BY r.created_at, r.id""", ticket_id)


async def question_recording(conn: asyncpg.Connection, attempt_id: uuid.UUID, question: str) -> bool:
    """Whether the citizen's answer to this question was recorded (so a reviewer can play it)."""
    return bool(await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM callback_answers
                           WHERE attempt_id = $1 AND question = $2 AND recording_path IS NOT NULL)""",
        attempt_id, question))


async def has_listened(conn: asyncpg.Connection, username: str, attempt_id: uuid.UUID, question: str) -> bool:
    """Whether ``username`` started playing a recording of this question (the audit log keeps every listen)."""
    return bool(await conn.fetchval(
        """SELECT EXISTS (
               SELECT 1 FROM audit_log l
                 JOIN callback_answers r ON r.id::text = l.detail->>'answer_id'
                WHERE l.object_type = 'callback_attempt' AND l.object_id = $4
                  AND l.action = 'recording.listen' AND l.actor = $1
                  AND r.attempt_id = $2 AND r.question = $3)""",
        username, attempt_id, question, str(attempt_id)))
