"""The intake log (``intake_files``): which ticket files were taken in, from where, and how it went."""
from __future__ import annotations

from typing import Any

import asyncpg

#: One lock for every intake across instances sharing the database: two services watching one
#: inbox, or an upload racing the watcher, never import the same file twice.
INTAKE_LOCK = 0x16_1A7E


async def already_done(conn: asyncpg.Connection, sha256: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, file_name, created_at FROM intake_files WHERE sha256 = $1 AND outcome = 'done'", sha256)


async def record(conn: asyncpg.Connection, *, file_name: str, sha256: str, source: str, actor: str,
                 outcome: str, rows: int = 0, inserted: int = 0, updated: int = 0, message: str = "") -> int:
    return await conn.fetchval(
        """INSERT INTO intake_files (file_name, sha256, source, actor, outcome, rows, inserted, updated, message)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (sha256) WHERE outcome = 'done' DO UPDATE SET message = intake_files.message
           RETURNING id""",
        file_name, sha256, source, actor, outcome, rows, inserted, updated, message)


async def recent(conn: asyncpg.Connection, limit: int = 50) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, file_name, source, actor, outcome, rows, inserted, updated, message, created_at
           FROM intake_files ORDER BY id DESC LIMIT $1""", limit)
    return [dict(r) for r in rows]
