"""The dialer writes each call's end on connections of its own (Database.side_pool).

Until a call's end is written the trunk counts its channel as busy, so that
write must neither queue behind the IVR's answers in the main pool nor wait
for a disk flush of its own; what it writes, reconciliation derives again.
"""
from __future__ import annotations

import asyncio
import random
from datetime import datetime, timezone

import asyncpg

from callcenter.campaigns.dialer import Dialer, DialerOptions
from callcenter.db import campaigns as camp
from callcenter.db import dialer as queue
from callcenter.db.database import Database

from .factories import insert_ticket
from .test_dialer_invariants import RecordingPbx

NOW = datetime(2024, 5, 6, 2, 30, tzinfo=timezone.utc)     # 10:30 Beijing, inside the calling windows


async def test_a_side_pool_may_skip_the_flush_per_commit_and_closes_with_the_database(db_dsn):
    main = Database(pool=await asyncpg.create_pool(db_dsn, min_size=1, max_size=1),
                    dsn=db_dsn, embedded=True)
    durable = await main.side_pool(1, 1)
    unflushed = await main.side_pool(1, 2, durable_commits=False)
    assert await durable.fetchval("SHOW synchronous_commit") == "on"
    assert await unflushed.fetchval("SHOW synchronous_commit") == "off"
    await main.close()
    assert durable.is_closing() and unflushed.is_closing() and main.pool.is_closing()


async def test_calls_end_on_the_dialers_own_connections_while_the_main_pool_is_taken(db):
    async with db.pool.acquire() as conn:
        await camp.upsert_trunk(conn, "sim", "Local/{number}@citizen-sim", 4, 1000)
        for i in range(3):
            await insert_ticket(conn, f"T{i}", status="awaiting_callback", phone=f"1380000{i:04d}")
        cid = await camp.create_campaign(conn, camp.CampaignSpec(name="own", trunk="sim", max_attempts=1))
        await camp.change_state(conn, cid, "start", actor="test")
        await queue.enrol(conn, cid, due_at=NOW)
    calls_db = Database(pool=db.pool, dsn=db.dsn, embedded=True)
    calls_pool = await calls_db.side_pool(1, 2, durable_commits=False)
    pbx = RecordingPbx([NOW], calls_pool, random.Random(7))
    dialer = Dialer(db.pool, pbx, DialerOptions(instance="own", refresh_every=0, reconcile_every=10**9,
                                                ivr_verdict_wait=0), clock=lambda: NOW, calls_pool=calls_pool)
    try:
        await dialer.step()
        assert len(pbx.live) == 3
        held = [await db.pool.acquire() for _ in range(db.pool.get_max_size())]   # nobody else gets one
        try:
            await pbx.resolve_all()
            for _ in range(200):
                if not dialer.live_calls:
                    break
                await asyncio.sleep(0.02)
            assert dialer.live_calls == 0
            states = await calls_pool.fetch("SELECT state, settled FROM callback_attempts")
        finally:
            for conn in held:
                await db.pool.release(conn)
    finally:
        await calls_pool.close()
    assert [(s["state"], s["settled"]) for s in states] == [("finished", True)] * 3
