"""Hotline acceptance scenarios on the real Asterisk 22: what a customer's tester does to a counseling queue.

An agent who never picks up, a caller who hangs up while an agent rings, an
agent who signs out mid-call, the service restarted (or resynced after a lost
link) while a counselor talks, a withheld number, and the recording reaching
the transcriber whole.  Agents ``slowpoke`` (rings forever), ``agent`` (talks
2 s) and ``talker`` (talks 6 s) are in tests/fixtures/real_pbx/test-extensions.conf;
the test queue rings a member 5 s (tests/real_asterisk.py).
"""
from __future__ import annotations

import asyncio
import wave
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from callcenter.hotline.hub import agent_topic
from callcenter.hotline.service import HotlineService
from callcenter.telephony.ami import AmiLink

from .test_ami_link import link_config
from .test_hotline_e2e import until
from .test_real_pbx_hotline import call_in

pytestmark = pytest.mark.real_asterisk
AGENTS = "Local/{username}@agents"


@asynccontextmanager
async def following(pbx, db, settings, recordings: Path, link_kw: dict | None = None, **kw):
    """An AMI link and a HotlineService on it (no web: the hub is read directly)."""
    link = AmiLink(link_config(pbx.ami_port, **{"ping_interval": 1.0, **(link_kw or {})}))
    await link.start()
    await link.wait_ready(10)
    service = HotlineService(interface_template=AGENTS, recordings_dir=recordings, **kw)
    await service.start(link, db.pool, settings)
    try:
        yield link, service
    finally:
        await service.stop()
        await link.close()


@pytest.fixture
async def empty_queue(real_asterisk):
    """Each test starts and ends with nobody in the queue (the PBX is shared by the module)."""
    yield
    link = AmiLink(link_config(real_asterisk.ami_port, ping_interval=1.0))
    await link.start()
    await link.wait_ready(10)
    try:
        status = await link.send_action({"Action": "QueueStatus", "Queue": "counsel"})
        for e in status.events:
            if e.event == "QueueMember":
                await link.send_action({"Action": "QueueRemove", "Queue": "counsel", "Interface": e.get("Location")})
    finally:
        await link.close()


async def sign_in(link, name: str) -> None:
    result = await link.send_action({"Action": "QueueAdd", "Queue": "counsel", "MemberName": name,
                                     "Interface": AGENTS.format(username=name), "Paused": "false"})
    assert result.response.get("Response") == "Success", result.response


async def pause(link, name: str, paused: bool, reason: str = "") -> None:
    await link.send_action({"Action": "QueuePause", "Queue": "counsel", "Interface": AGENTS.format(username=name),
                            "Paused": "true" if paused else "false", "Reason": reason})


async def rows(db) -> dict[str, dict]:
    async with db.pool.acquire() as conn:
        return {r["uniqueid"]: dict(r) for r in await conn.fetch("SELECT * FROM hotline_calls")}


async def stored(service, db, n: int, timeout: float = 20) -> dict[str, dict]:
    async def enough():
        await service.drain()
        got = await rows(db)
        return got if len(got) >= n else None
    return await until(enough, timeout)


def messages(queue: asyncio.Queue) -> list[dict]:
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


def status_of(service, name: str) -> str | None:
    return next((a["status"] for a in service.live()["agents"] if a["name"] == name), None)


async def test_an_agent_who_does_not_pick_up_is_told_and_the_next_agent_gets_the_call(
        db, settings, real_asterisk, empty_queue, tmp_path):
    async with following(real_asterisk, db, settings, tmp_path / "rec") as (link, service):
        slow = service.hub.subscribe(agent_topic("slowpoke"))
        await sign_in(link, "slowpoke")
        await until(lambda: service.state.agent_by_name("slowpoke"), 10)
        call_in(real_asterisk, "wait", "13800000101")
        await until(lambda: status_of(service, "slowpoke") == "ringing", 10)
        await sign_in(link, "agent")                  # rrmemory: after slowpoke's ring times out, agent's turn
        await until(lambda: service.state.agent_by_name("agent")
                    and service.state.agent_by_name("agent").talking_to, 15)
        got = await stored(service, db, 1)
        (row,) = got.values()
        assert (row["outcome"], row["agent"]) == ("answered", "agent")
        assert status_of(service, "slowpoke") != "ringing"
        kinds = [m["type"] for m in messages(slow)]
        assert kinds[0] == "screen_pop"
        assert "ring_ended" in kinds, kinds            # the pop on the console that rang in vain is withdrawn
        assert "call_ended" not in kinds


