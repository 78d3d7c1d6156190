"""The human desk's queue in PostgreSQL: escalate, claim with SKIP LOCKED under a lease, call, record.

Every statement takes ``now`` so the lease rules (callcenter/desk/lease.py) can
be tested over any interleaving without waiting for a clock.  An agent's call
is a callback attempt like the robot's; its answers have source ``agent``
(``manual`` for a call made outside the system) and score through the same
trigger, so versioning and corrections apply unchanged.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from ..desk.escalation import REASONS, Answer, EscalationRules, escalation_reason
from ..desk.lease import DEFAULT_LEASE
from ..ledger.timezone import office_day_start
from .ticket_queries import record_audit

#: What an agent may record for a call, and what it does to the desk item.
AGENT_OUTCOMES = ("answered-complete", "answered-partial", "busy", "no-answer", "invalid-number",
                  "refused", "callback-requested")
_CLOSES_ITEM = frozenset({"answered-complete", "invalid-number", "refused"})
RATE_QUESTIONS = ("contacted", "solved", "satisfaction")
_INTENTS = {"contacted": ("yes", "no"), "solved": ("solved", "partly", "unsolved"),
            "satisfaction": ("satisfied", "basic", "dissatisfied")}
RETRY_AFTER = timedelta(minutes=30)     # busy / no answer: back in the queue after this


class DeskError(ValueError):
    """A desk action refused, in words for the agent."""


@dataclass(frozen=True)
class Item:
    id: int
    ticket_id: int
    campaign_id: int | None
    reason: str
    note: str
    due_at: datetime
    held_by: str | None
    lease_until: datetime | None
    call_live: bool
    call_status: str | None = None      # what became of the last call (schema/0031), for the agent

    @property
    def reason_label(self) -> str:
        return REASONS.get(self.reason, self.reason)


_COLS = "id, ticket_id, campaign_id, reason, note, due_at, held_by, lease_until, call_live, call_status"


def _item(row: asyncpg.Record | None) -> Item | None:
    return None if row is None else Item(*(row[c.strip()] for c in _COLS.split(",")))


async def enqueue(conn: asyncpg.Connection, ticket_id: int, reason: str, *, campaign_id: int | None = None,
                  note: str = "", by: str = "dialer", due_at: datetime | None = None) -> int | None:
    """Put a ticket on the desk; None if it is already there (one open item per ticket)."""
    if reason not in REASONS:
        raise DeskError(f"未知的转人工原因: {reason}")
    item_id = await conn.fetchval(
        """INSERT INTO desk_items (ticket_id, campaign_id, reason, note, created_by, due_at)
           VALUES ($1, $2, $3, $4, $5, coalesce($6, now()))
           ON CONFLICT (ticket_id) WHERE state = 'open' DO NOTHING RETURNING id""",
        ticket_id, campaign_id, reason, note, by, due_at)
    if item_id is not None and by != "dialer":
        await record_audit(conn, by, "desk_enqueue", object_type="ticket", object_id=str(ticket_id),
                           detail={"reason": reason, "note": note})
    return item_id


#: What the escalation rules need of a settled attempt ``a``, as two columns any query on
#: callback_attempts can add: the campaign's desk_* rules (a row; NULL without a campaign) and
#: the latest version of each answer.  The dialer's settle reads them with the row it settles.
ESCALATION_FACTS = """
    (SELECT ROW(c.desk_enabled, c.desk_unreached_after, c.desk_partial, c.desk_refused, c.desk_dissatisfied,
                c.desk_low_confidence)
       FROM campaigns c WHERE c.id = a.campaign_id) AS desk_rules,
    ARRAY(SELECT ROW(latest.question, latest.intent, latest.needs_review)
            FROM (SELECT DISTINCT ON (question) question, intent, needs_review FROM callback_answers
                   WHERE attempt_id = a.id ORDER BY question, version DESC) latest) AS latest_answers"""


def escalation_for(outcome: str | None, round_attempt: int, desk_rules, latest_answers) -> str | None:
    """Why a person should call this ticket now the robot is done, from the ESCALATION_FACTS columns;
    None when nobody should (no verdict, no campaign, or the campaign's rules say no)."""
    if outcome is None or desk_rules is None:
        return None
    answers = {question: Answer(intent, review) for question, intent, review in latest_answers or ()}
    return escalation_reason(EscalationRules(*desk_rules), outcome=outcome, robot_attempts=round_attempt,
                             answers=answers)


async def escalate_settled(conn: asyncpg.Connection, row: asyncpg.Record) -> int | None:
    """Apply the campaign's rules once the robot is done with a ticket: the desk item's id if a person calls.

    ``row`` is the settled attempt as the dialer read it (ticket_id, campaign_id, outcome,
    round_attempt and the ESCALATION_FACTS columns), so deciding costs no query of its own."""
    reason = escalation_for(row["outcome"], row["round_attempt"], row["desk_rules"], row["latest_answers"])
    if reason is None:
        return None
    return await enqueue(conn, row["ticket_id"], reason, campaign_id=row["campaign_id"])


async def held_by(conn: asyncpg.Connection, agent: str, now: datetime) -> Item | None:
    """The item this agent holds now (a live call keeps it past the lease)."""
    return _item(await conn.fetchrow(
        f"""SELECT {_COLS} FROM desk_items
             WHERE state = 'open' AND held_by = $1 AND (lease_until > $2 OR call_live)
             ORDER BY id LIMIT 1""", agent, now))


async def claim_next(conn: asyncpg.Connection, agent: str, *, now: datetime,
                     lease: timedelta = DEFAULT_LEASE) -> Item | None:
    """The agent's current item, or the next due one nobody holds (SKIP LOCKED: never waits, never shares)."""
    async with conn.transaction():
        mine = await held_by(conn, agent, now)
        if mine is not None:
            return mine
        pick = await conn.fetchrow(
            """SELECT id, ticket_id, campaign_id, held_by, call_started_at, call_ended_at, call_recording
                 FROM desk_items
                WHERE state = 'open' AND due_at <= $1
                  AND (held_by IS NULL OR (NOT call_live AND lease_until <= $1))
                ORDER BY due_at, id LIMIT 1
                  FOR UPDATE SKIP LOCKED""", now)
        if pick is None:
            return None
        if pick["call_started_at"] is not None and pick["held_by"] not in (None, agent):
            await _settle_unrecorded(conn, pick)
        return _item(await conn.fetchrow(
            f"""UPDATE desk_items SET held_by = $2, lease_until = $3::timestamptz + $4::interval
                 WHERE id = $1 RETURNING {_COLS}""", pick["id"], agent, now, lease))


async def _settle_unrecorded(conn: asyncpg.Connection, pick: asyncpg.Record) -> None:
    """The last holder dialled and left without a form: their call still counts (daily cap, statistics),
    as a failed attempt of theirs, so the next agent neither inherits it nor is blocked by it."""
    attempt_id = await _store_attempt(
        conn, pick["ticket_id"], pick["campaign_id"], agent=pick["held_by"], kind="agent", outcome="failed",
        answers={}, note="坐席未登记这通电话的结果(租约已过期)", recording_path=pick["call_recording"],
        at=pick["call_started_at"], ended_at=pick["call_ended_at"] or pick["call_started_at"])
    await conn.execute("""UPDATE desk_items SET call_started_at = NULL, call_ended_at = NULL, call_recording = NULL,
                                  call_status = NULL WHERE id = $1""", pick["id"])
    await record_audit(conn, "system", "desk_call", object_type="callback_attempt", object_id=str(attempt_id),
                       detail={"ticket_id": pick["ticket_id"], "outcome": "failed", "agent": pick["held_by"],
                               "unrecorded": True})


async def renew(conn: asyncpg.Connection, item_id: int, agent: str, *, now: datetime,
                lease: timedelta = DEFAULT_LEASE) -> bool:
    """The console is still there: extend the lease, only while it is still this agent's."""
    status = await conn.execute(
        """UPDATE desk_items SET lease_until = $3::timestamptz + $4::interval
            WHERE id = $1 AND state = 'open' AND held_by = $2 AND (lease_until > $3 OR call_live)""",
        item_id, agent, now, lease)
    return status.endswith(" 1")


async def release(conn: asyncpg.Connection, item_id: int, agent: str) -> bool:
    """Give the item back (not during a call)."""
    status = await conn.execute(
        """UPDATE desk_items SET held_by = NULL, lease_until = NULL
            WHERE id = $1 AND held_by = $2 AND NOT call_live""", item_id, agent)
    return status.endswith(" 1")


async def start_call(conn: asyncpg.Connection, item_id: int, agent: str, *, now: datetime) -> bool:
    """Mark a call up for the item: only its lease holder, only one call at a time."""
    return await begin_dial(conn, item_id, agent, now=now, call_id=uuid.uuid4(), recording=None)


async def end_call(conn: asyncpg.Connection, item_id: int, agent: str, *, now: datetime,
                   lease: timedelta = DEFAULT_LEASE, dialled: bool = True, call_status: str | None = None) -> bool:
    """The call is over; the agent keeps the item one lease longer to fill in the form.

    ``dialled=False``: the agent's own phone never answered, so the citizen was not called: there is
    no call to record (nor a recording), and the agent may press 拨打 again.  ``call_status``: what
    became of it, shown to the agent (desk/dialing.CALL_STATUS_LABELS)."""
    status = await conn.execute(
        """UPDATE desk_items SET call_live = false, lease_until = $3::timestamptz + $4::interval,
                  call_ended_at = CASE WHEN $5 THEN $3 END,
                  call_started_at = CASE WHEN $5 THEN call_started_at END,
                  call_recording = CASE WHEN $5 THEN call_recording END, call_status = $6
            WHERE id = $1 AND held_by = $2 AND call_live""", item_id, agent, now, lease, dialled, call_status)
    return status.endswith(" 1")


async def live_calls(conn: asyncpg.Connection, *, started_before: datetime | None = None) -> list[asyncpg.Record]:
    """Desk calls marked up (id, held_by, call_id), those begun before ``started_before`` if given:
    after a restart, nobody follows them yet."""
    return await conn.fetch(
        """SELECT id, held_by, call_id FROM desk_items
            WHERE call_live AND ($1::timestamptz IS NULL OR call_started_at < $1) ORDER BY id""", started_before)


def _check_answers(outcome: str, answers: dict[str, str | None]) -> dict[str, str]:
    if outcome not in AGENT_OUTCOMES:
        raise DeskError(f"未知的回访结果: {outcome}")
    given = {q: a for q, a in answers.items() if a}
    for question, intent in given.items():
        if intent not in _INTENTS.get(question, ()):
            raise DeskError(f"问题 {question} 的答案 {intent} 无效")
    if outcome == "answered-complete" and set(given) != set(RATE_QUESTIONS):
        raise DeskError("回访完成须填写三个问题的答案")
    if outcome not in ("answered-complete", "answered-partial") and given:
        raise DeskError("未接通、号码错误、拒访或约定回拨时不能填写答案")
    return given


async def _store_attempt(conn: asyncpg.Connection, ticket_id: int, campaign_id: int | None, *, agent: str,
                         kind: str, outcome: str, answers: dict[str, str], note: str,
                         recording_path: str | None, at: datetime, ended_at: datetime | None = None) -> uuid.UUID:
    attempt_id = uuid.uuid4()
    reached = outcome in ("answered-complete", "answered-partial", "refused", "callback-requested")
    await conn.execute("SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE", ticket_id)
    await conn.execute(
        """INSERT INTO callback_attempts (id, ticket_id, campaign_id, attempt_no, phone, state, outcome, due_at,
                                          dialed_at, answered_at, ended_at, settled, note, agent, desk_kind,
                                          recording_path)
           SELECT $1, t.id, $3, coalesce((SELECT max(attempt_no) FROM callback_attempts WHERE ticket_id = t.id), 0)
                  + 1, t.caller_phone, 'finished', $4, $5, $5, CASE WHEN $6 THEN $5::timestamptz END, $11, true,
                  $7, $8, $9, $10
             FROM tickets t WHERE t.id = $2""",
        attempt_id, ticket_id, campaign_id, outcome, at, reached, note, agent, kind, recording_path, ended_at or at)
    if outcome in _CLOSES_ITEM:
        # A person settled this callback: the robot's calls of the ticket not yet dialled would repeat it.
        await conn.execute("""UPDATE callback_attempts SET state = 'cancelled', settled = true, updated_at = now()
                               WHERE ticket_id = $1 AND state = 'pending'""", ticket_id)
    source = "agent" if kind == "agent" else "manual"
    for question, intent in answers.items():
        await conn.execute(
            """INSERT INTO callback_answers (attempt_id, question, version, intent, source, created_by,
                                             recording_path)
               VALUES ($1, $2, 1, $3, $4, $5, $6)""", attempt_id, question, intent, source, agent, recording_path)
    return attempt_id


async def record_call(conn: asyncpg.Connection, item_id: int, agent: str, *, outcome: str,
                      answers: dict[str, str | None], note: str = "", recording_path: str | None = None,
                      callback_at: datetime | None = None, now: datetime) -> uuid.UUID:
    """Store the agent's call on the item they hold as an attempt; close, requeue or date the item."""
    given = _check_answers(outcome, answers)
    if outcome == "callback-requested" and (callback_at is None or callback_at <= now):
        raise DeskError("约定回拨须填写将来的时间")
    async with conn.transaction():
        row = await conn.fetchrow(
            """SELECT ticket_id, campaign_id, held_by, lease_until, call_live, call_recording, call_started_at,
                      call_ended_at FROM desk_items WHERE id = $1 AND state = 'open' FOR UPDATE""", item_id)
        if row is None or row["held_by"] != agent or not (row["call_live"] or row["lease_until"] > now):
            raise DeskError("该工单已不由您处理(租约已过期或已被他人领取)")
        attempt_id = await _store_attempt(conn, row["ticket_id"], row["campaign_id"], agent=agent, kind="agent",
                                          outcome=outcome, answers=given, note=note,
                                          recording_path=recording_path or row["call_recording"],
                                          at=row["call_started_at"] or now, ended_at=row["call_ended_at"] or now)
        if outcome in _CLOSES_ITEM:
            await conn.execute(
                """UPDATE desk_items SET state = 'done', done_at = $2, held_by = NULL, lease_until = NULL,
                          call_live = false, call_recording = NULL, call_started_at = NULL,
                          call_ended_at = NULL, call_status = NULL
                    WHERE id = $1""", item_id, now)
        else:
            due = callback_at if outcome == "callback-requested" else now + RETRY_AFTER
            reason = "callback-requested" if outcome == "callback-requested" else None
            await conn.execute(
                """UPDATE desk_items SET held_by = NULL, lease_until = NULL, call_live = false, due_at = $2,
                          reason = coalesce($3, reason), call_recording = NULL, call_started_at = NULL,
                          call_ended_at = NULL, call_status = NULL
                    WHERE id = $1""", item_id, due, reason)
        await record_audit(conn, agent, "desk_call", object_type="callback_attempt", object_id=str(attempt_id),
                           detail={"ticket_id": row["ticket_id"], "outcome": outcome})
    return attempt_id


async def record_manual(conn: asyncpg.Connection, ticket_id: int, agent: str, *, outcome: str,
                        answers: dict[str, str | None], note: str, called_at: datetime) -> uuid.UUID:
    """A call made outside the system (e.g. on a staff phone): needs a note, is audited, may be rejected."""
    if not note.strip():
        raise DeskError("手工录入必须填写说明(在哪里、何时、如何联系的市民)")
    given = _check_answers(outcome, answers)
    async with conn.transaction():
        if await conn.fetchval("SELECT 1 FROM tickets WHERE id = $1", ticket_id) is None:
            raise DeskError("工单不存在")
        attempt_id = await _store_attempt(conn, ticket_id, None, agent=agent, kind="manual", outcome=outcome,
                                          answers=given, note=note.strip(), recording_path=None, at=called_at)
        if outcome in _CLOSES_ITEM:
            await conn.execute(
                """UPDATE desk_items SET state = 'done', done_at = now(), held_by = NULL, lease_until = NULL
                    WHERE ticket_id = $1 AND state = 'open' AND NOT call_live""", ticket_id)
        await record_audit(conn, agent, "desk_manual_entry", object_type="callback_attempt",
                           object_id=str(attempt_id),
                           detail={"ticket_id": ticket_id, "outcome": outcome, "note": note.strip()})
    return attempt_id


async def reject_manual(conn: asyncpg.Connection, attempt_id: uuid.UUID, by: str, reason: str) -> None:
    """A supervisor rejects a manual entry: its answers get a blank correction, so it no longer scores."""
    if not reason.strip():
        raise DeskError("驳回必须说明原因")
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT desk_kind, rejected_at FROM callback_attempts WHERE id = $1 FOR UPDATE", attempt_id)
        if row is None or row["desk_kind"] != "manual":
            raise DeskError("只能驳回手工录入的回访")
        if row["rejected_at"] is not None:
            raise DeskError("该手工录入已被驳回")
        await conn.execute(
            """UPDATE callback_attempts SET rejected_by = $2, rejected_at = now(), reject_reason = $3
                WHERE id = $1""", attempt_id, by, reason.strip())
        await conn.execute(
            """INSERT INTO callback_answers (attempt_id, question, version, intent, source, created_by, reason)
               SELECT attempt_id, question, max(version) + 1, NULL, 'supervisor', $2, $3
                 FROM callback_answers WHERE attempt_id = $1 GROUP BY attempt_id, question""",
            attempt_id, by, "驳回手工录入: " + reason.strip())
        await record_audit(conn, by, "desk_reject_manual", object_type="callback_attempt",
                           object_id=str(attempt_id), detail={"reason": reason.strip()})


async def open_items(conn: asyncpg.Connection, limit: int = 200) -> list[Item]:
    rows = await conn.fetch(f"SELECT {_COLS} FROM desk_items WHERE state = 'open' ORDER BY due_at, id LIMIT $1",
                            limit)
    return [_item(r) for r in rows]


async def waiting_count(conn: asyncpg.Connection) -> int:
    """Items due now that nobody holds: what the console says is waiting."""
    return await conn.fetchval(
        "SELECT count(*) FROM desk_items WHERE state = 'open' AND due_at <= now() AND held_by IS NULL")


async def ticket_brief(conn: asyncpg.Connection, ticket_id: int) -> asyncpg.Record | None:
    """The few ticket fields a live console card shows."""
    return await conn.fetchrow("SELECT ticket_no, title, caller_phone FROM tickets WHERE id = $1", ticket_id)


async def campaign_choices(conn: asyncpg.Connection, ticket_id: int) -> tuple[list[asyncpg.Record], int | None]:
    """Campaigns a ticket may be sent to the desk under (their trunk, windows and caller ID serve 拨打),
    unfinished first, and the one to preselect: the campaign that last called this ticket, if any."""
    rows = await conn.fetch("SELECT id, name, state FROM campaigns ORDER BY state = 'finished', id DESC")
    latest = await conn.fetchval(
        """SELECT campaign_id FROM callback_attempts WHERE ticket_id = $1 AND campaign_id IS NOT NULL
            ORDER BY attempt_no DESC LIMIT 1""", ticket_id)
    return list(rows), latest


async def campaign_exists(conn: asyncpg.Connection, campaign_id: int) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM campaigns WHERE id = $1)", campaign_id)


