"""Read tickets for export in batches through a server-side cursor.

A month of a busy street is a few thousand rows, but the ledger is sized for a
million: a cursor keeps memory flat whatever the range, and one read-only
REPEATABLE READ transaction gives a consistent snapshot for the whole file.
"""
from __future__ import annotations

from datetime import datetime
from typing import AsyncIterator

import asyncpg

# The city's columns, in the order of ledger.ticket_record.COLUMNS.
_CALLED_BETWEEN = """
SELECT ticket_no, ticket_type, appeal_kind, category_l1, category_l2, category_l3, title, content,
       urgency, caller_name, caller_phone, district, street, community_name, address, host_unit,
       department_name, called_at, dispatched_at, time_limit_hours, closed_at, city_status,
       handling_result, city_effective_callback, city_contacted, city_solved, city_satisfied, city_callback_at
  FROM tickets
 WHERE called_at >= $1 AND called_at < $2
 ORDER BY called_at, id
"""


async def count_called_between(conn: asyncpg.Connection, start: datetime, end: datetime) -> int:
    return await conn.fetchval("SELECT count(*) FROM tickets WHERE called_at >= $1 AND called_at < $2",
                               start, end)


async def tickets_called_between(conn: asyncpg.Connection, start: datetime, end: datetime, *,
                                 batch: int = 2000) -> AsyncIterator[asyncpg.Record]:
    """Tickets with ``start <= called_at < end``, oldest first, fetched ``batch`` rows at a time."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for row in conn.cursor(_CALLED_BETWEEN, start, end, prefetch=batch):
            yield row


async def record_export(pool: asyncpg.Pool, *, actor: str, month: str, path: str, rows: int,
                        basis: str = "考核月", unmasked: bool = False) -> None:
    """An export carries tickets (and, unmasked, citizens' numbers) out of the ledger: the audit log shows who took what."""
    await pool.execute(
        """INSERT INTO audit_log (actor, action, object_type, object_id, detail)
           VALUES ($1, 'export_tickets', 'tickets', $2, $3)""",
        actor, month, {"path": path, "rows": rows, "basis": basis, "unmasked": unmasked})
