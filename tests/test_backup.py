"""Backup → restore round trip on the embedded server: every table's rows come back identical."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from callcenter.cli import main
from callcenter.db import backup as bk
from callcenter.db.embedded import with_database
from callcenter.db.ticket_queries import record_audit

from . import scoring_factories as f

KEY_TABLES = ("tickets", "callback_attempts", "callback_answers", "audit_log", "ticket_scores", "ticket_events")


async def fill(pool) -> None:
    """A small but complete ledger: tickets, attempts, versioned answers, flow events, audit rows."""
    async with pool.acquire() as conn:
        dept = await f.unit(conn, "城管科")
        start = datetime(2024, 5, 1, 9, tzinfo=timezone.utc)
        for i in range(25):
            tid = await f.ticket(conn, called_at=start + timedelta(hours=i), closed_at=start + timedelta(days=2),
                                 department_id=dept, phone=f"1380000{i:04d}", title=f"工单 {i} 楼道堆物")
            attempt_id = await f.attempt(conn, tid, 1, answered_at=start + timedelta(days=3),
                                         answers=f.own("yes", "solved" if i % 3 else "unsolved", "satisfied"))
            if i % 5 == 0:
                await f.answer(conn, attempt_id, "satisfaction", "basic", version=2, transcript="基本满意吧")
            await conn.execute(
                "INSERT INTO ticket_events (ticket_id, actor, action, to_state, reason) VALUES ($1, 'tester', 'sign', 'signed', '签收')",
                tid)
            await record_audit(conn, "tester", "ticket.export", object_type="ticket", object_id=str(tid),
                               detail={"rows": i, "note": "导出"})


async def snapshot(dsn: str) -> dict[str, object]:
    """Row count of every table in public, plus an md5 over the full contents of the key tables."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = [r["t"] for r in await conn.fetch(
            "SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        out: dict[str, object] = {}
        for t in tables:
            out[f"count:{t}"] = await conn.fetchval(f"SELECT count(*) FROM {t}")
        for t in KEY_TABLES:
            out[f"md5:{t}"] = await conn.fetchval(f"SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {t} x")
        return out
    finally:
        await conn.close()


@pytest.fixture
async def scratch_dsn(pg_server):
    """DSN of a database name that does not exist yet; dropped afterwards with anything renamed from it."""
    name = f"cc_restore_{uuid.uuid4().hex[:8]}"
    yield with_database(pg_server, name)
    conn = await asyncpg.connect(pg_server)
    try:
        for r in await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", name + "%"):
            quoted = await conn.fetchval("SELECT quote_ident($1)", r["datname"])
            await conn.execute(f"DROP DATABASE {quoted} WITH (FORCE)")
    finally:
        await conn.close()


async def test_tools_match_the_server_version(pg_server):
    major = await bk.server_major(pg_server)
    for name in ("pg_dump", "pg_restore"):
        tool = bk.find_tool(name, major)
        assert tool.name == name and bk.tool_major(tool) == major


@pytest.mark.parametrize("server, expected", [(16, "/b/16"), (17, "/c/18"), (18, "/c/18"), (None, "/a/15")])
def test_choose_tool_prefers_same_major_then_oldest_newer(server, expected):
    candidates = [(Path("/a/15"), 15), (Path("/d/19"), 19), (Path("/c/18"), 18), (Path("/b/16"), 16)]
    assert str(bk.choose_tool(candidates, server, "pg_dump")) == expected


def test_choose_tool_refuses_older_clients_and_none():
    with pytest.raises(bk.BackupError, match="postgresql-client-17"):
        bk.choose_tool([(Path("/a/15"), 15), (Path("/b/16"), 16)], 17, "pg_dump")
    with pytest.raises(bk.BackupError, match="not found"):
        bk.choose_tool([], 16, "pg_dump")


async def test_round_trip_restores_every_row(db, tmp_path, scratch_dsn):
    await fill(db.pool)
    before = await snapshot(db.dsn)
    assert before["count:tickets"] == 25 and before["count:audit_log"] >= 25
    assert before["count:callback_answers"] == 80 and before["count:ticket_scores"] == 25
    archive = tmp_path / "ledger.dump"
    assert await bk.backup(db.dsn, archive) > 0
    assert not list(tmp_path.glob(".*partial"))

    result = await bk.restore(scratch_dsn, archive)
    assert result.replaced is None
    assert await snapshot(scratch_dsn) == before


