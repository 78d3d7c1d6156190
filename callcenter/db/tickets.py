"""Ticket rows and their flow history.

Every status change goes through :func:`apply_step`: the ticket row is locked,
the pure flow machine decides, and the new state and its audit event are
written in one transaction, so the trail can always replay to the status.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg

from ..ledger import flow
from ..ledger.deadlines import (DeadlinePolicy, ExtensionRefused, check_extension, compute_deadlines,
                                policy_in_force)


class TicketNotFound(LookupError):
    pass


@dataclass(frozen=True)
class StepResult:
    ticket_id: int
    from_state: flow.State
    to_state: flow.State
    event_id: int


async def load_policies(conn: asyncpg.Connection) -> list[DeadlinePolicy]:
    rows = await conn.fetch(
        """SELECT effective_from, sign_hours, contact_hours, contact_hours_urgent,
                  close_days, close_days_complex, close_hours_urgent
             FROM deadline_policies ORDER BY effective_from"""
    )
    return [DeadlinePolicy(**dict(r)) for r in rows]


async def load_utility_categories(conn: asyncpg.Connection) -> frozenset[str]:
    rows = await conn.fetch("SELECT name FROM categories WHERE is_utility")
    return frozenset(r["name"] for r in rows)


async def refresh_deadlines(conn: asyncpg.Connection, ticket_id: int) -> None:
    """Recompute a ticket's stored deadlines from the policy in force at its dispatch."""
    row = await conn.fetchrow(
        """SELECT dispatched_at, called_at, urgency, category_l1, is_complex, time_limit_hours
             FROM tickets WHERE id = $1""", ticket_id)
    start = row["dispatched_at"] or row["called_at"]
    policy = policy_in_force(await load_policies(conn), start)
    due = compute_deadlines(
        policy, start, urgent=row["urgency"] == "紧急", category_l1=row["category_l1"],
        is_complex=row["is_complex"], time_limit_hours=row["time_limit_hours"],
        utility_categories=await load_utility_categories(conn),
    )
    await conn.execute(
        "UPDATE tickets SET sign_due_at = $2, contact_due_at = $3, close_due_at = $4 WHERE id = $1",
        ticket_id, due.sign_due_at, due.contact_due_at, due.close_due_at,
    )


async def apply_step(
    conn: asyncpg.Connection,
    ticket_id: int,
    step: flow.Step,
    *,
    actor: str,
    at: datetime | None = None,
    seen: flow.State | str | None = None,
) -> StepResult:
    """Apply one flow step atomically; raises :class:`flow.FlowError` if the flow forbids it.

    ``seen``: the status the caller read moments ago (the dialer settling a call).  A step with no
    side effects is then written in one statement, on condition the ticket is still there; if it
    has moved on, the locked path below decides as usual.
    """
    if seen is not None:
        done = await _advance_if_still(conn, ticket_id, flow.parse_state(seen), step, actor=actor, at=at)
        if done is not None:
            return done
    async with conn.transaction():
        row = await conn.fetchrow("SELECT status FROM tickets WHERE id = $1 FOR UPDATE", ticket_id)
        if row is None:
            raise TicketNotFound(f"工单 {ticket_id} 不存在")
        current = flow.parse_state(row["status"])
        target = flow.apply(current, step)
        action = flow.parse_action(step.action)
        if action is flow.Action.EXTEND:
            await _check_extension(conn, ticket_id, step.new_deadline, at)
        if step.unit_id is not None:
            kind = await conn.fetchval("SELECT kind FROM units WHERE id = $1 AND active", step.unit_id)
            if kind is None:
                raise flow.FlowError(f"承办单位 {step.unit_id} 不存在或已停用")
        data: dict[str, Any] = {}
        if step.unit_id is not None:
            data["unit_id"] = step.unit_id
        if step.new_deadline is not None:
            data["new_deadline"] = step.new_deadline.isoformat()
        event_id = await conn.fetchval(
            """INSERT INTO ticket_events (ticket_id, at, actor, action, from_state, to_state, reason, data)
               VALUES ($1, coalesce($2, now()), $3, $4, $5, $6, $7, $8) RETURNING id""",
            ticket_id, at, actor, action.value, current.value, target.value, step.reason.strip(), data,
        )
        await _record_side_effects(conn, ticket_id, action, step, at)
        await conn.execute("UPDATE tickets SET status = $2, updated_at = now() WHERE id = $1",
                           ticket_id, target.value)
        return StepResult(ticket_id, current, target, event_id)


