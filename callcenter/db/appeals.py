"""Appeals repository: the daily candidate list, appeal records, their evidence and history.

Every state change runs in one transaction that locks the appeal row, asks
the pure machine (callcenter.ledger.appeals) and writes the new state with its
event, so the history always explains the state.  Uploaded evidence is stored
once under ``<home>/attachments`` by its SHA-256 (a second upload of the same
photo costs nothing); call recordings are linked by attempt id, never copied.
"""
from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import asyncpg

from ..ledger import appeals as ap
from ..ledger.appeals import AppealError
from ..scoring.rates import rates, tally
from ..scoring.rules import RuleSet
from . import scoring as scoring_repo


class AppealNotFound(LookupError):
    pass


# --- attachments (files on disk, named by content) -------------------------------------------

def attachment_path(home: Path, sha256: str) -> Path:
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a sha256: {sha256[:80]!r}")
    return Path(home) / "attachments" / sha256[:2] / sha256


def store_attachment(home: Path, data: bytes) -> str:
    """Write ``data`` under its SHA-256 (atomically: a crash leaves no half file) and return the hash."""
    digest = hashlib.sha256(data).hexdigest()
    target = attachment_path(home, digest)
    if target.exists():
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{digest}.{uuid.uuid4().hex}.part")
    with open(temp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, target)
    return digest


# --- rules configuration -------------------------------------------------------------------

async def load_rules(conn) -> ap.AppealRules:
    config = await conn.fetchval("SELECT config FROM appeal_rule_config")
    return ap.rules_from_mapping(config or {})


async def save_rules(conn, rules: ap.AppealRules, *, actor: str) -> None:
    await conn.execute(
        """INSERT INTO appeal_rule_config (id, config, updated_by, updated_at) VALUES (true, $1, $2, now())
           ON CONFLICT (id) DO UPDATE SET config = excluded.config, updated_by = excluded.updated_by,
                                          updated_at = now()""", ap.rules_to_mapping(rules), actor)


# --- candidate list ------------------------------------------------------------------------

_FACTS_SQL = """
SELECT t.id AS ticket_id, t.ticket_no, t.called_at, t.caller_phone, t.category_l1, t.category_l2, t.title,
       t.content, t.street, t.community_name, t.address, t.closed_at,
       coalesce((SELECT array_agg(a.outcome ORDER BY a.attempt_no) FROM callback_attempts a
                  WHERE a.ticket_id = t.id AND a.outcome IS NOT NULL), '{}') AS callback_outcomes,
       s.contacted, s.solved, s.satisfaction
  FROM tickets t
  LEFT JOIN ticket_scores s ON s.ticket_id = t.id AND s.source IN ('own', 'city')
 WHERE t.called_at >= $1 AND t.called_at < $2 AND t.ticket_type = '诉求'
 ORDER BY t.called_at, t.id
"""


def _facts(row: asyncpg.Record) -> ap.TicketFacts:
    values = dict(row)
    values["callback_outcomes"] = tuple(values["callback_outcomes"])
    values["answers"] = (values.pop("contacted"), values.pop("solved"), values.pop("satisfaction"))
    return ap.TicketFacts(**values)


async def ticket_facts(conn, start: datetime, end: datetime) -> list[ap.TicketFacts]:
    """Facts of the 诉求 tickets called in [start, end) (咨询 never reach the assessment)."""
    return [_facts(r) for r in await conn.fetch(_FACTS_SQL, start, end)]


async def generate_candidates(conn, day: date, start: datetime, end: datetime,
                              rules: ap.AppealRules | None = None) -> int:
    """Run the rules over tickets called in [start, end) and store new candidates for ``day``.

    Re-running is safe: a candidate already listed (and perhaps decided) is kept as it is.
    Returns how many new candidates were listed.
    """
    rules = rules or await load_rules(conn)
    lookback = timedelta(days=max(rules.repeat_window_days, rules.duplicate_window_days) + 1)
    today = await ticket_facts(conn, start, end)
    history = await ticket_facts(conn, start - lookback, start)
    found = ap.find_candidates(today, history, rules)
    async with conn.transaction():
        inserted = 0
        for c in found:
            inserted += await conn.fetchval(
                """WITH ins AS (INSERT INTO appeal_candidates (day, ticket_id, rule, reason, grounds)
                                VALUES ($1, $2, $3, $4, $5) ON CONFLICT (day, ticket_id, rule) DO NOTHING
                                RETURNING 1)
                   SELECT count(*) FROM ins""", day, c.ticket_id, c.rule, c.reason, c.grounds)
    return inserted


