"""Alerts: the rule pass (raise each alert once), deliveries (claimed, retried, never sent twice), states.

The same alert can never be raised twice: each has a ``dedup_key`` (rule and
the thing it is about) and every insert is ``ON CONFLICT DO NOTHING …
RETURNING``, so only the instance whose insert won schedules deliveries.
Deliveries are unique per (alert, round, kind, target) and are claimed with
``FOR UPDATE SKIP LOCKED``; several instances may share the work.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

import asyncpg

RULES = ("new_ticket", "deadline_soon", "deadline_passed", "hotline_high_risk", "spike")


@dataclass(frozen=True)
class NewAlert:
    """An alert the domain wants raised (used for 高发 warnings, computed outside SQL)."""
    rule: str
    dedup_key: str
    title: str
    body: str
    ticket_ids: Sequence[int]


async def rules(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    return {r["rule"]: r for r in await conn.fetch("SELECT * FROM alert_rules ORDER BY rule")}


async def set_rule(conn: asyncpg.Connection, rule: str, *, enabled: bool | None = None,
                   threshold: int | None = None, actor: str = "") -> None:
    if rule not in RULES:
        raise ValueError(f"未知规则 {rule}; 可选: {', '.join(RULES)}")
    await conn.execute(
        """UPDATE alert_rules SET enabled = coalesce($2, enabled), threshold = coalesce($3, threshold),
                  updated_by = $4, updated_at = now() WHERE rule = $1""", rule, enabled, threshold, actor)


# --- the rule pass -------------------------------------------------------------------------------

_NEW_TICKETS = """
INSERT INTO alerts (rule, dedup_key, title, body, ticket_ids, created_at, reminded_at)
SELECT 'new_ticket', 'new_ticket:' || t.id, '新工单待签收 ' || t.ticket_no,
       t.category_l1 || ' · ' || t.title || ' · 签收时限 ' ||
       coalesce(to_char(t.sign_due_at AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI'), '无'),
       ARRAY[t.id], $1, $1
FROM tickets t
WHERE t.status = 'received' AND t.created_at >= $1::timestamptz - make_interval(hours => $2)
ON CONFLICT (dedup_key) DO NOTHING RETURNING id"""

# Deadlines due in ($2, $3]: 签收 of tickets waiting for it, 办结 (or the approved 延期) of open ones.
# $4 is the rule (deadline_soon / deadline_passed), $5 the title's first words.
_DEADLINES = """
INSERT INTO alerts (rule, dedup_key, title, body, ticket_ids, created_at, reminded_at)
SELECT $4::text, $4::text || ':' || d.kind || ':' || d.id || ':' || extract(epoch FROM d.due)::bigint,
       $5::text || d.label || ' ' || d.ticket_no,
       d.title || ' · ' || d.label || '时限 ' || to_char(d.due AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI'),
       ARRAY[d.id], $1, $1
FROM (SELECT t.id, t.ticket_no, t.title, 'sign' AS kind, '签收' AS label, t.sign_due_at AS due
        FROM tickets t WHERE t.status = 'received' AND t.sign_due_at > $2 AND t.sign_due_at <= $3
      UNION ALL
      SELECT t.id, t.ticket_no, t.title, 'close', '办结', coalesce(t.extended_due_at, t.close_due_at)
        FROM tickets t WHERE t.status IN ('signed', 'dispatched', 'handling', 'feedback')
         AND coalesce(t.extended_due_at, t.close_due_at) > $2
         AND coalesce(t.extended_due_at, t.close_due_at) <= $3) d
ON CONFLICT (dedup_key) DO NOTHING RETURNING id"""

_HIGH_RISK = """
INSERT INTO alerts (rule, dedup_key, title, body, ticket_ids, created_at, reminded_at)
SELECT 'hotline_high_risk', 'hotline_high_risk:' || c.id, '热线高风险记录 #' || c.id,
       '话题: ' || c.topic || ' · 情绪: ' || c.emotional_state || coalesce(' · 后续: ' || nullif(c.next_step, ''), ''),
       '{}', $1, $1
FROM counseling_records c
WHERE c.risk_level = 'high' AND c.created_at >= $1::timestamptz - make_interval(hours => $2)
ON CONFLICT (dedup_key) DO NOTHING RETURNING id"""


def _rule_query(rule: str, now: datetime, threshold: int) -> tuple[str, tuple] | None:
    """The SQL and arguments of one rule (None: the rule is not an SQL rule, e.g. 高发)."""
    if rule == "new_ticket" or rule == "hotline_high_risk":
        return (_NEW_TICKETS if rule == "new_ticket" else _HIGH_RISK), (now, threshold)
    if rule == "deadline_soon":
        return _DEADLINES, (now, now, now + timedelta(minutes=threshold), rule, "时限将到: ")
    if rule == "deadline_passed":
        return _DEADLINES, (now, now - timedelta(hours=threshold), now, rule, "已超期: ")
    return None


async def raise_rule_alerts(conn: asyncpg.Connection, now: datetime) -> list[int]:
    """Run every enabled SQL rule once; the ids of the alerts this call raised (none twice, ever)."""
    raised: list[int] = []
    for rule in (await rules(conn)).values():
        query = _rule_query(rule["rule"], now, rule["threshold"]) if rule["enabled"] else None
        if query is not None:
            raised += [r["id"] for r in await conn.fetch(query[0], *query[1])]
    return raised


async def raise_alerts(conn: asyncpg.Connection, alerts: Iterable[NewAlert], now: datetime) -> list[int]:
    """Raise alerts computed outside SQL (高发 warnings); already-raised ones are skipped."""
    items = list(alerts)
    if not items:
        return []
    rows = await conn.fetch(
        """INSERT INTO alerts (rule, dedup_key, title, body, ticket_ids, created_at, reminded_at)
           SELECT a.rule, a.dedup_key, a.title, a.body, a.ticket_ids, $2, $2
           FROM jsonb_to_recordset($1::jsonb) AS a(rule text, dedup_key text, title text, body text,
                                                    ticket_ids bigint[])
           ON CONFLICT (dedup_key) DO NOTHING RETURNING id""",
        [{"rule": a.rule, "dedup_key": a.dedup_key, "title": a.title, "body": a.body,
          "ticket_ids": list(a.ticket_ids)} for a in items], now)
    return [r["id"] for r in rows]


async def due_reminders(conn: asyncpg.Connection, now: datetime, every: timedelta,
                        most: int) -> list[tuple[int, int]]:
    """Unacknowledged alerts whose last notice is ``every`` old, at most ``most`` reminders each:
    (alert id, reminder round)."""
    rows = await conn.fetch(
        """UPDATE alerts SET reminders = reminders + 1, reminded_at = $1
           WHERE id IN (SELECT id FROM alerts WHERE state = 'new' AND reminded_at <= $1::timestamptz - $2::interval
                          AND reminders < $3
                        ORDER BY reminded_at LIMIT 500 FOR UPDATE SKIP LOCKED)
           RETURNING id, reminders""", now, every, most)
    return [(r["id"], r["reminders"]) for r in rows]


async def schedule(conn: asyncpg.Connection, alert_ids: Sequence[int], round_no: int, now: datetime, *,
                   email: bool) -> int:
    """Deliveries for these alerts: every active webhook channel, and the on-duty staff's e-mail."""
    if not alert_ids:
        return 0
    result = await conn.execute(
        """INSERT INTO alert_deliveries (alert_id, round, kind, target, next_at)
           SELECT a.id, $2::int, c.kind, c.url, $3::timestamptz FROM unnest($1::bigint[]) a(id)
             CROSS JOIN alert_channels c WHERE c.active
           UNION ALL
           SELECT a.id, $2::int, 'email', d.email, $3::timestamptz FROM unnest($1::bigint[]) a(id)
             CROSS JOIN (SELECT DISTINCT email FROM duty_shifts
                         WHERE starts_at <= $3::timestamptz AND ends_at > $3::timestamptz AND email <> '') d
             WHERE $4::boolean
           ON CONFLICT (alert_id, round, kind, target) DO NOTHING""", list(alert_ids), round_no, now, email)
    return int(result.split()[-1])


# --- deliveries ----------------------------------------------------------------------------------

async def claim_deliveries(conn: asyncpg.Connection, now: datetime, *, lease: timedelta,
                           limit: int = 50) -> list[dict[str, Any]]:
    """Due deliveries with their alert, leased for ``lease`` (a crashed sender's claim expires)."""
    rows = await conn.fetch(
        """UPDATE alert_deliveries d SET attempts = d.attempts + 1, next_at = $1 + $2::interval
           FROM alerts a
           WHERE d.id IN (SELECT id FROM alert_deliveries WHERE state = 'pending' AND next_at <= $1
                          ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED)
             AND a.id = d.alert_id
           RETURNING d.id, d.round, d.kind, d.target, d.attempts, a.id AS alert_id, a.rule, a.title, a.body,
                     a.ticket_ids, a.state, a.created_at""", now, lease, limit)
    return [dict(r) for r in rows]


async def mark_sent(conn: asyncpg.Connection, delivery_id: int, now: datetime) -> None:
    await conn.execute("UPDATE alert_deliveries SET state = 'sent', sent_at = $2, last_error = '' WHERE id = $1",
                       delivery_id, now)


async def mark_failed(conn: asyncpg.Connection, delivery_id: int, error: str, retry_at: datetime | None) -> None:
    """A failed try: retried at ``retry_at``, or given up (state failed) when it is None."""
    await conn.execute(
        """UPDATE alert_deliveries SET last_error = $2, state = CASE WHEN $3::timestamptz IS NULL
                  THEN 'failed' ELSE 'pending' END, next_at = coalesce($3, next_at) WHERE id = $1""",
        delivery_id, error[:500], retry_at)


async def cancel_delivery(conn: asyncpg.Connection, delivery_id: int, why: str) -> None:
    await conn.execute("UPDATE alert_deliveries SET state = 'cancelled', last_error = $2 WHERE id = $1",
                       delivery_id, why)


# --- states --------------------------------------------------------------------------------------

async def acknowledge(conn: asyncpg.Connection, alert_id: int, actor: str) -> bool:
    """new → acknowledged; pending reminders are cancelled. False if the alert was not new."""
    async with conn.transaction():
        done = await conn.fetchval(
            """UPDATE alerts SET state = 'acknowledged', acknowledged_by = $2, acknowledged_at = now()
               WHERE id = $1 AND state = 'new' RETURNING id""", alert_id, actor)
        if done is not None:
            await conn.execute(
                """UPDATE alert_deliveries SET state = 'cancelled', last_error = '已确认, 不再提醒'
                   WHERE alert_id = $1 AND state = 'pending' AND round > 0""", alert_id)
    return done is not None


async def close(conn: asyncpg.Connection, alert_id: int, actor: str) -> bool:
    """new or acknowledged → closed (closing an unacknowledged alert acknowledges it too)."""
    async with conn.transaction():
        done = await conn.fetchval(
            """UPDATE alerts SET state = 'closed', closed_by = $2, closed_at = now(),
                      acknowledged_by = coalesce(acknowledged_by, $2),
                      acknowledged_at = coalesce(acknowledged_at, now())
               WHERE id = $1 AND state <> 'closed' RETURNING id""", alert_id, actor)
        if done is not None:
            await conn.execute(
                """UPDATE alert_deliveries SET state = 'cancelled', last_error = '已关闭'
                   WHERE alert_id = $1 AND state = 'pending' AND round > 0""", alert_id)
    return done is not None


async def unread_count(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM alerts WHERE state = 'new'")


async def alert_list(conn: asyncpg.Connection, states: Sequence[str], limit: int = 200) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT a.*, (SELECT count(*) FROM alert_deliveries d WHERE d.alert_id = a.id AND d.state = 'sent')
                       AS sent, (SELECT count(*) FROM alert_deliveries d WHERE d.alert_id = a.id
                                 AND d.state = 'failed') AS failed
           FROM alerts a WHERE a.state = ANY($1::text[]) ORDER BY a.id DESC LIMIT $2""", list(states), limit)
    return [dict(r) for r in rows]


async def channels(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch("SELECT * FROM alert_channels ORDER BY id")]


async def add_channel(conn: asyncpg.Connection, name: str, kind: str, url: str) -> int:
    return await conn.fetchval("INSERT INTO alert_channels (name, kind, url) VALUES ($1, $2, $3) RETURNING id",
                               name, kind, url)


async def remove_channel(conn: asyncpg.Connection, name: str) -> bool:
    return await conn.fetchval("DELETE FROM alert_channels WHERE name = $1 RETURNING id", name) is not None


async def awaiting_sign(conn: asyncpg.Connection, limit: int) -> list[dict[str, Any]]:
    """The newest tickets waiting for 签收 (the dashboard's live list)."""
    rows = await conn.fetch(
        """SELECT id, ticket_no, category_l1, title, sign_due_at FROM tickets WHERE status = 'received'
           ORDER BY created_at DESC, id DESC LIMIT $1""", limit)
    return [dict(r) for r in rows]
