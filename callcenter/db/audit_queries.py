"""Reading the audit log (who listened, who corrected, who changed what): newest first, keyset pages."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from .keyset import split_page


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action_prefix: str | None = None      # e.g. "recording." or "campaign."
    since: datetime | None = None         # inclusive
    until: datetime | None = None         # exclusive


@dataclass(frozen=True)
class AuditPage:
    rows: list[asyncpg.Record]
    next_key: tuple[datetime, int] | None


_PAGE = """
WITH page AS (
SELECT id, at, actor, action, object_type, object_id, detail
  FROM audit_log
 WHERE ($1::text IS NULL OR actor = $1)
   AND ($2::text IS NULL OR starts_with(action, $2))
   AND ($3::timestamptz IS NULL OR at >= $3)
   AND ($4::timestamptz IS NULL OR at < $4)
   AND ($5::timestamptz IS NULL OR (at, id) < ($5, $6::bigint))
 ORDER BY at DESC, id DESC
 LIMIT $7
)
-- What a person needs to read the row: the actor's name, and the ticket or campaign it concerns.
SELECT p.*, coalesce(u.display_name, '') AS actor_display, t.id AS ticket_id, t.ticket_no, c.name AS campaign_name
  FROM page p
  LEFT JOIN users u ON u.username = p.actor
  LEFT JOIN callback_attempts a ON a.id = CASE WHEN p.object_type = 'callback_attempt'
                                                AND p.object_id ~ '^[0-9a-fA-F-]{36}$' THEN p.object_id::uuid END
  LEFT JOIN tickets t ON t.id = a.ticket_id
  LEFT JOIN campaigns c ON c.id = CASE WHEN p.object_type = 'campaign' AND p.object_id ~ '^[0-9]{1,18}$'
                                       THEN p.object_id::bigint END
 ORDER BY p.at DESC, p.id DESC
"""


async def audit_page(conn: asyncpg.Connection, f: AuditFilter, *, after: tuple[datetime, int] | None,
                     size: int) -> AuditPage:
    at, ident = after if after else (None, None)
    rows = await conn.fetch(_PAGE, f.actor, f.action_prefix, f.since, f.until, at, ident, size + 1)
    return AuditPage(*split_page(rows, size, lambda last: (last["at"], last["id"])))


async def audit_actions(conn: asyncpg.Connection) -> list[str]:
    """The kinds of action logged so far (for the filter's picker)."""
    return [r["action"] for r in await conn.fetch("SELECT DISTINCT action FROM audit_log ORDER BY action")]