async def ticket_exists(conn: asyncpg.Connection, ticket_id: int) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM tickets WHERE id = $1)", ticket_id)


async def ticket_card(conn: asyncpg.Connection, ticket_id: int) -> dict | None:
    """What the agent sees before calling: the ticket, its flow history, and every earlier attempt's answers."""
    ticket = await conn.fetchrow(
        """SELECT id, ticket_no, title, content, caller_name, caller_phone, category_l1, called_at, status,
                  handling_result, department_name FROM tickets WHERE id = $1""", ticket_id)
    if ticket is None:
        return None
    events = await conn.fetch(
        "SELECT at, actor, action, from_state, to_state, reason FROM ticket_events WHERE ticket_id = $1 ORDER BY id",
        ticket_id)
    attempts = await conn.fetch(
        """SELECT a.id, a.attempt_no, a.outcome, coalesce(a.ended_at, a.created_at) AS at, a.agent, a.desk_kind,
                  a.note, a.rejected_at, a.reject_reason,
                  coalesce((SELECT jsonb_object_agg(question, intent) FROM
                               (SELECT DISTINCT ON (question) question, intent FROM callback_answers
                                 WHERE attempt_id = a.id ORDER BY question, version DESC) x), '{}') AS answers
             FROM callback_attempts a WHERE a.ticket_id = $1 AND a.state = 'finished' ORDER BY a.attempt_no""",
        ticket_id)
    return {"ticket": ticket, "events": events, "attempts": attempts}


