"""Counts for spike detection and the tickets a warning names (local days, Asia/Shanghai)."""
from __future__ import annotations

from datetime import datetime

import asyncpg

_COUNTS = """
SELECT category_l1, CASE WHEN $3 THEN street ELSE community_name END AS unit, count(*) AS n
FROM tickets WHERE called_at >= $1 AND called_at < $2
  AND CASE WHEN $3 THEN street ELSE community_name END <> ''
GROUP BY 1, 2"""


async def counts(conn: asyncpg.Connection, start: datetime, end: datetime, *, street: bool) -> list[tuple]:
    """(一级分类, 社区 or street, tickets called in [start, end))."""
    return [(r["category_l1"], r["unit"], r["n"]) for r in await conn.fetch(_COUNTS, start, end, street)]


async def ticket_ids(conn: asyncpg.Connection, start: datetime, end: datetime, category: str, unit: str, *,
                     street: bool, limit: int = 200) -> list[int]:
    rows = await conn.fetch(
        """SELECT id FROM tickets WHERE called_at >= $1 AND called_at < $2 AND category_l1 = $3
             AND CASE WHEN $5 THEN street ELSE community_name END = $4 ORDER BY called_at LIMIT $6""",
        start, end, category, unit, street, limit)
    return [r["id"] for r in rows]
