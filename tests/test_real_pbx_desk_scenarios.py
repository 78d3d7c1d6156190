"""人工回访's 拨打 on the real Asterisk 22 when the call does not go to plan: the agent's phone is busy or not
picked up, the citizen is busy, unallocated or slow and the agent gives up, the citizen hangs up first, the
recording is played and audited, and the service restarts while a desk call is up.

Agents are scripted in tests/fixtures/real_pbx/test-extensions.conf ([desk-agent-*]); each test picks
one through CALLCENTER_AGENT_INTERFACE.  Every wait is bounded and short: a call here takes seconds.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from callcenter.db import desk as desk_repo
from callcenter.desk.dialing import call_status_label
from callcenter.telephony.ami import AmiLink
from callcenter.telephony.pbx import AmiPbx
from callcenter.web.desk import dial as desk_dial

from .desk_call_outcomes import AGENTS, CITIZENS
from .factories import insert_ticket
from .test_ami_link import link_config
from .test_desk_dial import _setup
from .test_web_helpers import make_app, open_client, sign_in, users  # noqa: F401  (fixture)

pytestmark = pytest.mark.real_asterisk


class Dialer:
    def __init__(self, pbx):
        self.pbx = pbx


class Desk:
    """One service (web app + AMI link) and the agent signed in to its console."""

    def __init__(self, db, settings, real_asterisk, tmp_path, how: str, user: str = "agent"):
        self.db, self.pbx_proc, self.user = db, real_asterisk, user
        self.settings = replace(settings, recordings_dir=tmp_path / "recordings",
                                agent_interface=f"Local/{{username}}@{how}")
        self.link = self.client = None
        self.token = ""

    async def start(self) -> "Desk":
        self.link = AmiLink(link_config(self.pbx_proc.ami_port, ping_interval=1.0))
        await self.link.start()
        await self.link.wait_ready(10)
        self.client = await open_client(make_app(self.db, self.settings, dialer=Dialer(AmiPbx(self.link))))
        self.token = await sign_in(self.client, self.user)
        return self

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
        if self.link is not None:
            await self.link.close()

    async def claim(self) -> int:
        await self.client.post("/desk/claim", data={"csrf_token": self.token})
        page = await (await self.client.get("/desk")).text()
        return int(page.split('data-item="')[1].split('"')[0])

    async def dial(self, item_id: int) -> str:
        return await (await self.client.post(f"/desk/{item_id}/dial", data={"csrf_token": self.token})).text()

    async def record(self, item_id: int, outcome: str, **answers) -> str:
        data = {"csrf_token": self.token, "outcome": outcome, "note": "", **answers}
        return await (await self.client.post(f"/desk/{item_id}/record", data=data)).text()

    async def row(self, item_id: int):
        async with self.db.pool.acquire() as conn:
            return await conn.fetchrow("SELECT * FROM desk_items WHERE id = $1", item_id)

    async def until_free(self, item_id: int, within: float) -> float:
        """Seconds until the item's call is over (call_live false); fails after ``within``."""
        start = time.monotonic()
        while time.monotonic() - start < within:
            if not (await self.row(item_id))["call_live"]:
                return time.monotonic() - start
            await asyncio.sleep(0.05)
        raise AssertionError(f"the desk call was still live after {within}s\n{self.pbx_proc.log_tail()}")


async def _desk(db, settings, real_asterisk, tmp_path, how: str, phone: str) -> tuple[Desk, int]:
    await _setup(db, phone=phone)
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE trunks SET dial_template = 'Local/{number}@citizens'")
    desk = await Desk(db, settings, real_asterisk, tmp_path, how).start()
    return desk, await desk.claim()


def _dialled(real_asterisk, phone: str) -> bool:
    return f"Local/{phone}@citizens" in real_asterisk.messages()


async def test_agents_phone_busy_frees_the_item_and_calls_nobody(db, settings, users, real_asterisk, tmp_path):  # noqa: F811
    desk, item_id = await _desk(db, settings, real_asterisk, tmp_path, "desk-agent-busy", "13900000611")
    try:
        assert "正在呼叫" in await desk.dial(item_id)
        assert await desk.until_free(item_id, 5) < 3
        row = await desk.row(item_id)
        assert not _dialled(real_asterisk, "13900000611")
        assert row["call_status"] == AGENTS["desk-agent-busy"][1]
        assert "您的电话占线" in await (await desk.client.get("/desk")).text()
        # nobody was called: no call waits for its form, and the agent may press 拨打 again
        assert row["call_started_at"] is None and row["call_recording"] is None
        assert "正在呼叫" in await desk.dial(item_id)
        await desk.until_free(item_id, 5)
    finally:
        await desk.stop()


