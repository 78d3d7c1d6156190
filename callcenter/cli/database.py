"""``callcenter migrate``: bring the database schema up to date."""
from __future__ import annotations

import argparse

import asyncpg

from ..db.database import describe_dsn, resolve_dsn
from ..db.migrations import MigrationError, migrate
from .common import CliError, async_handler, settings_from

ORDER = 30


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="apply pending schema migrations (schema/*.sql)",
                       description="Apply every migration in schema/ not yet recorded in schema_migrations.")
    p.set_defaults(handler=run_migrate)


@async_handler
async def run_migrate(args: argparse.Namespace) -> int:
    dsn, embedded = await resolve_dsn(settings_from(args))
    conn = await asyncpg.connect(dsn)
    try:
        applied = await migrate(conn)
    except MigrationError as exc:
        raise CliError(str(exc)) from exc
    finally:
        await conn.close()
    where = describe_dsn(dsn) + (" (embedded)" if embedded else "")
    if applied:
        for m in applied:
            print(f"applied {m.version:04d}_{m.name}")
    else:
        print("schema up to date")
    print(f"database: {where}")
    return 0