def _plain(step: flow.Step) -> bool:
    """A step that only moves the status (no unit, no deadline, none of _record_side_effects' columns)."""
    return step.unit_id is None and step.new_deadline is None and flow.parse_action(step.action) not in (
        flow.Action.SIGN, flow.Action.DISPATCH, flow.Action.REDISPATCH, flow.Action.CONTACT, flow.Action.EXTEND)


#: Move the ticket(s) named by a CTE ``subject`` (column ticket_id) from status $2 to $3 and write
#: the event: $4 actor, $5 action, $6 at (NULL: now), $7 reason; $1 is the subject's own parameter.
#: A ticket no longer in $2 is left alone.  Shared by the one-statement paths (here, and the
#: dialer's settle), so each is atomic without a transaction of its own.
ADVANCE_SUBJECT = """
    moved AS (UPDATE tickets t SET status = $3, updated_at = now() FROM subject s
               WHERE t.id = s.ticket_id AND t.status = $2 RETURNING t.id),
    event AS (INSERT INTO ticket_events (ticket_id, at, actor, action, from_state, to_state, reason, data)
              SELECT id, coalesce($6::timestamptz, now()), $4, $5, $2, $3, $7, '{}'::jsonb FROM moved RETURNING id)"""


def plain_target(seen: flow.State | str, step: flow.Step) -> flow.State | None:
    """Where a step with no side effects takes a ticket still in ``seen``; None if the flow says no
    (or the step has side effects): the locked path then reads the status again and says why."""
    if not _plain(step):
        return None
    try:
        return flow.apply(seen, step)
    except flow.FlowError:
        return None


async def _advance_if_still(conn: asyncpg.Connection, ticket_id: int, seen: flow.State, step: flow.Step, *,
                            actor: str, at: datetime | None) -> StepResult | None:
    """Status and event in one statement if the ticket is still ``seen``; None (nothing written) if not."""
    target = plain_target(seen, step)
    if target is None:
        return None
    event_id = await conn.fetchval(
        f"WITH subject AS (SELECT $1::bigint AS ticket_id), {ADVANCE_SUBJECT} SELECT id FROM event",
        ticket_id, seen.value, target.value, actor, flow.parse_action(step.action).value, at, step.reason.strip())
    return StepResult(ticket_id, seen, target, event_id) if event_id is not None else None


async def _check_extension(conn: asyncpg.Connection, ticket_id: int, new_due: datetime,
                           at: datetime | None) -> None:
    """延期 limits (callcenter.ledger.deadlines.check_extension), as a refusal of the step."""
    t = await conn.fetchrow(
        """SELECT coalesce(dispatched_at, called_at) AS start, coalesce(extended_due_at, close_due_at) AS due
             FROM tickets WHERE id = $1""", ticket_id)
    try:
        policy = policy_in_force(await load_policies(conn), t["start"])
        check_extension(new_due, now=at or datetime.now(timezone.utc), current_due=t["due"], start=t["start"],
                        policy=policy)
    except (ExtensionRefused, LookupError) as exc:
        raise flow.FlowError(f"延期被拒绝: {exc}") from None


async def _record_side_effects(conn: asyncpg.Connection, ticket_id: int, action: flow.Action,
                               step: flow.Step, at: datetime | None) -> None:
    """The columns a step sets besides the status (times, unit, counters)."""
    if action is flow.Action.SIGN:
        await conn.execute("UPDATE tickets SET signed_at = coalesce($2::timestamptz, now()) WHERE id = $1",
                           ticket_id, at)
    elif action in (flow.Action.DISPATCH, flow.Action.REDISPATCH):
        await conn.execute(
            """UPDATE tickets t
                  SET department_id = CASE WHEN u.kind = 'department' THEN u.id ELSE t.department_id END,
                      community_id  = CASE WHEN u.kind = 'community'  THEN u.id ELSE t.community_id END
                 FROM units u WHERE t.id = $1 AND u.id = $2""", ticket_id, step.unit_id)
    elif action is flow.Action.CONTACT:
        await conn.execute(
            """UPDATE tickets SET first_contact_at = coalesce(first_contact_at, $2::timestamptz, now())
                WHERE id = $1""", ticket_id, at)
    elif action is flow.Action.EXTEND:
        await conn.execute("UPDATE tickets SET extended_due_at = $2, is_complex = true WHERE id = $1",
                           ticket_id, step.new_deadline)
    elif action is flow.Action.REVIEW_PASS:
        # Starts a callback round: the dialer counts attempts from here.
        await conn.execute("UPDATE tickets SET awaiting_since = coalesce($2::timestamptz, now()) WHERE id = $1",
                           ticket_id, at)
    elif action is flow.Action.REOPEN:
        await conn.execute("UPDATE tickets SET reopen_count = reopen_count + 1 WHERE id = $1", ticket_id)


