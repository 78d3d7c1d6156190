"""Migrations: applied once, in order, each whole or not at all."""
from __future__ import annotations

import asyncio
import logging
import uuid

import asyncpg
import pytest

from callcenter import cli
from callcenter.db.embedded import with_database
from callcenter.db.migrations import MigrationError, load_migrations, migrate


@pytest.fixture
async def conn(pg_server):
    """A connection to a brand-new, empty database (no template, no schema)."""
    name = f"cc_mig_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_server)
    await admin.execute(f"CREATE DATABASE {name}")
    connection = await asyncpg.connect(with_database(pg_server, name))
    yield connection
    await connection.close()
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.close()


async def tables(conn) -> set[str]:
    return {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


async def test_shipped_migrations_apply_once(conn):
    shipped = load_migrations()
    assert [m.version for m in shipped] == sorted(m.version for m in shipped)
    applied = await migrate(conn)
    assert [m.version for m in applied] == [m.version for m in shipped]
    assert {"tickets", "ticket_events", "units", "categories", "schema_migrations"} <= await tables(conn)
    before = await conn.fetch("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version")
    assert await migrate(conn) == []
    assert await conn.fetch("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version") == before


async def test_a_failing_migration_is_rolled_back_whole(conn, tmp_path):
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE first_table (id int);")
    (tmp_path / "0002_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nINSERT INTO half_done VALUES (1);\nINSERT INTO no_such_table VALUES (1);")
    (tmp_path / "0003_later.sql").write_text("CREATE TABLE later_table (id int);")
    with pytest.raises(MigrationError, match="0002_broken.*rolled back"):
        await migrate(conn, tmp_path)
    assert await tables(conn) == {"first_table", "schema_migrations"}
    assert [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")] == [1]
    # Once fixed, the rest applies and the first is not run again.
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE half_done (id int);")
    assert [m.version for m in await migrate(conn, tmp_path)] == [2, 3]
    assert await tables(conn) == {"first_table", "half_done", "later_table", "schema_migrations"}


async def test_an_edited_migration_is_reported_not_rerun(conn, tmp_path, caplog):
    path = tmp_path / "0001_first.sql"
    path.write_text("CREATE TABLE first_table (id int);")
    await migrate(conn, tmp_path)
    path.write_text("CREATE TABLE first_table (id int, extra text);")
    with caplog.at_level(logging.WARNING, logger="callcenter.db.migrations"):
        assert await migrate(conn, tmp_path) == []
    assert "0001_first changed" in caplog.text


@pytest.mark.parametrize("names, message", [
    (["0001_a.sql", "1_b.sql"], "NNNN"),
    (["0001_a.sql", "0001_b.sql"], "used twice"),
    (["0001_Upper.sql"], "NNNN"),
])
def test_badly_named_migrations_are_refused(tmp_path, names, message):
    for name in names:
        (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=message):
        load_migrations(tmp_path)


async def test_cli_migrate_reports_an_up_to_date_schema(db_dsn, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    assert await asyncio.to_thread(cli.main, ["migrate"]) == 0
    assert "schema up to date" in capsys.readouterr().out
