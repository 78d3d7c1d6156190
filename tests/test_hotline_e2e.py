"""The hotline end to end over real TCP: simulator (AMI) → AmiLink → HotlineService → PostgreSQL → web.

A caller rings in and the signed-in agent's console websocket gets the
screen-pop with the caller's history; the agent writes a counseling record;
an abandoned call is counted; a "press 1" becomes a callback task.
"""
from __future__ import annotations

import asyncio
import inspect
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import pytest

from callcenter.db import hotline as repo
from callcenter.hotline.service import HotlineService
from callcenter.sim.queues import AgentScript, CallerScript, QueueConfig, QueueEngine
from callcenter.sim.simulator import SimConfig, Simulator
from callcenter.telephony.ami import AmiLink

from .factories import insert_ticket
from .test_ami_link import link_config
from .test_web_helpers import make_app, open_client, sign_in, users  # noqa: F401  (fixture)

PHONE = "13800000001"


async def until(check, timeout: float = 10.0):
    """Poll ``check`` (sync or async) until it returns something truthy; fail clearly otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running_hotline(db, settings, *, time_scale: float, talk_seconds: float):
    """Simulated PBX (one rrmemory queue) → AmiLink → HotlineService, stopped in reverse order."""
    sim = Simulator(SimConfig(ami_port=0, time_scale=time_scale, noise_per_call=0))
    sim.engine.queues = QueueEngine(sim.engine, queues=[QueueConfig(strategy="rrmemory")],
                                    default_agent=AgentScript(ring_seconds=2, talk_seconds=talk_seconds))
    await sim.start()
    link = AmiLink(link_config(sim.port))
    try:
        await link.start()
        await link.wait_ready(5)
        service = HotlineService()
        await service.start(link, db.pool, settings)
        try:
            yield sim, link, service
        finally:
            await service.stop()
    finally:
        await link.close()
        await sim.close()


@pytest.fixture
async def hotline(db, settings, users):  # noqa: F811
    async with running_hotline(db, settings, time_scale=0.1, talk_seconds=3) as (sim, link, service):
        client = await open_client(make_app(db, settings, hotline=service, ami=link))
        yield sim, service, client
        await client.close()


async def agent_console(client):
    token = await sign_in(client, "agent")
    response = await client.post("/console/queue", data={"csrf_token": token, "action": "login"},
                                 allow_redirects=False)
    assert response.status == 302
    ws = await client.ws_connect("/console/ws")
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    return token, ws


async def next_of(ws, kind: str) -> dict:
    while True:
        message = await ws.receive_json(timeout=10)
        if message["type"] == kind:
            return message


async def test_screen_pop_carries_history_and_the_record_reaches_the_profile(hotline, db):
    sim, service, client = hotline
    now = datetime.now(timezone.utc)
    async with db.pool.acquire() as conn:
        for i in range(3):         # three tickets in 30 days: the phone rule flags a repeat complainant
            await insert_ticket(conn, f"T{i}", phone=PHONE, called_at=now - timedelta(days=i + 1),
                                title=f"噪音扰民 {i}")
    token, ws = await agent_console(client)
    await until(lambda: service.state.agent_by_name("agent"))
    sim.engine.queues.inbound(PHONE)
    pop = await next_of(ws, "screen_pop")
    assert pop["phone"] == "138****0001"                       # masked on the wire to the agent
    assert [t["title"] for t in pop["tickets"]] == ["噪音扰民 0", "噪音扰民 1", "噪音扰民 2"]
    assert pop["repeat"]["is_repeat"] and pop["repeat"]["rule"] == "phone"
    assert pop["records"] == []
    ended = await next_of(ws, "call_ended")
    assert ended["uniqueid"] == pop["uniqueid"]

    response = await client.post("/console/records", allow_redirects=False, data={
        "csrf_token": token, "uniqueid": pop["uniqueid"], "topic": "邻里噪音引发焦虑",
        "emotional_state": "焦虑", "risk_level": "medium", "next_step": "一周后回访"})
    assert response.status == 302
    async with db.pool.acquire() as conn:
        call = await conn.fetchrow("SELECT * FROM hotline_calls WHERE uniqueid = $1", pop["uniqueid"])
        record = await conn.fetchrow("SELECT * FROM counseling_records")
    assert (call["outcome"], call["agent"], call["caller_phone"]) == ("answered", "agent", PHONE)
    assert call["recording_path"].endswith(f"{pop['uniqueid']}.wav")       # MixMonitor started on AgentConnect
    assert call["transcription_status"] == "pending"                        # no ASR pool wired in this test
    assert "MixMonitor" in [r.name for r in sim.ami.received]
    assert (record["call_id"], record["caller_phone"], record["topic"]) == (call["id"], PHONE, "邻里噪音引发焦虑")

    # The repeat-complainant profile (opened by the rules) shows the call and the record.
    async with db.pool.acquire() as conn:
        assert await repo.refresh_profiles(conn, datetime.now(timezone.utc)) == 1
        profile_id = await conn.fetchval("SELECT id FROM repeat_profiles WHERE phone = $1", PHONE)
    page = await (await client.get(f"/repeat/{profile_id}")).text()
    assert "邻里噪音引发焦虑" in page and "一周后回访" in page and "噪音扰民 2" in page
    assert "138****0001" in page and PHONE not in page          # an agent sees the number masked

    # The next call from the same person pops the record just written.
    sim.engine.queues.inbound(PHONE)
    again = await next_of(ws, "screen_pop")
    assert [r["topic"] for r in again["records"]] == ["邻里噪音引发焦虑"]
    await ws.close()


async def test_abandoned_call_is_counted_and_the_wall_sees_it(hotline, db):
    sim, service, client = hotline
    await sign_in(client, "supervisor")
    wall = await client.ws_connect("/wall/ws")
    assert (await wall.receive_json(timeout=5))["type"] == "live"
    first_stats = await wall.receive_json(timeout=5)
    assert (first_stats["type"], first_stats["abandoned"]) == ("stats", 0)
    sim.engine.queues.inbound("13900000002", script=CallerScript(patience=2))   # nobody signed in: gives up
    stats = await next_of(wall, "stats")
    assert (stats["abandoned"], stats["answered"]) == (1, 0)
    assert stats["service_level"] == 0.0
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT outcome, agent, wait_seconds FROM hotline_calls")
    assert (row["outcome"], row["agent"]) == ("abandoned", None) and row["wait_seconds"] >= 1
    await wall.close()


async def test_callback_request_becomes_a_task_on_the_console(hotline, db):
    sim, service, client = hotline
    token = await sign_in(client, "agent")
    sim.engine.queues.inbound("13700000003", script=CallerScript(press_one_after=1))

    async def task():
        async with db.pool.acquire() as conn:
            return await conn.fetchrow("SELECT t.*, c.outcome FROM callback_tasks t JOIN hotline_calls c "
                                       "ON c.id = t.call_id")
    row = await until(task)
    assert (row["outcome"], row["reason"], row["status"], row["caller_phone"]) == (
        "callback_requested", "callback_requested", "open", "13700000003")
    page = await (await client.get("/console")).text()
    assert "137****0003" in page and "来电请求回拨" in page
    response = await client.post(f"/console/tasks/{row['id']}", allow_redirects=False,
                                 data={"csrf_token": token, "action": "done"})
    assert response.status == 302
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT status FROM callback_tasks WHERE id = $1", row["id"]) == "done"


async def test_high_risk_record_alerts_the_wall_at_once(hotline, db):
    sim, service, client = hotline
    token, ws = await agent_console(client)
    sim.engine.queues.inbound(PHONE)
    pop = await next_of(ws, "screen_pop")
    from .test_web_helpers import open_client as open_second
    supervisor = await open_second(client.app)
    try:
        await sign_in(supervisor, "supervisor")
        wall = await supervisor.ws_connect("/wall/ws")
        response = await client.post("/console/records", allow_redirects=False, data={
            "csrf_token": token, "uniqueid": pop["uniqueid"], "topic": "有轻生念头",
            "emotional_state": "低落", "risk_level": "high", "next_step": "立即联系社区网格员上门"})
        assert response.status == 302
        alert = await next_of(wall, "alert")
        assert (alert["topic"], alert["agent"], alert["phone"]) == ("有轻生念头", "agent", "138****0001")
        await wall.close()
        # A wall opened later (or on another instance) gets today's alert from the ledger.
        late = await supervisor.ws_connect("/wall/ws")
        replayed = await next_of(late, "alert")
        assert (replayed["topic"], replayed["phone"]) == ("有轻生念头", "138****0001")
        await late.close()
    finally:
        await supervisor.close()
    await ws.close()


async def test_service_started_late_rebuilds_members_and_waiting_callers_from_queue_status(db, settings):
    sim = Simulator(SimConfig(ami_port=0, time_scale=0.1, noise_per_call=0))
    sim.engine.queues = QueueEngine(sim.engine)
    await sim.start()
    queues = sim.engine.queues
    queues.add_member("counsel", "PJSIP/agent9", "agent9", paused=True, reason="培训")
    caller = queues.inbound("13600000006")          # waits: the only member is paused
    link = AmiLink(link_config(sim.port))
    await link.start()
    await link.wait_ready(5)
    service = HotlineService()
    try:
        await until(lambda: sim_waiting(sim))
        await service.start(link, db.pool, settings)
        agent = service.state.agent_by_name("agent9")
        assert (agent.paused, agent.paused_reason) == (True, "培训")
        assert [c["caller_num"] for c in service.state.waiting(now=service.clock())] == ["13600000006"]
        queues.pause_member("counsel", "PJSIP/agent9", False)          # the call now goes through normally
        await until(lambda: caller.done())

        # The simulator is done once it has *written* its last events (AgentComplete, Hangup); the
        # service reads them off the socket later, and only then starts the write that drain() waits
        # for.  So wait for the stored call itself, not for the simulator's side.
        async def stored_calls():
            await service.drain()
            async with db.pool.acquire() as conn:
                return await conn.fetch("SELECT outcome FROM hotline_calls")
        assert [r["outcome"] for r in await until(stored_calls)] == ["answered"]
    finally:
        await service.stop()
        await link.close()
        await sim.close()


def sim_waiting(sim) -> bool:
    return any(q.waiting for q in sim.engine.queues.queues.values())


async def test_recording_is_transcribed_through_the_asr_pool_when_one_is_wired(db, settings, tmp_path):
    class FakePool:
        def __init__(self):
            self.jobs = []

        async def run(self, job):
            self.jobs.append(job)
            return {"free": {"text": "最近睡不好 邻居装修"}}
    wav = tmp_path / "call.wav"
    wav.write_bytes(b"RIFF")
    pool = FakePool()
    service = HotlineService(asr=pool)
    service.pool = db.pool
    async with db.pool.acquire() as conn:
        call_id, _ = await repo.record_call(conn, repo.CallRow(
            "u-1", "counsel", PHONE, "PJSIP/t-1", datetime.now(timezone.utc), datetime.now(timezone.utc), 3, 60,
            None, "abandoned", recording_path=str(wav)))
        assert await conn.fetchval("SELECT transcription_status FROM hotline_calls") == "pending"
    await service._transcribe(call_id, str(wav))
    await service._transcribe(call_id + 999, str(tmp_path / "missing.wav"))      # no file: nothing crashes
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT transcription_status, transcript FROM hotline_calls")
    assert tuple(row) == ("done", "最近睡不好 邻居装修") and pool.jobs[0].wav_path == str(wav)


async def test_console_pause_with_reason_and_sign_out_go_through_ami(hotline):
    sim, service, client = hotline
    token, ws = await agent_console(client)
    member = lambda: sim.engine.queues.queues["counsel"].members.get("PJSIP/agent")  # noqa: E731
    await until(lambda: service.state.agent_by_name("agent"))
    bad = await client.post("/console/queue", data={"csrf_token": token, "action": "pause", "reason": "随便"},
                            allow_redirects=False)
    assert bad.status == 302 and not member().paused                   # unknown reason: nothing sent
    await client.post("/console/queue", data={"csrf_token": token, "action": "pause", "reason": "培训"},
                      allow_redirects=False)
    assert (member().paused, member().paused_reason) == (True, "培训")
    await until(lambda: service.state.agent_by_name("agent").paused)
    assert service.state.agent_rows()[0]["paused_reason"] == "培训"
    page = await (await client.get("/console")).text()
    assert "暂停（培训）" in page
    await client.post("/console/queue", data={"csrf_token": token, "action": "unpause"}, allow_redirects=False)
    assert not member().paused
    await client.post("/console/queue", data={"csrf_token": token, "action": "logout"}, allow_redirects=False)
    assert member() is None
    await until(lambda: service.state.agent_by_name("agent") is None)
    again = await client.post("/console/queue", data={"csrf_token": token, "action": "logout"},
                              allow_redirects=False)
    assert again.status == 302
    assert "交换机拒绝了操作: Unable to remove interface: Not there" in await (await client.get("/console")).text()
    await ws.close()