async def history(conn: asyncpg.Connection, ticket_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, at, actor, action, from_state, to_state, reason, data
             FROM ticket_events WHERE ticket_id = $1 ORDER BY id""", ticket_id)


async def get_ticket(conn: asyncpg.Connection, ticket_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM tickets WHERE id = $1", ticket_id)
    if row is None:
        raise TicketNotFound(f"工单 {ticket_id} 不存在")
    return row


async def ticket_id_by_no(conn: asyncpg.Connection, ticket_no: str) -> int:
    ticket_id = await conn.fetchval("SELECT id FROM tickets WHERE ticket_no = $1", ticket_no)
    if ticket_id is None:
        raise TicketNotFound(f"工单编号 {ticket_no} 不存在")
    return ticket_id


@dataclass(frozen=True)
class DeadlineWarning:
    ticket_id: int
    ticket_no: str
    title: str
    kind: str            # sign | contact | close
    due_at: datetime
    overdue: bool


# Each deadline is watched only while the step it guards has not happened yet, on a ticket
# the street holds (an open state), and only when its time is not unknown (时间未知: the
# ticket passed the step before it reached our ledger, callcenter.ledger.city_status).
# Keyset paged by (due_at, id, kind); $3/$4/$5 is the last row shown (NULL: first page).
_DEADLINE_SQL = """
SELECT id, ticket_no, title, kind, due_at FROM (
    SELECT id, ticket_no, title, 'sign' AS kind, sign_due_at AS due_at
      FROM tickets WHERE status = 'received' AND sign_due_at <= $1
    UNION ALL
    SELECT id, ticket_no, title, 'contact', contact_due_at
      FROM tickets WHERE status IN ('signed', 'dispatched', 'handling')
                     AND first_contact_at IS NULL AND NOT contact_time_unknown AND contact_due_at <= $1
    UNION ALL
    SELECT id, ticket_no, title, 'close', coalesce(extended_due_at, close_due_at)
      FROM tickets WHERE status IN ('signed', 'dispatched', 'handling', 'feedback')
                     AND coalesce(extended_due_at, close_due_at) <= $1
) w
 WHERE $3::timestamptz IS NULL OR (due_at, id, kind) > ($3, $4::bigint, $5::text)
 ORDER BY due_at, id, kind
 LIMIT $2
"""

#: The page key of a warning: (due_at, ticket id, kind).
WarningKey = tuple[datetime, int, str]


async def deadline_warnings(conn: asyncpg.Connection, *, now: datetime,
                            warn_within: timedelta = timedelta(hours=4),
                            limit: int = 500, after: WarningKey | None = None) -> list[DeadlineWarning]:
    """超期预警: tickets past a deadline, or due within ``warn_within`` of ``now``, most urgent first.

    ``limit`` rows from just after ``after`` (a page; ask for one more to know if another follows).
    """
    at, ticket_id, kind = after or (None, None, None)
    rows = await conn.fetch(_DEADLINE_SQL, now + warn_within, limit, at, ticket_id, kind)
    return [DeadlineWarning(r["id"], r["ticket_no"], r["title"], r["kind"], r["due_at"], r["due_at"] < now)
            for r in rows]


async def tickets_in_state(conn: asyncpg.Connection, state: str) -> list[asyncpg.Record]:
    """Tickets waiting in one flow state, oldest first, with the times and units the flow needs."""
    return await conn.fetch(
        """SELECT id, ticket_no, called_at, dispatched_at, closed_at, department_id, community_id
             FROM tickets WHERE status = $1 ORDER BY called_at, id""", state)
