"""The pool skips asyncpg's reset query on release (db/database._keep_session): nothing may leave session state.

A session-level SET, a session advisory lock or a LISTEN on a pooled connection
would leak into whichever task acquires that connection next.  These checks
read the source, so such a statement fails here, with the reason, instead of
in production.
"""
from __future__ import annotations

import re
from pathlib import Path

import asyncpg

from callcenter.db.database import _init_connection, _keep_session

ROOT = Path(__file__).resolve().parent.parent / "callcenter"
# A statement that is a session-level setting (SET x = …, SET x TO …, SET SESSION …), not SET LOCAL and not
# the SET of an UPDATE.
_SESSION_SET = re.compile(r"""(execute|fetch\w*)\(\s*f?["']+\s*SET\s+(?!LOCAL\b)(SESSION\s+)?[a-z_.]+\s*(=|TO\b)""",
                          re.IGNORECASE)
_SESSION_LOCK = re.compile(r"pg_(try_)?advisory_lock(_shared)?\s*\(")
_LISTEN = re.compile(r"""["']\s*LISTEN\s|\.add_listener\(\s*["']""")
# Migrations run on a connection of their own (asyncpg.connect), never on the pool's.
_OWN_CONNECTION = {ROOT / "db" / "migrations.py"}


def _offences(pattern: re.Pattern) -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if path in _OWN_CONNECTION:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT.parent)}:{number}: {line.strip()}")
    return found


def test_no_session_state_on_pooled_connections():
    why = " would survive the release of a pooled connection (the pool does not reset; see _keep_session)"
    assert _offences(_SESSION_SET) == [], "session SET" + why + ": use SET LOCAL inside a transaction"
    assert _offences(_SESSION_LOCK) == [], "session advisory lock" + why + ": use pg_advisory_xact_lock"
    assert _offences(_LISTEN) == [], "LISTEN" + why + ": give it a connection of its own"


def test_the_patterns_catch_what_they_are_for():
    assert _SESSION_SET.search('await conn.execute("SET statement_timeout = 0")')
    assert _SESSION_SET.search("conn.execute('SET SESSION work_mem TO 1')")
    assert not _SESSION_SET.search('conn.execute("SET LOCAL statement_timeout = 0")')
    assert not _SESSION_SET.search('conn.execute("UPDATE t SET a = 1")')
    assert not _SESSION_SET.search('"SET name = excluded.name", day, name)')
    assert _SESSION_LOCK.search("SELECT pg_advisory_lock($1)")
    assert not _SESSION_LOCK.search("SELECT pg_advisory_xact_lock($1, $2)")
    assert _LISTEN.search('await conn.add_listener("feed", on_note)')


async def test_a_released_connection_still_loses_an_open_transaction(db_dsn):
    """asyncpg's own part of the release (rollback of a transaction left open) still runs without the reset."""
    pool = await asyncpg.create_pool(db_dsn, min_size=1, max_size=1, init=_init_connection, reset=_keep_session)
    try:
        async with pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            await conn.execute("CREATE TEMP TABLE pool_probe (x int)")
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('pg_temp.pool_probe')") is None
    finally:
        await pool.close()