async def list_candidates(conn, day: date) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT c.*, t.ticket_no, t.title, t.category_l1, t.called_at,
                  (SELECT a.id FROM appeals a WHERE a.ticket_id = c.ticket_id
                    ORDER BY a.id DESC LIMIT 1) AS appeal_id
             FROM appeal_candidates c JOIN tickets t ON t.id = c.ticket_id
            WHERE c.day = $1 ORDER BY c.status = 'pending' DESC, t.called_at, c.id""", day)


async def candidate_days(conn, limit: int = 30) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT day, count(*) AS total, count(*) FILTER (WHERE status = 'pending') AS pending
             FROM appeal_candidates GROUP BY day ORDER BY day DESC LIMIT $1""", limit)


async def decide_candidate(conn, candidate_id: int, *, confirm: bool, actor: str, note: str = "",
                           now: datetime | None = None) -> int | None:
    """Confirm (→ a draft appeal on the ticket, returned) or dismiss one pending candidate."""
    async with conn.transaction():
        row = await conn.fetchrow("SELECT * FROM appeal_candidates WHERE id = $1 FOR UPDATE", candidate_id)
        if row is None:
            raise AppealNotFound(f"候选 {candidate_id} 不存在")
        if row["status"] != "pending":
            raise AppealError(f"该候选已处理 ({'已确认' if row['status'] == 'confirmed' else '已排除'}, "
                              f"{row['decided_by']})")
        if not confirm and not note.strip():
            raise AppealError("排除候选须填写理由")
        await conn.execute(
            """UPDATE appeal_candidates SET status = $2, decided_by = $3, decided_at = coalesce($4, now()), note = $5
                WHERE id = $1""", candidate_id, "confirmed" if confirm else "dismissed", actor, now, note.strip())
        if not confirm:
            return None
        await conn.execute("SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE", row["ticket_id"])
        existing = await _live_appeal(conn, row["ticket_id"])
        if existing is not None:
            return existing
        return await _insert_appeal(conn, row["ticket_id"], grounds=row["grounds"], statement="",
                                    actor=actor, candidate_id=candidate_id, now=now,
                                    reason=f"由每日清单确认: {row['reason']}")


# --- the appeal record ---------------------------------------------------------------------

async def _live_appeal(conn, ticket_id: int) -> int | None:
    return await conn.fetchval(
        "SELECT id FROM appeals WHERE ticket_id = $1 AND state = ANY($2::text[]) ORDER BY id LIMIT 1",
        ticket_id, [s.value for s in ap.LIVE_STATES])


async def _insert_appeal(conn, ticket_id: int, *, grounds: str, statement: str, actor: str,
                         candidate_id: int | None, now: datetime | None, reason: str) -> int:
    if grounds:
        ap.check_grounds(grounds)
    rules = await load_rules(conn)
    basis = await conn.fetchval("SELECT coalesce(closed_at, called_at) FROM tickets WHERE id = $1", ticket_id)
    if basis is None:
        raise AppealNotFound(f"工单 {ticket_id} 不存在")
    try:
        appeal_id = await conn.fetchval(
            """INSERT INTO appeals (ticket_id, state, grounds, statement, created_by, due_at, candidate_id,
                                    created_at, updated_at)
               VALUES ($1, 'draft', $2, $3, $4, $5, $6, coalesce($7, now()), coalesce($7, now())) RETURNING id""",
            ticket_id, grounds, statement, actor, ap.submission_deadline(basis, rules), candidate_id, now)
    except asyncpg.UniqueViolationError:
        raise AppealError("该工单已有申诉 (并发建立)") from None
    await _event(conn, appeal_id, actor, "create", None, ap.State.DRAFT, reason, now)
    return appeal_id


async def create_appeal(conn, ticket_id: int, *, grounds: str = "", statement: str = "", actor: str,
                        now: datetime | None = None) -> int:
    """A draft appeal; refused while the ticket has another live (draft/submitted/granted) appeal."""
    async with conn.transaction():
        if await conn.fetchval("SELECT id FROM tickets WHERE id = $1 FOR UPDATE", ticket_id) is None:
            raise AppealNotFound(f"工单 {ticket_id} 不存在")
        existing = await _live_appeal(conn, ticket_id)
        if existing is not None:
            raise AppealError(f"该工单已有申诉 (申诉 {existing})")
        return await _insert_appeal(conn, ticket_id, grounds=grounds, statement=statement, actor=actor,
                                    candidate_id=None, now=now, reason="")


