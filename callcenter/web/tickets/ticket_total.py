"""The ticket list's "共 N 件": exact and fresh when small, else a count at most seconds old, shown with its time.

Why: counting a filter that matches a hundred thousand tickets reads as many
index entries (10–100 ms at a million tickets, 40× the page query), and
fifty clerks paging through the same busy filter would recount it on every
click.  A small total (up to :data:`EXACT_UP_TO`) is still counted on every
request; a bigger one is counted once per :data:`TTL` seconds per web process
and the page says when (统计于 HH:MM:SS), so the figure is exact as of that time.
While such a count is fresh, the filter is not even re-counted up to
:data:`EXACT_UP_TO` (that small count read 2,000 index entries on every request
of a busy filter): the page shows the stamped figure, at most :data:`TTL` old.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from aiohttp import web

from ...db import ticket_queries as queries
from ...db.ticket_queries import TicketFilter
from ...ledger.timezone import OFFICE_TZ
from ..core.cache import cached, peek

EXACT_UP_TO = 2_000
TTL = 10.0


@dataclass(frozen=True)
class Total:
    value: int
    counted_at: datetime | None = None       # None: counted for this request


async def ticket_total(app: web.Application, conn: asyncpg.Connection, flt: TicketFilter, *, cap: int) -> Total:
    """How many tickets match ``flt``, counting no further than ``cap`` + 1 (see the module docstring)."""
    key = f"ticket-total:{flt!r}"
    counted = peek(app, key, TTL)
    if counted is not None:
        return counted
    small = await queries.count_tickets(conn, flt, limit=EXACT_UP_TO + 1)
    if small <= EXACT_UP_TO:
        return Total(small)

    async def count() -> Total:
        value = await queries.count_tickets(conn, flt, limit=cap + 1)
        return Total(value, datetime.now(OFFICE_TZ))
    return await cached(app, key, TTL, count)
