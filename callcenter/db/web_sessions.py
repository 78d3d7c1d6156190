"""Web sign-in sessions and failed sign-ins (SQL only; the rules live in callcenter.web).

Sessions are stored server-side so that signing out, or disabling an account,
takes effect at once on every device: the cookie is only a random token, and
the database keeps its SHA-256, never the token itself.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg


def token_digest(token: str) -> str:
    """The form a session token is stored and looked up in."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionUser:
    """A live session and who it belongs to."""
    session_id: str
    csrf_token: str
    user_id: int
    username: str
    display_name: str
    role: str
    has_flash: bool = False         # messages were waiting when the request began


async def create_session(conn: asyncpg.Connection, token: str, user_id: int, csrf_token: str, *,
                         lifetime: timedelta, ip: str = "") -> None:
    await conn.execute(
        """INSERT INTO web_sessions (id, user_id, csrf_token, expires_at, ip)
           VALUES ($1, $2, $3, now() + $4::interval, $5)""",
        token_digest(token), user_id, csrf_token, lifetime, ip)


#: How stale ``last_seen`` may get before a request rewrites it.  Rewriting it on every page view
#: made every GET a committed write (a WAL flush each); the idle clock only needs minute accuracy.
TOUCH_EVERY = timedelta(seconds=60)


async def touch_session(conn: asyncpg.Connection, token: str, *, idle: timedelta) -> SessionUser | None:
    """The session for ``token`` if it is neither expired nor idle too long (and its user active).

    Marks it seen now, in the same statement, so the idle clock restarts; at most once per
    :data:`TOUCH_EVERY` (or a tenth of ``idle``, if shorter), so most page views only read.
    """
    row = await conn.fetchrow(
        """WITH live AS (
               SELECT s.id, s.csrf_token, s.last_seen, jsonb_array_length(s.flash) > 0 AS has_flash,
                      u.id AS user_id, u.username, u.display_name, u.role
                 FROM web_sessions s JOIN users u ON u.id = s.user_id
                WHERE s.id = $1 AND u.active AND s.expires_at > now() AND s.last_seen > now() - $2::interval),
           touched AS (
               UPDATE web_sessions w SET last_seen = now() FROM live
                WHERE w.id = live.id AND live.last_seen <= now() - $3::interval)
           SELECT * FROM live""",
        token_digest(token), idle, min(TOUCH_EVERY, idle / 10))
    if row is None:
        return None
    return SessionUser(row["id"], row["csrf_token"], row["user_id"], row["username"],
                       row["display_name"], row["role"], row["has_flash"])


async def delete_session(conn: asyncpg.Connection, session_id: str) -> None:
    await conn.execute("DELETE FROM web_sessions WHERE id = $1", session_id)


async def delete_expired_sessions(conn: asyncpg.Connection, *, idle: timedelta) -> int:
    status = await conn.execute(
        "DELETE FROM web_sessions WHERE expires_at <= now() OR last_seen <= now() - $1::interval", idle)
    return int(status.split()[-1])


async def push_flash(conn: asyncpg.Connection, session_id: str, kind: str, message: str) -> None:
    await conn.execute(
        """UPDATE web_sessions
              SET flash = flash || jsonb_build_array(jsonb_build_object('kind', $2::text, 'message', $3::text))
            WHERE id = $1""", session_id, kind, message)


async def pop_flash(conn: asyncpg.Connection, session_id: str) -> list[dict]:
    """The session's pending messages, removed so each is shown once."""
    row = await conn.fetchrow(
        """UPDATE web_sessions n SET flash = '[]'::jsonb
             FROM web_sessions o
            WHERE n.id = $1 AND o.id = n.id AND jsonb_array_length(o.flash) > 0
        RETURNING o.flash""", session_id)
    return list(row["flash"]) if row else []


# --- failed sign-ins -----------------------------------------------------------------

async def record_login_failure(conn: asyncpg.Connection, username: str, ip: str) -> None:
    await conn.execute("INSERT INTO login_failures (username, ip) VALUES ($1, $2)", username, ip)


async def recent_failures_for_user(conn: asyncpg.Connection, username: str, since: datetime,
                                   limit: int) -> list[datetime]:
    """Times of the newest failures for ``username`` after ``since``, newest first."""
    rows = await conn.fetch(
        "SELECT at FROM login_failures WHERE username = $1 AND at > $2 ORDER BY at DESC LIMIT $3",
        username, since, limit)
    return [r["at"] for r in rows]


async def recent_failures_for_ip(conn: asyncpg.Connection, ip: str, since: datetime,
                                 limit: int) -> list[datetime]:
    rows = await conn.fetch(
        "SELECT at FROM login_failures WHERE ip = $1 AND at > $2 ORDER BY at DESC LIMIT $3",
        ip, since, limit)
    return [r["at"] for r in rows]


async def clear_login_failures(conn: asyncpg.Connection, username: str) -> None:
    await conn.execute("DELETE FROM login_failures WHERE username = $1", username)


async def prune_login_failures(conn: asyncpg.Connection, *, older_than: timedelta) -> int:
    """Forget failures too old for lockout and for a security review (kept 30 days by the caller)."""
    status = await conn.execute("DELETE FROM login_failures WHERE at < now() - $1::interval", older_than)
    return int(status.split()[-1])


async def database_now(conn: asyncpg.Connection) -> datetime:
    """The database's clock: lockout compares times written by it, so it judges by it too."""
    return await conn.fetchval("SELECT now()")
