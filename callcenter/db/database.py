"""One asyncpg pool per process, opened once and closed cleanly.

``open_database(settings)`` picks the server: ``settings.dsn`` when given,
otherwise the embedded PostgreSQL under ``settings.home``.  It creates the
``callcenter`` database on first use and applies pending migrations.
"""
from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator

import asyncpg

from ..config import Settings
from .embedded import DATABASE_NAME, start_embedded, with_database
from .fair_pool import create_fair_pool
from .migrations import migrate

log = logging.getLogger(__name__)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release a pooled connection without asyncpg's reset query (one round trip per acquire).

    The reset undoes session state (SET, LISTEN, session advisory locks, open cursors), and this code
    keeps none on pooled connections: no session SET, advisory locks only of the ``_xact`` kind, cursors
    only inside transactions, no LISTEN (one would need a connection of its own, never given back);
    tests/test_pool_session_state.py keeps it so.  asyncpg still rolls back a transaction left open
    and drops Python-side listeners before this runs.  A call acquires a connection about ten times,
    so the reset was about a third of the service's database round trips.
    """


async def _create_pool(dsn: str, min_size: int, max_size: int, *, durable_commits: bool = True) -> asyncpg.Pool:
    settings = None if durable_commits else {"synchronous_commit": "off"}
    return await create_fair_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection,
                                  reset=_keep_session, server_settings=settings)


@dataclass
class Database:
    pool: asyncpg.Pool
    dsn: str
    embedded: bool
    side_pools: list[asyncpg.Pool] = field(default_factory=list)

    async def side_pool(self, min_size: int, max_size: int, *, durable_commits: bool = True) -> asyncpg.Pool:
        """Connections of their own for one job that must not queue behind the main pool's users
        (closed with the database).

        ``durable_commits=False``: a commit returns before its WAL is flushed to disk
        (``synchronous_commit = off``): at once visible to everyone, and safe from the service's
        own crash, but the last fraction of a second of such commits is lost if PostgreSQL itself
        crashes.  Only for writes that reconciliation derives again from durable state.
        """
        pool = await _create_pool(self.dsn, min_size, max_size, durable_commits=durable_commits)
        self.side_pools.append(pool)
        return pool

    async def close(self) -> None:
        for pool in self.side_pools:
            await pool.close()
        self.side_pools.clear()
        await self.pool.close()


def describe_dsn(dsn: str) -> str:
    """A DSN with any password removed, fit for logs and the terminal."""
    if "@" not in dsn:
        return dsn
    scheme, _, rest = dsn.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


async def ensure_database(server_dsn: str, name: str) -> str:
    """Create database ``name`` on the server if missing; return its DSN."""
    conn = await asyncpg.connect(server_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # Identifiers cannot be bound as parameters; quote_ident makes the name safe.
            quoted = await conn.fetchval("SELECT quote_ident($1)", name)
            await conn.execute(f"CREATE DATABASE {quoted}")
    finally:
        await conn.close()
    return with_database(server_dsn, name)


async def resolve_dsn(settings: Settings, database: str | None = None) -> tuple[str, bool]:
    """The DSN to use and whether it is the embedded server.

    ``database`` names a database of its own on the same server (the demo
    uses one, so it never touches the office's real ledger).
    """
    if settings.dsn and database is None:
        return settings.dsn, False
    server = settings.dsn or start_embedded(settings.pgdata)
    return await ensure_database(server, database or DATABASE_NAME), not settings.dsn


async def drop_database(settings: Settings, database: str) -> None:
    """Drop a scratch database (the demo's) so the next run starts from nothing."""
    await drop_database_on(settings.dsn or start_embedded(settings.pgdata), database)


async def drop_database_on(server_dsn: str, name: str) -> None:
    """Drop database ``name`` on the server of ``server_dsn``, sessions and all (scratch databases only)."""
    conn = await asyncpg.connect(with_database(server_dsn, "postgres"))
    try:
        quoted = await conn.fetchval("SELECT quote_ident($1)", name)   # identifiers cannot be bound
        await conn.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        await conn.close()


async def connect(settings: Settings, *, apply_migrations: bool = True, database: str | None = None) -> Database:
    dsn, embedded = await resolve_dsn(settings, database)
    if apply_migrations:
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
    pool = await _create_pool(dsn, settings.db_pool_min, settings.db_pool_max)
    log.info("database ready: %s%s", describe_dsn(dsn), " (embedded)" if embedded else "")
    return Database(pool=pool, dsn=dsn, embedded=embedded)


@asynccontextmanager
async def open_database(settings: Settings, *, apply_migrations: bool = True,
                        database: str | None = None) -> AsyncIterator[Database]:
    db = await connect(settings, apply_migrations=apply_migrations, database=database)
    try:
        yield db
    finally:
        await db.close()
