"""Office-wide switches an admin sets in the web app (stored, audited, read on each page view)."""
from __future__ import annotations

from typing import Any

import asyncpg

#: Whether hotline agents may see the office's department ranking on 首页 (default: no).
AGENTS_SEE_RANKING = "agents_see_ranking"


async def get(conn: asyncpg.Connection, key: str, default: Any = None) -> Any:
    value = await conn.fetchval("SELECT value FROM office_settings WHERE key = $1", key)
    return default if value is None else value


async def put(conn: asyncpg.Connection, key: str, value: Any, *, actor: str) -> None:
    """Set one switch and audit who changed it from what."""
    async with conn.transaction():
        before = await get(conn, key)
        await conn.execute(
            """INSERT INTO office_settings (key, value, updated_by) VALUES ($1, $2, $3)
               ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by,
                                               updated_at = now()""", key, value, actor)
        await conn.execute(
            "INSERT INTO audit_log (actor, action, object_type, object_id, detail) "
            "VALUES ($1, 'setting.change', 'setting', $2, $3)", actor, key, {"from": before, "to": value})
