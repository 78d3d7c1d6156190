"""The dialer's invariants under random outcomes and a moving clock (hypothesis).

A recording PBX double stands in for Asterisk here so thousands of calls can be
checked quickly; the same Dialer runs against the real simulator over TCP in the
end-to-end tests.
"""
from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from callcenter.campaigns.dialer import Dialer, DialerOptions
from callcenter.campaigns.ports import OriginateResult
from callcenter.campaigns.windows import CallingWindows
from callcenter.db import campaigns as camp
from callcenter.db import dialer as queue

from .factories import insert_ticket

WINDOWS = CallingWindows.parse(["09:00-12:00", "14:00-20:00"])
MAX_CHANNELS = 4


@dataclass
class Handle:
    sent: asyncio.Future
    result: asyncio.Future
    hangup: asyncio.Future


@dataclass
class RecordingPbx:
    """Answers Originates later, when the test says so, and checks limits as calls come in."""
    clock: list
    pool: object
    rng: random.Random
    connected: bool = True
    live: dict = field(default_factory=dict)           # number → (request, handle)
    originated: list = field(default_factory=list)     # (time, number)
    violations: list = field(default_factory=list)

    async def originate(self, request):
        loop = asyncio.get_running_loop()
        number = request.dial_string.split("/")[1].split("@")[0]
        if number in self.live:
            self.violations.append(f"second live call to {number}")
        if len(self.live) >= MAX_CHANNELS:
            self.violations.append(f"{len(self.live) + 1} channels > {MAX_CHANNELS}")
        if not WINDOWS.is_open(self.clock[0]):
            self.violations.append(f"originate at {self.clock[0]} outside the calling windows")
        handle = Handle(loop.create_future(), loop.create_future(), loop.create_future())
        handle.sent.set_result(True)
        self.live[number] = (request, handle)
        self.originated.append((self.clock[0], number))
        return handle

    async def resolve_all(self):
        for number, (request, handle) in list(self.live.items()):
            del self.live[number]
            kind = self.rng.choice(["complete", "partial", "busy", "noanswer", "invalid", "congestion"])
            if kind in ("complete", "partial"):
                async with self.pool.acquire() as conn:
                    for q in ("contacted", "solved", "satisfaction")[: 3 if kind == "complete" else 1]:
                        await conn.execute(
                            "INSERT INTO callback_answers (attempt_id, question, intent, source, digits) "
                            "VALUES ($1, $2, 'yes', 'dtmf', '1')", request.variables["ATTEMPT_ID"], q)
                handle.result.set_result(OriginateResult(True, 4))
                handle.hangup.set_result(16)
            else:
                reason, cause = {"busy": (5, 17), "noanswer": (3, 19), "invalid": (0, None),
                                 "congestion": (8, 34)}[kind]
                handle.result.set_result(OriginateResult(False, reason, cause))
        await asyncio.sleep(0.01)

    async def live_channel_ids(self):
        return {h[0].channel_id for h in self.live.values()}

    async def wait_hangup(self, channel_id):
        return asyncio.get_running_loop().create_future()     # never hangs up: only live calls are followed


@hsettings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 10_000), max_attempts=st.integers(1, 4),
       start_hour=st.integers(0, 23), shared_numbers=st.booleans())
async def test_dialer_invariants(db, seed, max_attempts, start_hour, shared_numbers):
    rng = random.Random(seed)
    async with db.pool.acquire() as conn:
        await conn.execute("TRUNCATE callback_answers, callback_attempts, campaigns, trunks, tickets CASCADE")
        await camp.upsert_trunk(conn, "sim", "Local/{number}@citizen-sim", MAX_CHANNELS, 1000)
        for i in range(12):
            phone = f"1380000{(i % 5 if shared_numbers else i):04d}"
            await insert_ticket(conn, f"T{i}", status="awaiting_callback", phone=phone)
        cid = await camp.create_campaign(conn, camp.CampaignSpec(
            name="prop", trunk="sim", max_attempts=max_attempts, daily_cap_per_number=50,
            retry_busy=timedelta(minutes=30), retry_no_answer=timedelta(hours=2)))
        await camp.change_state(conn, cid, "start", actor="test")
        clock = [datetime(2024, 5, 6, start_hour, 7, tzinfo=timezone.utc)]
        await queue.enrol(conn, cid, due_at=clock[0])

    pbx = RecordingPbx(clock, db.pool, rng)
    # No IVR behind this PBX, so no verdict to wait for after an answered call's hang-up.
    dialer = Dialer(db.pool, pbx, DialerOptions(instance="prop", refresh_every=0, reconcile_every=10**9,
                                                ivr_verdict_wait=0),
                    clock=lambda: clock[0])
    for _ in range(400):
        await dialer.step()
        await asyncio.sleep(0)
        await pbx.resolve_all()
        clock[0] += timedelta(minutes=rng.choice([1, 7, 29, 61, 180]))
        async with db.pool.acquire() as conn:
            open_work = await conn.fetchval(
                "SELECT count(*) FROM callback_attempts WHERE state IN ('pending','dialing','answered') "
                "OR (state = 'finished' AND NOT settled)")
        if open_work == 0 and not dialer.live_calls:
            break
    assert pbx.violations == []
    async with db.pool.acquire() as conn:
        rounds = await conn.fetch("SELECT ticket_id, max(round_attempt) AS n, count(*) AS c FROM callback_attempts "
                                  "GROUP BY ticket_id")
        unfinished = await conn.fetchval("SELECT count(*) FROM callback_attempts WHERE state <> 'finished' "
                                         "OR NOT settled")
        waiting = await conn.fetchval("SELECT count(*) FROM tickets WHERE status = 'awaiting_callback'")
    assert all(r["n"] <= max_attempts and r["c"] <= max_attempts for r in rounds)
    assert unfinished == 0 and waiting == 0          # every ticket reached 已回访 or 回访不成功
    assert len(pbx.originated) == sum(r["c"] for r in rounds)
