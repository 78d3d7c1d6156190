"""API tokens: made for one staff account, shown once, stored as a SHA-256 digest, revocable.

A token acts with its account's role.  It carries 256 random bits, so a plain
digest (not a slow KDF) is enough to make a stolen table useless: there is
nothing to guess.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import asyncpg

from .web_sessions import token_digest

TOKEN_PREFIX = "cc_"


class TokenError(ValueError):
    """No such account or token, or the account is disabled."""


@dataclass(frozen=True)
class TokenUser:
    token_id: int
    user_id: int
    username: str
    display_name: str
    role: str


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_token(conn: asyncpg.Connection, username: str, *, label: str = "",
                       created_by: str = "") -> tuple[int, str]:
    """A new token for an active account: (id, the token itself: show it once, it is not kept)."""
    token = new_token()
    async with conn.transaction():
        user_id = await conn.fetchval("SELECT id FROM users WHERE username = $1 AND active", username)
        if user_id is None:
            raise TokenError(f"用户 {username!r} 不存在或已停用")
        token_id = await conn.fetchval(
            "INSERT INTO api_tokens (user_id, label, token_hash, created_by) VALUES ($1, $2, $3, $4) RETURNING id",
            user_id, label, token_digest(token), created_by)
        await conn.execute(
            """INSERT INTO audit_log (actor, action, object_type, object_id, detail)
               VALUES ($1, 'api_token.create', 'api_token', $2, $3)""",
            created_by or "cli", str(token_id), {"user": username, "label": label})
    return token_id, token


async def user_for_token(conn: asyncpg.Connection, token: str) -> TokenUser | None:
    """The live token's account (and mark the token used), or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = await conn.fetchrow(
        """UPDATE api_tokens k SET last_used_at = now()
             FROM users u
            WHERE k.token_hash = $1 AND k.revoked_at IS NULL AND u.id = k.user_id AND u.active
        RETURNING k.id, u.id AS user_id, u.username, u.display_name, u.role""", token_digest(token))
    if row is None:
        return None
    return TokenUser(row["id"], row["user_id"], row["username"], row["display_name"], row["role"])


async def list_tokens(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT k.id, u.username, k.label, k.created_at, k.last_used_at, k.revoked_at
             FROM api_tokens k JOIN users u ON u.id = k.user_id ORDER BY k.id""")


async def revoke_token(conn: asyncpg.Connection, token_id: int, *, actor: str) -> None:
    async with conn.transaction():
        status = await conn.execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", token_id)
        if not status.endswith(" 1"):
            raise TokenError(f"令牌 {token_id} 不存在或已吊销")
        await conn.execute(
            """INSERT INTO audit_log (actor, action, object_type, object_id, detail)
               VALUES ($1, 'api_token.revoke', 'api_token', $2, '{}'::jsonb)""", actor, str(token_id))
