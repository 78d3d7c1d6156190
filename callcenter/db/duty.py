"""值班表: shifts and who is on duty at a given instant."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


async def add_shift(conn: asyncpg.Connection, *, starts_at: datetime, ends_at: datetime, staff_name: str,
                    email: str = "", phone: str = "", note: str = "", created_by: str = "") -> int:
    return await conn.fetchval(
        """INSERT INTO duty_shifts (starts_at, ends_at, staff_name, email, phone, note, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
        starts_at, ends_at, staff_name.strip(), email.strip(), phone.strip(), note.strip(), created_by)


async def remove_shift(conn: asyncpg.Connection, shift_id: int) -> bool:
    return await conn.fetchval("DELETE FROM duty_shifts WHERE id = $1 RETURNING id", shift_id) is not None


async def on_duty(conn: asyncpg.Connection, at: datetime) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, starts_at, ends_at, staff_name, email, phone, note FROM duty_shifts
           WHERE starts_at <= $1 AND ends_at > $1 ORDER BY starts_at, id""", at)
    return [dict(r) for r in rows]


async def shifts_from(conn: asyncpg.Connection, since: datetime, limit: int = 200) -> list[dict[str, Any]]:
    """Shifts not yet over at ``since`` (current and coming), soonest first."""
    rows = await conn.fetch(
        """SELECT id, starts_at, ends_at, staff_name, email, phone, note, created_by FROM duty_shifts
           WHERE ends_at > $1 ORDER BY starts_at, id LIMIT $2""", since, limit)
    return [dict(r) for r in rows]