async def manual_entries(conn: asyncpg.Connection, limit: int = 100) -> list[asyncpg.Record]:
    """Manual entries, newest first, for a supervisor to check (and reject)."""
    return await conn.fetch(
        """SELECT a.id, a.ticket_id, t.ticket_no, t.title, a.agent, a.outcome, a.note, a.ended_at,
                  a.rejected_by, a.rejected_at, a.reject_reason
             FROM callback_attempts a JOIN tickets t ON t.id = a.ticket_id
            WHERE a.desk_kind = 'manual' ORDER BY a.created_at DESC LIMIT $1""", limit)


async def ticket_id_by_no(conn: asyncpg.Connection, ticket_no: str) -> int | None:
    return await conn.fetchval("SELECT id FROM tickets WHERE ticket_no = $1", ticket_no)


async def dial_facts(conn: asyncpg.Connection, item_id: int, agent: str, *, now: datetime):
    """What the robot's dialer would check before calling this item's citizen (see desk/dialing.py)."""
    from ..desk.dialing import DialFacts
    from .campaigns import get_campaign
    row = await conn.fetchrow(
        """SELECT d.id, d.ticket_id, t.caller_phone AS phone, d.call_live, d.call_started_at,
                  coalesce(d.campaign_id, (SELECT a.campaign_id FROM callback_attempts a
                                            WHERE a.ticket_id = d.ticket_id AND a.campaign_id IS NOT NULL
                                            ORDER BY a.attempt_no DESC LIMIT 1)) AS campaign_id
             FROM desk_items d JOIN tickets t ON t.id = d.ticket_id
            WHERE d.id = $1 AND d.state = 'open' AND d.held_by = $2 AND d.lease_until > $3""", item_id, agent, now)
    if row is None:
        raise DeskError("该工单已不由您处理(租约已过期或已被他人领取)")
    if row["call_live"]:
        raise DeskError("正在通话中")
    if row["call_started_at"] is not None:
        raise DeskError("请先登记上一通电话的结果, 再拨打下一通")
    if row["campaign_id"] is None:
        raise DeskError("该工单没有回访活动, 无法确定外呼线路与时段; 请在系统外回访后手工录入")
    campaign = await get_campaign(conn, row["campaign_id"])
    trunk = await conn.fetchrow("SELECT name, dial_template, max_channels, caller_id FROM trunks WHERE id = $1",
                                campaign.trunk_id)
    day_start = office_day_start(now)
    on_dnc = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM do_not_call WHERE phone = $1)", row["phone"])
    dialed = await conn.fetchval(
        """SELECT (SELECT count(*) FROM callback_attempts WHERE phone = $1 AND dialed_at >= $2)
                + (SELECT count(*) FROM desk_items d JOIN tickets t ON t.id = d.ticket_id
                    WHERE t.caller_phone = $1 AND (d.call_live OR d.call_started_at >= $2))""",
        row["phone"], day_start)     # a desk call not yet recorded is no attempt yet, but it was made
    return DialFacts(row["id"], row["ticket_id"], row["phone"], on_dnc, dialed, campaign.daily_cap_per_number,
                     campaign.windows, campaign.caller_id or trunk["caller_id"], trunk["name"],
                     trunk["dial_template"], trunk["max_channels"])


