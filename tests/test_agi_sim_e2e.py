"""One callback end to end: AMI Originate → simulated Asterisk → our FastAGI server → IVR → PostgreSQL.

The attempt row holds the ChannelId before the Originate is sent, as the
dialer does; the simulator's citizen answers, and the IVR ties the call to the
attempt by ATTEMPT_ID/TICKET_ID and by that ChannelId.
"""
from __future__ import annotations

import asyncio
import uuid

import pytest

from callcenter.db import callbacks
from callcenter.ivr.loader import ScriptLibrary
from callcenter.ivr.session import CallbackIvr
from callcenter.sim.citizens import CitizenBook, CitizenScript, Reply
from callcenter.sim.simulator import SimConfig, Simulator
from callcenter.telephony.agi import AgiServer
from callcenter.telephony.ami import AmiLink
from callcenter.telephony.ami_originate import CallStatus
from tests.factories import insert_ticket

from .test_ami_link import link_config

BOOK = CitizenBook(by_number={
    "13800000001": CitizenScript.keys("2", "1", "2", ring_seconds=1),
    "13800000002": CitizenScript(replies=(Reply.press("1"),), hangup_after_prompts=2, ring_seconds=1),
})


@pytest.fixture
async def office(db, tmp_path):
    ivr = CallbackIvr(db.pool, ScriptLibrary.from_directory(), recordings_dir=tmp_path / "rec")
    async with AgiServer(ivr, port=0, hangup_grace_s=0.2) as agi:
        sim = Simulator(SimConfig(ami_port=0, agi_url=f"agi://127.0.0.1:{agi.port}/callback", time_scale=0.001,
                                  book=BOOK))
        await sim.start()
        try:
            async with AmiLink(link_config(sim.port)) as link:
                await link.wait_ready(5)
                yield db, agi, link
        finally:
            await sim.close()
        assert agi.stats["errors"] == 0


@pytest.mark.parametrize("number, want, outcome, cause", [
    ("13800000001", {"contacted": "no", "solved": "solved", "satisfaction": "basic"}, "answered-complete", 0),
    ("13800000002", {"contacted": "yes"}, "answered-partial", 16),
])
async def test_originated_call_is_surveyed_and_stored(office, number, want, outcome, cause):
    db, agi, link = office
    channel_id = uuid.uuid4()
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn, "T1", status="awaiting_callback", phone=number)
        attempt = await callbacks.create_attempt(conn, ticket_id, phone=number, channel_id=channel_id,
                                                 state="dialing")
    handle = link.originate(channel=f"Local/{number}@citizen-sim", context="callback-ivr", exten="s",
                            caller_id='"Xisanqi 12345" <01082345678>', timeout_ms=6000,
                            variables={"TICKET_ID": str(ticket_id), "ATTEMPT_ID": str(attempt)},
                            channel_id=str(channel_id))
    result = await asyncio.wait_for(handle.outcome, 20)
    assert await agi.drained(20)
    assert (result.status, result.reason, result.cause) == (CallStatus.ANSWERED, 4, cause)
    async with db.pool.acquire() as conn:
        got = {q: r["intent"] for q, r in (await callbacks.current_answers(conn, attempt)).items()}
        row = await conn.fetchrow("SELECT state, outcome FROM callback_attempts WHERE id = $1", attempt)
    assert got == want
    assert (row["state"], row["outcome"]) == ("answered", outcome)
