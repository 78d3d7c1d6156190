"""Lookups only the dashboard needs (the scoring figures themselves come from callcenter.db.scoring)."""
from __future__ import annotations

from datetime import datetime

import asyncpg


async def latest_effective_callback(conn: asyncpg.Connection) -> datetime | None:
    """When the newest effective callback (ours or the city's) was scored: where an empty month can point to."""
    return await conn.fetchval(
        "SELECT max(scored_at) FROM ticket_scores WHERE source IN ('own', 'city')")