async def test_agents_phone_not_picked_up_ends_at_the_ring_timeout(db, settings, users, real_asterisk, tmp_path,  # noqa: F811
                                                                   monkeypatch):
    monkeypatch.setattr(desk_dial, "RING_MS", 2000)
    desk, item_id = await _desk(db, settings, real_asterisk, tmp_path, "desk-agent-ring", "13900000612")
    try:
        assert "正在呼叫" in await desk.dial(item_id)
        took = await desk.until_free(item_id, 8)
        assert 1.5 < took < 5, took
        assert not _dialled(real_asterisk, "13900000612")
        row = await desk.row(item_id)
        assert row["call_started_at"] is None and row["call_status"] == AGENTS["desk-agent-ring"][1]
    finally:
        await desk.stop()


@pytest.mark.parametrize("phone", sorted(CITIZENS))      # busy, congestion, rejected, not allocated
async def test_citizen_not_reached_after_the_agent_answered(db, settings, users, real_asterisk, tmp_path,  # noqa: F811
                                                            phone):
    desk, item_id = await _desk(db, settings, real_asterisk, tmp_path, "desk-agent-stay", phone)
    try:
        assert "正在呼叫" in await desk.dial(item_id)
        assert await desk.until_free(item_id, 6) < 3       # not the agent's 5 s: the failed Dial ends the call
        assert _dialled(real_asterisk, phone)
        status = CITIZENS[phone][1]
        assert (await desk.row(item_id))["call_status"] == status
        assert call_status_label(status) in await (await desk.client.get("/desk")).text()
        # the citizen's network was called: that call is recorded before another is made (one attempt each)
        assert "请先登记" in await desk.dial(item_id)
        outcome = "busy" if status == "BUSY" else "invalid-number"
        assert "回访结果已保存" in await desk.record(item_id, outcome)
        async with db.pool.acquire() as conn:
            attempt = await conn.fetchrow("SELECT outcome, dialed_at, ended_at FROM callback_attempts "
                                          "WHERE desk_kind = 'agent'")
        assert attempt["outcome"] == outcome and attempt["dialed_at"] < attempt["ended_at"]
    finally:
        await desk.stop()


async def test_agent_hanging_up_while_the_citizen_rings_ends_the_call(db, settings, users, real_asterisk, tmp_path):  # noqa: F811
    desk, item_id = await _desk(db, settings, real_asterisk, tmp_path, "desk-agent-quit", "13900000202")
    try:
        assert "正在呼叫" in await desk.dial(item_id)
        assert await desk.until_free(item_id, 8) < 4       # not the citizen's 60 s of ringing
        assert _dialled(real_asterisk, "13900000202")
        channels = real_asterisk.cli("core show channels concise")
        assert "13900000202" not in channels, channels       # the citizen's leg went with the agent's
        assert (await desk.row(item_id))["call_status"] == "CANCEL"
    finally:
        await desk.stop()


async def test_citizen_hanging_up_first_ends_the_call_and_keeps_the_recording(db, settings, users,  # noqa: F811
                                                                              real_asterisk, tmp_path):
    desk, item_id = await _desk(db, settings, real_asterisk, tmp_path, "desk-agent-stay", "13900000104")
    try:
        assert "正在呼叫" in await desk.dial(item_id)
        assert await desk.until_free(item_id, 6) < 3.5     # the citizen left after 0.5 s; the agent would stay 5 s
        assert (await desk.row(item_id))["call_status"] == "ANSWER"
        recording = Path((await desk.row(item_id))["call_recording"])
        for _ in range(50):
            if recording.exists() and recording.stat().st_size > 44:
                break
            await asyncio.sleep(0.1)
        assert recording.exists() and recording.stat().st_size > 44, real_asterisk.log_tail()
    finally:
        await desk.stop()


async def test_the_recording_plays_where_the_page_links_it_and_each_listen_is_audited(  # noqa: F811
        db, settings, users, real_asterisk, tmp_path):
    desk, item_id = await _desk(db, settings, real_asterisk, tmp_path, "agents", "13900000100")
    try:
        assert "正在呼叫" in await desk.dial(item_id)
        await desk.until_free(item_id, 8)
        recording = Path((await desk.row(item_id))["call_recording"])
        for _ in range(50):
            if recording.exists() and recording.stat().st_size > 44:
                break
            await asyncio.sleep(0.1)
        saved = await desk.record(item_id, "answered-complete", contacted="yes", solved="solved",
                                  satisfaction="satisfied")
        assert "回访结果已保存" in saved
        async with db.pool.acquire() as conn:
            attempt = await conn.fetchval("SELECT id FROM callback_attempts WHERE desk_kind = 'agent'")
            answer = await conn.fetchval("SELECT id FROM callback_answers WHERE attempt_id = $1 LIMIT 1", attempt)
        await desk.client.post("/logout", data={"csrf_token": desk.token})
        await sign_in(desk.client, "supervisor")
        grade = await (await desk.client.get(f"/desk/qa/desk/{attempt}")).text()
        assert f"/desk/qa/desk/{attempt}/recording" in grade
        for url in (f"/desk/qa/desk/{attempt}/recording", f"/calls/{attempt}/recordings/{answer}"):
            played = await desk.client.get(url)
            assert played.status == 200 and played.content_type == "audio/wav", url
            assert await played.read() == recording.read_bytes()
        async with db.pool.acquire() as conn:
            listens = await conn.fetchval(
                "SELECT count(*) FROM audit_log WHERE action = 'recording.listen' AND actor = 'supervisor' "
                "AND object_id = $1", str(attempt))
        assert listens == 2
    finally:
        await desk.stop()