async def test_a_caller_who_hangs_up_while_an_agent_rings_is_abandoned_and_the_pop_withdrawn(
        db, settings, real_asterisk, empty_queue, tmp_path):
    async with following(real_asterisk, db, settings, tmp_path / "rec") as (link, service):
        slow = service.hub.subscribe(agent_topic("slowpoke"))
        await sign_in(link, "slowpoke")
        await until(lambda: service.state.agent_by_name("slowpoke"), 10)
        call_in(real_asterisk, "abandon", "13800000102")          # gone 2.5 s after answer, within the 5 s ring
        got = await stored(service, db, 1)
        (row,) = got.values()
        assert (row["outcome"], row["agent"], row["caller_phone"]) == ("abandoned", None, "13800000102")
        await until(lambda: status_of(service, "slowpoke") not in (None, "ringing"), 10)
        kinds = [m["type"] for m in messages(slow)]
        assert kinds[0] == "screen_pop" and "ring_ended" in kinds, kinds
        assert not service.state.callers


async def test_a_caller_who_presses_1_while_an_agent_rings_gets_a_call_back_task_and_the_pop_goes(
        db, settings, real_asterisk, empty_queue, tmp_path):
    async with following(real_asterisk, db, settings, tmp_path / "rec") as (link, service):
        slow = service.hub.subscribe(agent_topic("slowpoke"))
        await sign_in(link, "slowpoke")
        await until(lambda: service.state.agent_by_name("slowpoke"), 10)
        call_in(real_asterisk, "press1", "13800000114")           # presses 1 within slowpoke's 5 s ring
        (row,) = (await stored(service, db, 1)).values()
        assert (row["outcome"], row["agent"]) == ("callback_requested", None)
        async with db.pool.acquire() as conn:
            assert await conn.fetchval("SELECT caller_phone FROM callback_tasks WHERE call_id = $1",
                                       row["id"]) == "13800000114"
        kinds = [m["type"] for m in messages(slow)]
        assert kinds[0] == "screen_pop" and "ring_ended" in kinds, kinds
        await until(lambda: status_of(service, "slowpoke") not in (None, "ringing"), 10)


async def test_an_agent_who_signs_out_mid_call_leaves_the_wall_and_the_call_is_kept(
        db, settings, real_asterisk, empty_queue, tmp_path):
    async with following(real_asterisk, db, settings, tmp_path / "rec") as (link, service):
        await sign_in(link, "talker")
        call_in(real_asterisk, "wait", "13800000103")
        await until(lambda: service.state.agent_by_name("talker")
                    and service.state.agent_by_name("talker").talking_to, 15)
        await link.send_action({"Action": "QueueRemove", "Queue": "counsel",
                                "Interface": AGENTS.format(username="talker")})
        await until(lambda: service.state.agent_by_name("talker") is None, 5)
        got = await stored(service, db, 1)
        (row,) = got.values()
        assert (row["outcome"], row["agent"]) == ("answered", "talker")
        await asyncio.sleep(0.5)                     # any late event for the member has come by now
        assert service.live()["agents"] == [], service.live()["agents"]


async def test_a_resync_mid_call_keeps_the_agent_in_call_on_the_wall(
        db, settings, real_asterisk, empty_queue, tmp_path):
    """What the service does after the AMI link drops and comes back: QueueStatus rebuilds the picture."""
    async with following(real_asterisk, db, settings, tmp_path / "rec") as (link, service):
        await sign_in(link, "talker")
        call_in(real_asterisk, "wait", "13800000104")
        await until(lambda: status_of(service, "talker") == "in_call", 15)
        await service.resync()
        assert status_of(service, "talker") == "in_call", service.live()["agents"]
        got = await stored(service, db, 1)
        (row,) = got.values()
        assert (row["outcome"], row["agent"]) == ("answered", "talker")
        await until(lambda: status_of(service, "talker") == "idle", 5)


