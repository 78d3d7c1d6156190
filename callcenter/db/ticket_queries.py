"""工单台账 queries: filtered, keyset-paginated ticket lists and their export.

The ledger is sized for a million tickets, so pages never use OFFSET (which
reads and throws away every earlier row): each page starts strictly after the
last (called_at, id) of the previous one, which the composite indexes of
0007_web.sql answer directly.  The WHERE clause is assembled only from the
fixed fragments below, each with bind parameters: user input never becomes SQL.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, AsyncIterator

import asyncpg

from .keyset import split_page

#: Columns a ledger page shows (the detail page reads the whole row).
_LIST_COLUMNS = """id, ticket_no, title, category_l1, urgency, caller_phone, status, called_at,
       department_id, community_id, department_name, community_name,
       sign_due_at, contact_due_at, coalesce(extended_due_at, close_due_at) AS close_due_at,
       first_contact_at, signed_at"""

#: The city's export columns (ledger.ticket_record.COLUMNS) plus the street's own status.
_EXPORT_COLUMNS = """ticket_no, ticket_type, appeal_kind, category_l1, category_l2, category_l3, title, content,
       urgency, caller_name, caller_phone, district, street, community_name, address, host_unit,
       department_name, called_at, dispatched_at, time_limit_hours, closed_at, city_status,
       handling_result, city_effective_callback, city_contacted, city_solved, city_satisfied, city_callback_at,
       status"""

# Same expression as the trigram index tickets_ledger_keyword_idx: keep them identical.
_KEYWORD = "(ticket_no || ' ' || title || ' ' || content) ILIKE $%d"


@dataclass(frozen=True)
class TicketFilter:
    """What the clerk asked for; ``None`` means "any"."""
    status: str | None = None
    department_id: int | None = None
    community_id: int | None = None
    category_l1: str | None = None
    called_from: datetime | None = None      # inclusive
    called_until: datetime | None = None     # exclusive
    keyword: str | None = None               # literal substring of 工单编号/标题/主要内容
    overdue_at: datetime | None = None       # only tickets past their 办结 deadline at this instant …
    open_states: tuple[str, ...] = ()        # … and still in one of these states


@dataclass(frozen=True)
class PageKey:
    """Where a page starts: just after this (called_at, id) in newest-first order."""
    called_at: datetime
    id: int


@dataclass(frozen=True)
class TicketPage:
    rows: list[asyncpg.Record]
    next_key: PageKey | None


def like_literal(text: str) -> str:
    """``%text%`` for ILIKE with the wildcards and the escape character taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(flt: TicketFilter, after: PageKey | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []

    def add(fragment: str, *values: Any) -> None:
        numbers = tuple(range(len(params) + 1, len(params) + 1 + len(values)))
        clauses.append(fragment % numbers)
        params.extend(values)

    if flt.status is not None:
        add("status = $%d", flt.status)
    if flt.department_id is not None:
        add("department_id = $%d", flt.department_id)
    if flt.community_id is not None:
        add("community_id = $%d", flt.community_id)
    if flt.category_l1 is not None:
        add("category_l1 = $%d", flt.category_l1)
    if flt.called_from is not None:
        add("called_at >= $%d", flt.called_from)
    if flt.called_until is not None:
        add("called_at < $%d", flt.called_until)
    if flt.keyword:
        add(_KEYWORD, like_literal(flt.keyword))
    if flt.overdue_at is not None:
        add("coalesce(extended_due_at, close_due_at) < $%d AND status = ANY($%d::text[])",
            flt.overdue_at, list(flt.open_states))
    if after is not None:
        add("(called_at, id) < ($%d, $%d)", after.called_at, after.id)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


async def ticket_page(conn: asyncpg.Connection, flt: TicketFilter, *, after: PageKey | None = None,
                      size: int = 50) -> TicketPage:
    """One page of tickets, newest 来电时间 first; ``next_key`` is None on the last page."""
    if size < 1:
        raise ValueError("page size must be at least 1")
    where, params = _where(flt, after)
    # The LIMIT is written into the statement (an int, never text from a request): as a bind parameter the
    # planner cannot cost a generic plan, so PostgreSQL re-planned the query on every execution (0.1–0.2 ms
    # of its CPU per page at a million tickets, more than running it).  One prepared statement per page size.
    rows = await conn.fetch(
        f"SELECT {_LIST_COLUMNS} FROM tickets{where} ORDER BY called_at DESC, id DESC LIMIT {int(size) + 1:d}",
        *params)
    return TicketPage(*split_page(rows, size, lambda last: PageKey(last["called_at"], last["id"])))


async def page_start(conn: asyncpg.Connection, flt: TicketFilter, *, skip: int) -> PageKey | None:
    """The key a page starting after ``skip`` rows continues from (page numbers over keyset paging)."""
    if skip < 1:
        return None
    where, params = _where(flt, None)
    row = await conn.fetchrow(
        f"SELECT called_at, id FROM tickets{where} ORDER BY called_at DESC, id DESC "
        f"OFFSET ${len(params) + 1} LIMIT 1", *params, skip - 1)
    return PageKey(row["called_at"], row["id"]) if row else None


async def iter_tickets_for_export(conn: asyncpg.Connection, flt: TicketFilter, *,
                                  batch: int = 2000) -> AsyncIterator[asyncpg.Record]:
    """Every ticket matching ``flt``, newest first, from one consistent snapshot with flat memory."""
    where, params = _where(flt, None)
    sql = f"SELECT {_EXPORT_COLUMNS} FROM tickets{where} ORDER BY called_at DESC, id DESC"
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for row in conn.cursor(sql, *params, prefetch=batch):
            yield row


async def active_units(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """科室 and 社区 that tickets may be dispatched to, departments first."""
    return await conn.fetch("SELECT id, kind, name FROM units WHERE active ORDER BY kind DESC, name")


async def unit_names(conn: asyncpg.Connection) -> dict[int, str]:
    """Every unit's name by id, inactive ones included (old tickets still name them)."""
    return {r["id"]: r["name"] for r in await conn.fetch("SELECT id, name FROM units")}


async def category_names(conn: asyncpg.Connection) -> list[str]:
    return [r["name"] for r in await conn.fetch("SELECT name FROM categories ORDER BY name")]


async def record_audit(conn: asyncpg.Connection, actor: str, action: str, *, object_type: str = "",
                       object_id: str = "", detail: dict | None = None) -> None:
    """One audit_log row (exports of personal data, and later listens and score changes)."""
    await conn.execute(
        "INSERT INTO audit_log (actor, action, object_type, object_id, detail) VALUES ($1, $2, $3, $4, $5)",
        actor, action, object_type, object_id, detail or {})


async def count_tickets(conn: asyncpg.Connection, flt: TicketFilter, *, limit: int) -> int:
    """How many tickets match, counting no further than ``limit`` (cheap even at a million)."""
    where, params = _where(flt, None)
    return await conn.fetchval(
        f"SELECT count(*) FROM (SELECT 1 FROM tickets{where} LIMIT ${len(params) + 1}) AS capped",
        *params, limit)