async def begin_dial(conn: asyncpg.Connection, item_id: int, agent: str, *, now: datetime, call_id: uuid.UUID,
                     recording: str | None) -> bool:
    """Mark the call up before the Originate is sent (as the robot writes 'dialing' first); never while
    the last call made for the item still waits for its form (each call is one attempt)."""
    status = await conn.execute(
        """UPDATE desk_items SET call_live = true, call_id = $4, call_started_at = $3, call_recording = $5,
                  call_status = NULL
            WHERE id = $1 AND state = 'open' AND held_by = $2 AND lease_until > $3 AND NOT call_live
              AND call_started_at IS NULL""",
        item_id, agent, now, call_id, recording)
    return status.endswith(" 1")


async def campaign_rules(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every campaign's escalation rules (schema/0019), newest first."""
    return await conn.fetch(
        """SELECT id, name, state, desk_enabled, desk_unreached_after, desk_partial, desk_refused, desk_dissatisfied,
                  desk_low_confidence FROM campaigns ORDER BY id DESC""")


def rules_of(row: asyncpg.Record) -> EscalationRules:
    """A campaigns row's desk_* columns as the rule set the dialer applies."""
    return EscalationRules(row["desk_enabled"], row["desk_unreached_after"], row["desk_partial"],
                           row["desk_refused"], row["desk_dissatisfied"], row["desk_low_confidence"])


async def campaign_rules_of(conn: asyncpg.Connection, campaign: int | str) -> tuple[int, str, EscalationRules] | None:
    """(id, name, rules) of the campaign with this id or name, or None."""
    row = await conn.fetchrow(
        """SELECT id, name, desk_enabled, desk_unreached_after, desk_partial, desk_refused, desk_dissatisfied,
                  desk_low_confidence FROM campaigns
            WHERE ($1::bigint IS NOT NULL AND id = $1) OR ($1::bigint IS NULL AND name = $2)""",
        campaign if isinstance(campaign, int) else None, campaign if isinstance(campaign, str) else None)
    return None if row is None else (row["id"], row["name"], rules_of(row))


async def set_campaign_rules(conn: asyncpg.Connection, campaign_id: int, rules: EscalationRules, *, by: str) -> bool:
    """Change one campaign's escalation rules (audited); False if there is no such campaign."""
    async with conn.transaction():
        status = await conn.execute(
            """UPDATE campaigns SET desk_enabled = $2, desk_unreached_after = $3, desk_partial = $4,
                      desk_refused = $5, desk_dissatisfied = $6, desk_low_confidence = $7 WHERE id = $1""",
            campaign_id, rules.enabled, rules.unreached_after, rules.partial, rules.refused, rules.dissatisfied,
            rules.low_confidence)
        if not status.endswith(" 1"):
            return False
        await record_audit(conn, by, "desk_rules", object_type="campaign", object_id=str(campaign_id),
                           detail={"enabled": rules.enabled, "unreached_after": rules.unreached_after,
                                   "partial": rules.partial, "refused": rules.refused,
                                   "dissatisfied": rules.dissatisfied, "low_confidence": rules.low_confidence})
    return True
