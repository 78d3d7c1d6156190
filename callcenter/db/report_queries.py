"""What the office's reports read that no other query gives: the window's tickets (filterable),
overdue tickets, the appeals desk's day (2.2.4), the hotline's summary, and the reports log."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

_TICKETS = """
SELECT t.id, t.ticket_no, t.category_l1, t.title, t.community_name, t.address, t.caller_phone, t.caller_name,
       t.called_at, t.status
  FROM tickets t
 WHERE t.called_at >= $1 AND t.called_at < $2
   AND ($3::text IS NULL OR t.category_l1 = $3) AND ($4::text IS NULL OR t.community_name = $4)"""


async def window_tickets(conn: asyncpg.Connection, start: datetime, end: datetime, *, category: str | None = None,
                         community: str | None = None) -> list[asyncpg.Record]:
    """Tickets called in [start, end) (optionally one 一级分类 / one 社区): the report's raw material."""
    return await conn.fetch(_TICKETS, start, end, category, community)


async def overdue_tickets(conn: asyncpg.Connection, at: datetime, *, category: str | None = None,
                          community: str | None = None, limit: int = 100) -> list[asyncpg.Record]:
    """Open tickets past their 签收 or 办结 deadline at ``at`` (most overdue first)."""
    return await conn.fetch(
        """SELECT ticket_no, title, category_l1, community_name, status, label, due FROM (
             SELECT ticket_no, title, category_l1, community_name, status, '签收' AS label, sign_due_at AS due
               FROM tickets WHERE status = 'received' AND sign_due_at < $1
             UNION ALL
             SELECT ticket_no, title, category_l1, community_name, status, '办结',
                    coalesce(extended_due_at, close_due_at)
               FROM tickets WHERE status IN ('signed', 'dispatched', 'handling', 'feedback')
                AND coalesce(extended_due_at, close_due_at) < $1) o
           WHERE ($2::text IS NULL OR category_l1 = $2) AND ($3::text IS NULL OR community_name = $3)
           ORDER BY due LIMIT $4""", at, category, community, limit)


async def appeals_work(conn: asyncpg.Connection, start: datetime, end: datetime) -> dict[str, int]:
    """申诉 日常工作情况: candidates found, appeals drafted, submitted, granted and refused in the window."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM appeal_candidates WHERE created_at >= $1 AND created_at < $2) AS candidates,
                  count(*) FILTER (WHERE e.action = 'create') AS drafted,
                  count(*) FILTER (WHERE e.to_state = 'submitted' AND e.from_state IS DISTINCT FROM 'submitted')
                      AS submitted,
                  count(*) FILTER (WHERE e.to_state = 'granted') AS granted,
                  count(*) FILTER (WHERE e.to_state = 'denied') AS refused
             FROM appeal_events e WHERE e.at >= $1 AND e.at < $2""", start, end)
    return dict(row)


async def hotline_summary(conn: asyncpg.Connection, start: datetime, end: datetime) -> dict[str, Any]:
    row = await conn.fetchrow(
        """SELECT count(*) AS calls, count(*) FILTER (WHERE outcome = 'answered') AS answered,
                  count(*) FILTER (WHERE outcome = 'abandoned') AS abandoned,
                  count(*) FILTER (WHERE outcome = 'callback_requested') AS callback_requested,
                  coalesce(round(avg(wait_seconds)), 0)::int AS avg_wait,
                  (SELECT count(*) FROM counseling_records WHERE created_at >= $1 AND created_at < $2
                      AND risk_level = 'high') AS high_risk
             FROM hotline_calls WHERE joined_at >= $1 AND joined_at < $2""", start, end)
    return dict(row)


async def record_report(conn: asyncpg.Connection, *, kind: str, label: str, start: datetime, end: datetime,
                        filters: dict, docx_path: str, xlsx_path: str, created_by: str) -> int | None:
    """Log a written report; None when the service already wrote this scheduled one."""
    return await conn.fetchval(
        """INSERT INTO reports (kind, label, starts_at, ends_at, filters, docx_path, xlsx_path, created_by)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)
           ON CONFLICT (kind, label) WHERE created_by = 'service' DO NOTHING RETURNING id""",
        kind, label, start, end, json.dumps(filters, ensure_ascii=False), docx_path, xlsx_path, created_by)


async def scheduled_exists(conn: asyncpg.Connection, kind: str, label: str) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM reports WHERE kind = $1 AND label = $2 AND created_by = 'service')",
        kind, label)


async def report_list(conn: asyncpg.Connection, limit: int = 200) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch("SELECT * FROM reports ORDER BY id DESC LIMIT $1", limit)]


async def report_row(conn: asyncpg.Connection, report_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM reports WHERE id = $1", report_id)
