"""Staff accounts (admin / supervisor / agent)."""
from __future__ import annotations

import asyncpg

ROLES = ("admin", "supervisor", "agent")


class UserExists(ValueError):
    pass


async def add_user(conn: asyncpg.Connection, username: str, role: str, password_hash: str,
                   display_name: str = "") -> int:
    if role not in ROLES:
        raise ValueError(f"未知角色 {role!r}; 可选: {', '.join(ROLES)}")
    try:
        return await conn.fetchval(
            "INSERT INTO users (username, role, password_hash, display_name) VALUES ($1, $2, $3, $4) RETURNING id",
            username, role, password_hash, display_name)
    except asyncpg.UniqueViolationError:
        raise UserExists(f"用户 {username} 已存在") from None


async def get_user(conn: asyncpg.Connection, username: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM users WHERE username = $1 AND active", username)


async def list_users(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, username, display_name, role, active, created_at FROM users ORDER BY id")
