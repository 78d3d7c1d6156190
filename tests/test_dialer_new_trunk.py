"""A trunk created while the dialer runs is dialled on, whatever the claim loop does meanwhile.

Seen in CI: the housekeeping task loaded the new trunk, then waited on the PBX
for the channel guard; the claim loop, running beside it, found the trunk but
not its rate bucket yet, and the KeyError ended the dialer for good (the web
pages kept counting 0 calls placed).
"""
from __future__ import annotations

import asyncio
import logging
import random
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

from callcenter.campaigns import dialer as dialer_module
from callcenter.campaigns.dialer import Dialer, DialerOptions
from callcenter.db import campaigns as camp
from callcenter.db import dialer as queue

from .factories import insert_ticket
from .test_dialer_invariants import RecordingPbx

NOW = datetime(2024, 5, 6, 2, 30, tzinfo=timezone.utc)     # 10:30 Beijing, inside the calling windows


@dataclass
class SlowGuardPbx(RecordingPbx):
    """Answers the channel-guard question only when the test lets it."""
    guard_asked: asyncio.Event = field(default_factory=asyncio.Event)
    guard_answer: asyncio.Event = field(default_factory=asyncio.Event)

    async def global_var(self, name):
        self.guard_asked.set()
        await self.guard_answer.wait()
        return "100"


async def until(predicate, what: str, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


async def one_ticket_campaign(db, trunk: str, phone: str) -> int:
    """A new trunk, a ticket and a running campaign on it, in one transaction (one refresh sees them all)."""
    async with db.pool.acquire() as conn, conn.transaction():
        await camp.upsert_trunk(conn, trunk, "Local/{number}@citizen-sim", 4, 1000)
        await insert_ticket(conn, f"T-{trunk}", status="awaiting_callback", phone=phone)
        cid = await camp.create_campaign(conn, camp.CampaignSpec(name=trunk, trunk=trunk, max_attempts=1))
        await camp.change_state(conn, cid, "start", actor="test")
    return cid


@asynccontextmanager
async def running_dialer(db, pbx):
    """Dialer.run() as the service runs it, with short ticks; stopped however the test ends."""
    dialer = Dialer(db.pool, pbx, DialerOptions(instance="run", tick=0.01, refresh_every=0.05,
                                                reconcile_every=10**9, ivr_verdict_wait=0),
                    clock=lambda: NOW)
    running = asyncio.create_task(dialer.run())
    try:
        yield dialer, running
    finally:
        await dialer.stop(grace=0)
        await asyncio.wait_for(running, 5)


async def test_a_trunk_added_while_running_is_dialled_though_the_guard_check_is_slow(db, caplog):
    pbx = SlowGuardPbx([NOW], db.pool, random.Random(3))
    async with running_dialer(db, pbx) as (dialer, running):
        await until(lambda: dialer._ready.is_set(), "the dialer is ready")
        cid = await one_ticket_campaign(db, "new", "13800000001")
        await until(pbx.guard_asked.is_set, "the dialer asks the PBX for its channel guard")
        await asyncio.sleep(0.2)                 # claim rounds run while the answer is outstanding
        assert not running.done(), running.exception()
        pbx.guard_answer.set()
        await until(lambda: pbx.originated or running.done(), "the new trunk's call is placed")
        assert not running.done(), running.exception()
        assert [number for _, number in pbx.originated] == ["13800000001"]
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "dialer" in r.name]
        assert await db.pool.fetchval("SELECT count(*) FROM callback_attempts WHERE campaign_id = $1", cid) == 1


async def test_an_unexpected_error_in_one_claim_round_does_not_end_dialing(db, caplog, monkeypatch):
    await one_ticket_campaign(db, "sim", "13800000002")
    real_claim, failures = queue.claim_due, []

    async def claim_failing_once(*args, **kwargs):
        if not failures:
            failures.append(True)
            raise RuntimeError("a defect in the claim")
        return await real_claim(*args, **kwargs)

    monkeypatch.setattr(dialer_module.queue, "claim_due", claim_failing_once)
    pbx = RecordingPbx([NOW], db.pool, random.Random(5))
    async with running_dialer(db, pbx) as (_, running):
        await until(lambda: pbx.originated or running.done(), "the call is placed after the failed round", 15)
        assert not running.done(), running.exception()
        assert failures and [number for _, number in pbx.originated] == ["13800000002"]
        assert any("claim round failed unexpectedly" in r.getMessage() and r.exc_info for r in caplog.records)
