"""Small builders for test rows, so tests state only what matters to them."""
from __future__ import annotations

from datetime import datetime, timezone

from callcenter.db import tickets as repo

DEFAULT_CALLED_AT = datetime(2024, 5, 1, 9, tzinfo=timezone.utc)


async def insert_ticket(conn, no: str = "T1", *, status: str = "received", phone: str = "13800000001",
                        category_l1: str = "物业管理", urgency: str = "一般",
                        called_at: datetime = DEFAULT_CALLED_AT, dispatched_at: datetime | None = None,
                        closed_at: datetime | None = None, title: str = "楼道堆物") -> int:
    """A ticket row with computed deadlines. ``status`` is set directly: use it for fixtures, not flow tests."""
    ticket_id = await conn.fetchval(
        """INSERT INTO tickets (ticket_no, category_l1, title, called_at, dispatched_at, closed_at, urgency,
                                caller_phone, status, awaiting_since)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
                   CASE WHEN $9 = 'awaiting_callback' THEN now() END) RETURNING id""",
        no, category_l1, title, called_at, dispatched_at or called_at, closed_at, urgency, phone, status)
    await repo.refresh_deadlines(conn, ticket_id)
    return ticket_id


async def insert_unit(conn, name: str, kind: str = "department") -> int:
    return await conn.fetchval("INSERT INTO units (kind, name) VALUES ($1, $2) RETURNING id", kind, name)


async def insert_user(conn, username: str, role: str = "agent", password: str = "correct-horse-1",
                      display_name: str = "") -> int:
    """A staff account with a real scrypt hash (sign-in tests log in with ``password``)."""
    from callcenter.db.users import add_user
    from callcenter.security.passwords import hash_password
    return await add_user(conn, username, role, hash_password(password), display_name)
