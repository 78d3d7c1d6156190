"""Accounts: scrypt hashes, weak passwords refused, the first admin from the CLI."""
from __future__ import annotations

import asyncio
import io

import asyncpg

from callcenter.cli import main
from callcenter.security.passwords import hash_password, verify_password


def test_hash_verifies_only_the_right_password():
    stored = hash_password("correct horse 1")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert verify_password("correct horse 1", stored)
    assert not verify_password("correct horse 2", stored)
    assert not verify_password("x", "garbage")
    assert hash_password("same pass 1") != hash_password("same pass 1")  # salted


async def test_user_add_cli(db_dsn, monkeypatch, tmp_path):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cure-pass-2024\n"))
    code = await asyncio.to_thread(main, ["user", "add", "wang", "--role", "admin", "--password-stdin"])
    assert code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cure-pass-2024\n"))
    assert await asyncio.to_thread(main, ["user", "add", "wang", "--role", "agent", "--password-stdin"]) == 3
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert await asyncio.to_thread(main, ["user", "add", "li", "--role", "agent", "--password-stdin"]) == 3
    conn = await asyncpg.connect(db_dsn)
    try:
        rows = await conn.fetch("SELECT username, role, password_hash FROM users")
    finally:
        await conn.close()
    assert [(r["username"], r["role"]) for r in rows] == [("wang", "admin")]
    assert verify_password("s3cure-pass-2024", rows[0]["password_hash"])