async def _event(conn, appeal_id: int, actor: str, action: str, from_state: ap.State | None,
                 to_state: ap.State, reason: str = "", at: datetime | None = None,
                 data: dict[str, Any] | None = None) -> None:
    await conn.execute(
        """INSERT INTO appeal_events (appeal_id, at, actor, action, from_state, to_state, reason, data)
           VALUES ($1, coalesce($2, now()), $3, $4, $5, $6, $7, $8)""",
        appeal_id, at, actor, action, from_state.value if from_state else None, to_state.value, reason, data or {})


async def _lock(conn, appeal_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM appeals WHERE id = $1 FOR UPDATE", appeal_id)
    if row is None:
        raise AppealNotFound(f"申诉 {appeal_id} 不存在")
    return row


async def update_draft(conn, appeal_id: int, *, grounds: str, statement: str, handling_record: str,
                       actor: str) -> None:
    """Edit the materials; only a draft can change (a submitted appeal is what the 分中心 has)."""
    if grounds:
        ap.check_grounds(grounds)
    async with conn.transaction():
        row = await _lock(conn, appeal_id)
        if row["state"] != ap.State.DRAFT.value:
            raise AppealError(f"申诉状态为 {ap.parse_state(row['state']).label}, 只有草稿可以修改")
        await conn.execute(
            """UPDATE appeals SET grounds = $2, statement = $3, handling_record = $4, updated_at = now()
                WHERE id = $1""", appeal_id, grounds, statement, handling_record)
        await _event(conn, appeal_id, actor, "edit", ap.State.DRAFT, ap.State.DRAFT)


async def apply_action(conn, appeal_id: int, action: ap.Action | str, *, actor: str, reason: str = "",
                       at: datetime | None = None) -> ap.State:
    """One state change, atomically; raises :class:`AppealError` if the machine forbids it."""
    async with conn.transaction():
        row = await _lock(conn, appeal_id)
        action = ap.parse_action(action)
        evidence = await conn.fetchval("SELECT count(*) FROM appeal_evidence WHERE appeal_id = $1", appeal_id)
        target = ap.apply(row["state"], action, reason=reason,
                          draft=ap.Draft(row["grounds"], row["statement"], evidence))
        await conn.execute(
            """UPDATE appeals SET state = $2, updated_at = now(),
                      submitted_at = CASE WHEN $3 = 'submit' THEN coalesce($4, now()) ELSE submitted_at END,
                      decided_at = CASE WHEN $3 IN ('grant', 'deny') THEN coalesce($4, now())
                                        WHEN $3 = 'withdraw' THEN NULL ELSE decided_at END,
                      decision_note = CASE WHEN $3 IN ('grant', 'deny') THEN $5 ELSE decision_note END
                WHERE id = $1""", appeal_id, target.value, action.value, at, reason.strip())
        await _event(conn, appeal_id, actor, action.value, ap.parse_state(row["state"]), target, reason.strip(), at)
        return target


async def add_file_evidence(conn, appeal_id: int, *, sha256: str, filename: str, content_type: str,
                            size: int, actor: str, note: str = "") -> int:
    async with conn.transaction():
        row = await _lock(conn, appeal_id)
        evidence_id = await conn.fetchval(
            """INSERT INTO appeal_evidence (appeal_id, kind, sha256, filename, content_type, size_bytes, added_by, note)
               VALUES ($1, 'file', $2, $3, $4, $5, $6, $7) RETURNING id""",
            appeal_id, sha256, filename, content_type, size, actor, note)
        state = ap.parse_state(row["state"])
        await _event(conn, appeal_id, actor, "evidence", state, state, f"附件 {filename}", data={"evidence_id": evidence_id})
        return evidence_id


async def link_recording(conn, appeal_id: int, attempt_id: uuid.UUID | str, *, actor: str, note: str = "") -> int:
    """Link one of our own callback attempts (its recordings stay where the IVR wrote them)."""
    async with conn.transaction():
        row = await _lock(conn, appeal_id)
        try:
            attempt = uuid.UUID(str(attempt_id))
        except ValueError:
            raise AppealError(f"回访记录编号无效: {str(attempt_id)[:40]}") from None
        owner = await conn.fetchval("SELECT ticket_id FROM callback_attempts WHERE id = $1", attempt)
        if owner != row["ticket_id"]:
            raise AppealError("该回访记录不属于本申诉的工单")
        try:
            evidence_id = await conn.fetchval(
                """INSERT INTO appeal_evidence (appeal_id, kind, attempt_id, added_by, note)
                   VALUES ($1, 'recording', $2, $3, $4) RETURNING id""", appeal_id, attempt, actor, note)
        except asyncpg.UniqueViolationError:
            raise AppealError("该回访录音已在证据中") from None
        state = ap.parse_state(row["state"])
        await _event(conn, appeal_id, actor, "evidence", state, state, "关联回访录音", data={"attempt_id": str(attempt)})
        return evidence_id


async def get_appeal(conn, appeal_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT a.*, t.ticket_no, t.title, t.called_at, t.closed_at, t.category_l1, t.category_l2
             FROM appeals a JOIN tickets t ON t.id = a.ticket_id WHERE a.id = $1""", appeal_id)
    if row is None:
        raise AppealNotFound(f"申诉 {appeal_id} 不存在")
    return row


async def appeal_history(conn, appeal_id: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM appeal_events WHERE appeal_id = $1 ORDER BY id", appeal_id)


async def evidence(conn, appeal_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT e.*, a.attempt_no, a.outcome, a.answered_at,
                  (SELECT count(*) FROM callback_answers x WHERE x.attempt_id = e.attempt_id
                     AND x.recording_path IS NOT NULL) AS recordings
             FROM appeal_evidence e LEFT JOIN callback_attempts a ON a.id = e.attempt_id
            WHERE e.appeal_id = $1 ORDER BY e.id""", appeal_id)


async def evidence_file(conn, appeal_id: int, evidence_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM appeal_evidence WHERE id = $1 AND appeal_id = $2 AND kind = 'file'", evidence_id, appeal_id)


async def list_appeals(conn, state: str | None = None, limit: int = 200) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT a.id, a.state, a.grounds, a.due_at, a.submitted_at, a.decided_at, a.created_by,
                  t.ticket_no, t.title
             FROM appeals a JOIN tickets t ON t.id = a.ticket_id
            WHERE ($1::text IS NULL OR a.state = $1) ORDER BY a.id DESC LIMIT $2""", state, limit)


# --- the ticket's facts for the statement ----------------------------------------------------

@dataclass(frozen=True)
class Dossier:
    """Everything the drafted statement states about the ticket."""
    appeal: asyncpg.Record
    ticket: asyncpg.Record
    attempts: list[asyncpg.Record]
    answers: list[asyncpg.Record]
    flow: list[asyncpg.Record]
    evidence: list[asyncpg.Record]


async def dossier(conn, appeal_id: int) -> Dossier:
    appeal = await get_appeal(conn, appeal_id)
    ticket_id = appeal["ticket_id"]
    ticket = await conn.fetchrow("SELECT * FROM tickets WHERE id = $1", ticket_id)
    attempts = await conn.fetch(
        """SELECT id, attempt_no, outcome, state, dialed_at, answered_at, ended_at, created_at
             FROM callback_attempts WHERE ticket_id = $1 ORDER BY attempt_no""", ticket_id)
    answers = await conn.fetch(
        """SELECT DISTINCT ON (x.attempt_id, x.question) x.attempt_id, a.attempt_no, x.question, x.intent,
                  x.transcript, x.version
             FROM callback_answers x JOIN callback_attempts a ON a.id = x.attempt_id
            WHERE a.ticket_id = $1 ORDER BY x.attempt_id, x.question, x.version DESC""", ticket_id)
    flow = await conn.fetch(
        """SELECT at, actor, action, from_state, to_state, reason, data FROM ticket_events
            WHERE ticket_id = $1 ORDER BY id""", ticket_id)
    return Dossier(appeal, ticket, list(attempts), sorted(answers, key=lambda r: (r["attempt_no"], r["question"])),
                   list(flow), list(await evidence(conn, appeal_id)))


# --- what appeals are worth ------------------------------------------------------------------

@dataclass(frozen=True)
class AppealPoints:
    """综合成绩 points recovered by granted appeals, and at stake in submitted ones, for one period."""
    granted: int
    pending: int
    recovered: Fraction | None     # 剔除后 − 全口径
    at_stake: Fraction | None      # (剔除后 if every pending appeal were granted) − 剔除后


async def appeal_points(conn, start: datetime, end: datetime, rule_set: RuleSet, *, as_of: datetime) -> AppealPoints:
    """Through the scoring engine's own tallies, so these points are the ones the reports show."""
    outcomes = await scoring_repo.outcomes(conn, start, end)
    granted, pending = await scoring_repo.appeal_ticket_ids(conn, [o.ticket_id for o in outcomes], as_of=as_of)
    every = rates(tally(outcomes, rule_set), rule_set).composite
    kept = rates(tally(outcomes, rule_set, granted), rule_set).composite
    if_granted = rates(tally(outcomes, rule_set, granted | pending), rule_set).composite
    diff = lambda a, b: None if a is None or b is None else a - b  # noqa: E731
    return AppealPoints(len(granted), len(pending), diff(kept, every), diff(if_granted, kept))