async def test_a_call_that_ends_while_the_link_is_down_is_stored_when_it_is_back(
        db, settings, real_asterisk, empty_queue, tmp_path):
    slow_reconnect = {"backoff_initial": 6.0, "backoff_max": 6.0}
    async with following(real_asterisk, db, settings, tmp_path / "rec", link_kw=slow_reconnect) as (link, service):
        await sign_in(link, "talker")
        call_in(real_asterisk, "wait", "13800000107")
        await until(lambda: status_of(service, "talker") == "in_call", 15)
        await asyncio.sleep(2)
        link._protocol.close()          # the link drops; it is back in ~6 s, after talker's 6.4 s talk ended
        await until(lambda: not link.ready, 2)
        assert not await rows(db)
        await until(lambda: link.ready, 10)
        assert "13800000107" not in real_asterisk.cli("core show channels verbose")    # it did end unseen
        got = await stored(service, db, 1, timeout=20)
        (row,) = got.values()
        assert (row["outcome"], row["agent"], row["caller_phone"]) == ("answered", "talker", "13800000107")
        assert row["talk_seconds"] > 3
        assert not service.state.callers
        await until(lambda: status_of(service, "talker") == "idle", 5)


async def test_a_service_restarted_mid_call_rebuilds_the_wall_and_still_stores_the_call(
        db, settings, real_asterisk, empty_queue, tmp_path):
    async with following(real_asterisk, db, settings, tmp_path / "rec") as (link, first):
        await sign_in(link, "talker")
        call_in(real_asterisk, "wait", "13800000105")
        await until(lambda: status_of(first, "talker") == "in_call", 15)
    async with following(real_asterisk, db, settings, tmp_path / "rec") as (link, second):
        await until(lambda: second.state.agent_by_name("talker"), 5)
        assert status_of(second, "talker") == "in_call", second.live()["agents"]
        got = await stored(second, db, 1)
        (row,) = got.values()
        assert (row["outcome"], row["agent"], row["caller_phone"]) == ("answered", "talker", "13800000105")
        assert row["talk_seconds"] > 1
        assert row["recording_path"] and Path(row["recording_path"]).exists()     # the first process started it
        assert row["transcription_status"] == "pending"
        await until(lambda: status_of(second, "talker") == "idle", 5)


async def test_a_withheld_number_pops_an_empty_history_and_opens_no_call_back(
        db, settings, real_asterisk, empty_queue, tmp_path):
    async with following(real_asterisk, db, settings, tmp_path / "rec") as (link, service):
        pops = service.hub.subscribe(agent_topic("agent"))
        await sign_in(link, "agent")
        real_asterisk.originate("Local/wait@callers", "00", "hotline-anon")
        got = await stored(service, db, 1)
        (row,) = got.values()
        assert (row["outcome"], row["caller_phone"]) == ("answered", "")
        pop = next(m for m in messages(pops) if m["type"] == "screen_pop")
        assert (pop["phone"], pop["tickets"], pop["repeat"]["is_repeat"]) == ("", [], False)


