"""Read-only lookups the campaign pages need beyond callcenter.db.campaigns (pickers, queue sizes)."""
from __future__ import annotations

import asyncpg


async def trunks(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every trunk, for the campaign form's picker."""
    return await conn.fetch("SELECT id, name, max_channels, max_cps FROM trunks ORDER BY name")


async def campaign_choices(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every campaign's id and name, newest first, for filter pickers."""
    return await conn.fetch("SELECT id, name FROM campaigns ORDER BY id DESC")


async def campaign_row(conn: asyncpg.Connection, campaign_id: int) -> asyncpg.Record | None:
    """One campaign as stored, with its trunk's name (the detail page shows every setting)."""
    return await conn.fetchrow(
        """SELECT c.*, t.name AS trunk FROM campaigns c JOIN trunks t ON t.id = c.trunk_id
            WHERE c.id = $1""", campaign_id)


async def campaign_standing(conn: asyncpg.Connection, campaign_id: int) -> asyncpg.Record | None:
    """A campaign's state and standing for the live page (None: no such campaign)."""
    return await conn.fetchrow("SELECT state, standing FROM campaigns WHERE id = $1", campaign_id)


async def pending_attempts(conn: asyncpg.Connection) -> int:
    """Attempts waiting to be dialed (the dialer's queue, all instances)."""
    return await conn.fetchval("SELECT count(*) FROM callback_attempts WHERE state = 'pending'")


async def live_attempts(conn: asyncpg.Connection) -> int:
    """Attempts dialing or on the line, as the database sees them (all instances)."""
    return await conn.fetchval("SELECT count(*) FROM callback_attempts WHERE state IN ('dialing', 'answered')")