async def test_a_restart_during_a_desk_call_follows_it_to_its_end(db, settings, users, real_asterisk, tmp_path):  # noqa: F811
    desk, item_id = await _desk(db, settings, real_asterisk, tmp_path, "desk-agent-stay", "13900000100")
    try:
        assert "正在呼叫" in await desk.dial(item_id)
        await asyncio.sleep(1.5)                           # the agent answered, the citizen is bridged
        started = time.monotonic()
        await desk.stop()                                  # the service stops; the call goes on in Asterisk
        assert (await desk.row(item_id))["call_live"], "a stop freed the item of a call still up"
        desk = await Desk(db, settings, real_asterisk, tmp_path, "desk-agent-stay").start()
        assert "正在通话中" in await desk.dial(item_id)       # no second call to the citizen meanwhile
        await desk.until_free(item_id, 8)
        assert time.monotonic() - started > 2.5            # freed at the hang-up (agent leaves at ~5 s), not at start
    finally:
        await desk.stop()


async def test_an_agent_interface_that_does_not_exist_frees_the_item_and_says_so(db, settings, users,  # noqa: F811
                                                                                  real_asterisk, tmp_path):
    desk, item_id = await _desk(db, settings, real_asterisk, tmp_path, "no-such-context", "13900000614")
    try:
        await desk.dial(item_id)
        assert await desk.until_free(item_id, 5) < 3
        row = await desk.row(item_id)
        assert row["call_status"] == "agent-unreachable" and row["call_started_at"] is None
        assert not _dialled(real_asterisk, "13900000614")
        assert "您的电话无法接通" in await (await desk.client.get("/desk")).text()
    finally:
        await desk.stop()


async def test_a_full_trunk_calls_nobody_and_says_so(db, settings, users, real_asterisk, tmp_path):  # noqa: F811
    first, first_item = await _desk(db, settings, real_asterisk, tmp_path, "desk-agent-stay", "13900000100")
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE trunks SET max_channels = 1")
        ticket = await insert_ticket(conn, "T2", status="callback_failed", phone="13900000615")
        await desk_repo.enqueue(conn, ticket, "unreached", campaign_id=await conn.fetchval("SELECT id FROM campaigns"))
    second = await Desk(db, settings, real_asterisk, tmp_path, "desk-agent-stay", "supervisor").start()
    try:
        assert "正在呼叫" in await first.dial(first_item)
        await asyncio.sleep(1.0)                          # the first call holds the trunk's one channel
        second_item = await second.claim()
        assert "正在呼叫" in await second.dial(second_item)
        await second.until_free(second_item, 8)           # [desk-callback] plays congestion to the agent, 5 s
        row = await second.row(second_item)
        assert row["call_status"] == "not-dialled" and row["call_started_at"] is None
        assert not _dialled(real_asterisk, "13900000615")
        assert "外呼线路已满" in await (await second.client.get("/desk")).text()
        await first.until_free(first_item, 8)
        assert (await first.row(first_item))["call_status"] == "ANSWER"
    finally:
        await second.stop()
        await first.stop()


async def test_asterisk_restarting_mid_call_frees_the_item_once_the_link_is_back(db, settings, users,  # noqa: F811
                                                                                 real_asterisk, tmp_path):
    """Last in the module: it restarts the PBX.  The AMI link drops with the call; the item stays in a call
    until the link is back and the PBX says the channel is gone — never freed on a guess."""
    desk, item_id = await _desk(db, settings, real_asterisk, tmp_path, "desk-agent-stay", "13900000100")
    try:
        assert "正在呼叫" in await desk.dial(item_id)
        await asyncio.sleep(1.5)
        real_asterisk.cli("core restart now")
        await asyncio.to_thread(real_asterisk.wait_gone_then_booted, 30)
        await desk.link.wait_ready(15)
        await desk.until_free(item_id, 10)
        row = await desk.row(item_id)
        assert row["call_started_at"] is not None                # the citizen was called: the form is due
        assert "请先登记" in await desk.dial(item_id)
    finally:
        await desk.stop()