class CapturingAsr:
    """Stands in for the ASR pool: notes how much audio the file holds when transcription starts."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, float]] = []

    async def run(self, job) -> dict:
        with wave.open(job.wav_path, "rb") as w:
            self.seen.append((job.wav_path, w.getnframes(), Path(job.wav_path).stat().st_size))
        return {"free": {"text": "测试转写"}}


async def test_the_recording_is_whole_when_it_is_transcribed(db, settings, real_asterisk, empty_queue, tmp_path):
    asr = CapturingAsr()
    async with following(real_asterisk, db, settings, tmp_path / "rec", asr=asr) as (link, service):
        await sign_in(link, "agent")
        call_in(real_asterisk, "wait", "13800000106")
        got = await stored(service, db, 1)
        (row,) = got.values()
        await until(lambda: asr.seen, 10)
        await service.drain()
        (path, frames, size), = asr.seen
        assert path == row["recording_path"]
        await asyncio.sleep(1.0)                       # whatever Asterisk still had to write is written now
        with wave.open(path, "rb") as w:
            final = (w.getnframes(), Path(path).stat().st_size)
        assert frames > 0 and (frames, size) == final, ((frames, size), final)
        async with db.pool.acquire() as conn:
            done = await conn.fetchrow("SELECT transcription_status, transcript FROM hotline_calls WHERE id = $1",
                                       row["id"])
        assert tuple(done) == ("done", "测试转写")
        pops = service.hub.subscribe(agent_topic("agent"))
        call_in(real_asterisk, "wait", "13800000106")          # the same caller again: the agent sees that call
        pop = await until(lambda: next((m for m in messages(pops) if m["type"] == "screen_pop"), None), 15)
        assert [(c["uniqueid"], c["recording_path"], c["transcription_status"]) for c in pop["calls"]] == [
            (row["uniqueid"], path, "done")]
        await stored(service, db, 2)


async def test_a_withheld_number_pressing_1_is_not_promised_a_call_back(
        db, settings, real_asterisk, empty_queue, tmp_path):
    """No number, no call back: the key is ignored and the caller keeps their place in the queue."""
    async with following(real_asterisk, db, settings, tmp_path / "rec") as (link, service):
        real_asterisk.originate("Local/press1@callers", "00", "hotline-anon")      # presses 1, hangs up 3 s later
        call_in(real_asterisk, "press1", "13800000108")
        got = await stored(service, db, 2)
        by_phone = {r["caller_phone"]: r["outcome"] for r in got.values()}
        assert by_phone == {"": "abandoned", "13800000108": "callback_requested"}, by_phone
        async with db.pool.acquire() as conn:
            tasks = [r["caller_phone"] for r in await conn.fetch("SELECT caller_phone FROM callback_tasks")]
        assert tasks == ["13800000108"]


async def test_a_paused_agent_is_not_rung_and_takes_the_waiting_caller_once_back(
        db, settings, real_asterisk, empty_queue, tmp_path):
    async with following(real_asterisk, db, settings, tmp_path / "rec") as (link, service):
        pops = service.hub.subscribe(agent_topic("agent"))
        await sign_in(link, "agent")
        await pause(link, "agent", True, "培训")
        await until(lambda: status_of(service, "agent") == "paused", 5)
        call_in(real_asterisk, "wait", "13800000109")
        await until(lambda: service.live()["waiting"], 10)
        await asyncio.sleep(2)                                   # the queue would have rung an available agent
        assert messages(pops) == [] and status_of(service, "agent") == "paused"
        assert [c["caller_num"] for c in service.live()["waiting"]] == ["13800000109"]
        await pause(link, "agent", False)
        await until(lambda: status_of(service, "agent") == "in_call", 10)
        assert service.live()["waiting"] == []
        (row,) = (await stored(service, db, 1)).values()
        assert (row["outcome"], row["agent"]) == ("answered", "agent") and row["wait_seconds"] >= 2


async def test_a_pbx_restart_files_every_call_it_cut_and_keeps_the_counselors_signed_in(
        db, settings, real_asterisk, empty_queue, tmp_path):
    """Asterisk restarts under a call in progress and a caller waiting: both calls are in the ledger once
    the link is back, and the signed-in counselor is still in the queue (queues.conf persistentmembers)."""
    async with following(real_asterisk, db, settings, tmp_path / "rec") as (link, service):
        await sign_in(link, "talker")
        call_in(real_asterisk, "wait", "13800000110")
        await until(lambda: status_of(service, "talker") == "in_call", 15)
        call_in(real_asterisk, "wait", "13800000111")             # talker is busy: this one waits
        await until(lambda: service.live()["waiting"], 10)
        real_asterisk.cli("core restart now")
        await asyncio.get_running_loop().run_in_executor(None, real_asterisk.wait_gone_then_booted, 30)
        got = await stored(service, db, 2, timeout=30)
        assert {r["caller_phone"]: r["outcome"] for r in got.values()} == {
            "13800000110": "answered", "13800000111": "abandoned"}
        assert not service.state.callers and service.live()["waiting"] == []
        await until(lambda: status_of(service, "talker") == "idle", 10)


async def test_a_pbx_crash_files_the_calls_it_cut_once_the_link_is_back(
        db, settings, real_asterisk, empty_queue, tmp_path):
    """SIGKILL: no event tells the calls' end; the resync after the reconnect must (CoreShowChannels)."""
    async with following(real_asterisk, db, settings, tmp_path / "rec") as (link, service):
        await sign_in(link, "talker")
        call_in(real_asterisk, "wait", "13800000112")
        await until(lambda: status_of(service, "talker") == "in_call", 15)
        call_in(real_asterisk, "wait", "13800000113")
        await until(lambda: service.live()["waiting"], 10)
        real_asterisk.kill()
        await asyncio.get_running_loop().run_in_executor(None, real_asterisk.start)
        got = await stored(service, db, 2, timeout=30)
        assert {r["caller_phone"]: r["outcome"] for r in got.values()} == {
            "13800000112": "answered", "13800000113": "abandoned"}
        assert not service.state.callers and service.live()["waiting"] == []
        await until(lambda: status_of(service, "talker") == "idle", 10)