async def test_restore_refuses_non_empty_database_without_force(db, tmp_path, scratch_dsn):
    await fill(db.pool)
    archive = tmp_path / "ledger.dump"
    await bk.backup(db.dsn, archive)
    await bk.restore(scratch_dsn, archive)
    conn = await asyncpg.connect(scratch_dsn)
    try:
        await conn.execute("DELETE FROM audit_log")          # the "current" ledger differs from the backup
    finally:
        await conn.close()

    with pytest.raises(bk.DatabaseNotEmpty):
        await bk.restore(scratch_dsn, archive)
    assert (await snapshot(scratch_dsn))["count:audit_log"] == 0       # untouched

    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    result = await bk.restore(scratch_dsn, archive, force=True, now=stamp)
    name = bk.database_name(scratch_dsn)
    assert result.replaced == f"{name}_pre_restore_20260102030405"
    assert await snapshot(scratch_dsn) == await snapshot(db.dsn)
    kept = await snapshot(with_database(scratch_dsn, result.replaced))
    assert kept["count:audit_log"] == 0                                # the replaced ledger is kept, not dropped


async def test_force_restore_refuses_while_the_service_is_connected(db, tmp_path):
    await fill(db.pool)
    archive = tmp_path / "ledger.dump"
    await bk.backup(db.dsn, archive)
    async with db.pool.acquire() as conn:                        # the "service" holds a connection
        with pytest.raises(bk.BackupError, match="connected"):
            await bk.restore(db.dsn, archive, force=True)
        assert await conn.fetchval("SELECT count(*) FROM tickets") == 25
        leftovers = await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname LIKE $1",
                                        bk.database_name(db.dsn) + "\\_%")
    assert leftovers == 0


async def test_bad_archive_is_rejected_before_anything_is_touched(tmp_path, scratch_dsn, pg_server):
    junk = tmp_path / "not-a-dump.dump"
    junk.write_bytes(b"PGDMP? no, just text\n" * 10)
    with pytest.raises(bk.BadArchive):
        await bk.restore(scratch_dsn, junk)
    with pytest.raises(bk.BadArchive):
        await bk.restore(scratch_dsn, tmp_path / "missing.dump")
    conn = await asyncpg.connect(pg_server)
    try:
        leftovers = await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname LIKE $1",
                                        bk.database_name(scratch_dsn) + "%")
    finally:
        await conn.close()
    assert leftovers == 0


async def test_failed_restore_leaves_no_scratch_database(db, tmp_path, scratch_dsn, pg_server, monkeypatch):
    await fill(db.pool)
    archive = tmp_path / "ledger.dump"
    await bk.backup(db.dsn, archive)

    def broken_swap(*args, **kwargs):
        raise bk.BackupError("simulated failure before the swap")
    monkeypatch.setattr(bk, "_swap", broken_swap)
    with pytest.raises(bk.BackupError):
        await bk.restore(scratch_dsn, archive)
    conn = await asyncpg.connect(pg_server)
    try:
        names = [r[0] for r in await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1",
                                                bk.database_name(scratch_dsn) + "%")]
    finally:
        await conn.close()
    assert names == []


def test_cli_backup_and_restore_exit_codes(db_dsn, tmp_path, monkeypatch, pg_server):
    archive = tmp_path / "cli.dump"
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    assert main(["backup", str(archive)]) == 0
    assert archive.stat().st_size > 0
    assert main(["restore", str(archive)]) == 3                 # the test database is not empty
    junk = tmp_path / "junk.dump"
    junk.write_text("nope")
    assert main(["restore", str(junk)]) == 3
    assert main(["backup", str(tmp_path)]) == 1                 # a directory is not a file
    assert main(["restore"]) == 2


def test_cli_restore_into_a_database_that_does_not_exist_yet(db_dsn, scratch_dsn, tmp_path, monkeypatch):
    archive = tmp_path / "cli.dump"
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    assert main(["backup", str(archive)]) == 0
    monkeypatch.setenv("CALLCENTER_DSN", scratch_dsn)
    assert main(["restore", str(archive)]) == 0
    assert asyncio.run(bk.table_count(scratch_dsn)) == asyncio.run(bk.table_count(db_dsn)) > 20
