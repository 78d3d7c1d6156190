"""The campaign CLI: create → start → pause → resume → stop, with the errors a script can trust."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import asyncpg
import pytest

from callcenter.cli import main
from tests.factories import insert_ticket, insert_unit


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


@pytest.fixture
async def conn(db_dsn, monkeypatch):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    connection = await asyncpg.connect(db_dsn)
    yield connection
    await connection.close()


async def test_campaign_lifecycle_from_the_cli(conn, capsys):
    await insert_unit(conn, "城市管理办公室")
    assert await cli("trunk", "add", "main", "--dial", "PJSIP/{number}@trunk", "--channels", "4", "--cps", "1") == 0
    assert await cli("campaign", "create", "十一月回访", "--trunk", "main", "--department", "城市管理办公室",
                     "--closed-from", "2026-11-01", "--closed-to", "2026-11-18", "--window", "09:00-11:30",
                     "--retry-busy", "45m") == 0
    row = await conn.fetchrow("SELECT * FROM campaigns WHERE name = '十一月回访'")
    assert row["state"] == "draft" and row["windows"] == ["09:00-11:30"] and row["retry_busy_s"] == 45 * 60
    # closed-to is inclusive: the stored bound is the start of the next office day (UTC+8).
    assert row["closed_to"] == datetime(2026, 11, 18, 16, 0, tzinfo=timezone.utc)
    for command, state in (("start", "running"), ("pause", "paused"), ("resume", "running"), ("stop", "finished")):
        assert await cli("campaign", command, "十一月回访") == 0
        assert await conn.fetchval("SELECT state FROM campaigns WHERE name = '十一月回访'") == state
    assert await cli("campaign", "resume", "十一月回访") == 3          # finished is final
    audit = await conn.fetch("SELECT action FROM audit_log WHERE object_type = 'campaign' ORDER BY id")
    assert [a["action"] for a in audit] == ["campaign.start", "campaign.pause", "campaign.resume", "campaign.stop"]
    capsys.readouterr()
    assert await cli("campaign", "status", "十一月回访") == 0
    assert "finished" in capsys.readouterr().out


async def test_bad_campaign_input_is_refused_without_writing(conn, capsys):
    assert await cli("campaign", "create", "x", "--trunk", "nope") == 3
    assert "nope" in capsys.readouterr().err
    await cli("trunk", "add", "main", "--dial", "PJSIP/{number}@trunk")
    assert await cli("campaign", "create", "x", "--trunk", "main", "--department", "不存在的科室") == 3
    assert await cli("campaign", "create", "x", "--trunk", "main", "--window", "25:00-26:00") == 2
    assert await cli("campaign", "create", "x", "--trunk", "main", "--retry-busy", "soon") == 2
    assert await cli("campaign", "create", "x", "--trunk", "main",
                     "--closed-from", "2026-11-10", "--closed-to", "2026-11-01") == 2
    assert await cli("trunk", "add", "bad", "--dial", "PJSIP/trunk") == 2
    assert await conn.fetchval("SELECT count(*) FROM campaigns") == 0
    assert await cli("campaign", "start", "ghost") == 3
    assert await cli("campaign", "create", "x", "--trunk", "main") == 0
    assert await cli("campaign", "create", "x", "--trunk", "main") == 3     # duplicate name


async def test_dnc_keeps_a_number_out_of_the_queue(conn):
    from callcenter.db import dialer
    await cli("trunk", "add", "main", "--dial", "PJSIP/{number}@trunk")
    await cli("campaign", "create", "c", "--trunk", "main", "--window", "00:00-23:59")
    await insert_ticket(conn, "T1", status="awaiting_callback", phone="13800000001")
    await insert_ticket(conn, "T2", status="awaiting_callback", phone="13800000002")
    assert await cli("dnc", "add", "138-0000-0001", "--reason", "本人要求") == 0
    cid = await conn.fetchval("SELECT id FROM campaigns")
    await cli("campaign", "start", "c")
    now = datetime.now(timezone.utc)
    await dialer.enrol(conn, cid, due_at=now)
    trunk = await conn.fetchval("SELECT id FROM trunks")
    claimed = await dialer.claim_due(conn, trunk_id=trunk, campaign_ids=[cid], limit=10, instance="t", now=now)
    assert [c.phone for c in claimed] == ["13800000002"]
