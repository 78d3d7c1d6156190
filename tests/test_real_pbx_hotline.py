"""The counseling hotline on the real Asterisk 22: callers behind Local/<script>@callers, agents behind
Local/<username>@agents (CALLCENTER_AGENT_INTERFACE), the shipped [hotline] dialplan and queues.conf.

The PBX's spool is a different directory from the service's recordings: a
recording must land where the call page looks, not in Asterisk's spool.
"""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from callcenter.hotline.service import HotlineService
from callcenter.telephony.ami import AmiLink

from .test_ami_link import link_config
from .test_hotline_e2e import agent_console, next_of, until
from .test_web_helpers import make_app, open_client, users  # noqa: F401  (fixture)

pytestmark = pytest.mark.real_asterisk
AGENTS = "Local/{username}@agents"


@asynccontextmanager
async def hotline_on(pbx, db, settings, recordings: Path):
    link = AmiLink(link_config(pbx.ami_port, ping_interval=1.0))
    await link.start()
    await link.wait_ready(10)
    service = HotlineService(interface_template=AGENTS, recordings_dir=recordings)
    await service.start(link, db.pool, settings)
    client = await open_client(make_app(db, settings, hotline=service, ami=link))
    try:
        yield link, service, client
    finally:
        for name in ("agent", "supervisor"):         # leave the module's PBX with an empty queue
            await link.send_action({"Action": "QueueRemove", "Queue": "counsel",
                                    "Interface": AGENTS.format(username=name)})
        await client.close()
        await service.stop()
        await link.close()


def call_in(pbx, script: str, phone: str) -> None:
    """A caller dials the hotline: the ;1 leg enters [hotline] with ``phone`` as caller ID."""
    pbx.originate(f"Local/{script}@callers", phone, "hotline-in")


async def calls(db) -> dict[str, dict]:
    async with db.pool.acquire() as conn:
        return {r["caller_phone"]: dict(r) for r in await conn.fetch("SELECT * FROM hotline_calls")}


async def test_an_answered_call_pops_the_screen_and_is_recorded_where_the_service_looks(
        db, settings, users, real_asterisk, tmp_path):  # noqa: F811
    recordings = tmp_path / "recordings"
    async with hotline_on(real_asterisk, db, settings, recordings) as (link, service, client):
        _, ws = await agent_console(client)
        await until(lambda: service.state.agent_by_name("agent"), 10)
        call_in(real_asterisk, "wait", "13800000001")
        pop = await next_of(ws, "screen_pop")
        assert pop["phone"] == "138****0001"
        ended = await next_of(ws, "call_ended")
        assert ended["uniqueid"] == pop["uniqueid"]
        await service.drain()
    row = (await calls(db))["13800000001"]
    assert (row["outcome"], row["agent"], row["abandoned_stage"]) == ("answered", "agent", None)
    path = Path(row["recording_path"])
    assert path.is_relative_to(recordings), row["recording_path"]
    await until(lambda: path.exists() and path.stat().st_size > 44, 10)      # MixMonitor wrote real audio there
    assert not list(real_asterisk.spool.rglob("*.wav")), "a recording landed in Asterisk's own spool"


async def test_callers_who_give_up_or_ask_for_a_call_back_are_all_in_the_ledger(
        db, settings, users, real_asterisk, tmp_path):  # noqa: F811
    async with hotline_on(real_asterisk, db, settings, tmp_path / "rec") as (link, service, client):
        call_in(real_asterisk, "press1", "13800000011")       # nobody signed in: they wait, then press 1
        call_in(real_asterisk, "abandon", "13800000012")      # gives up in the queue
        call_in(real_asterisk, "greeting", "13800000013")     # hangs up during the greeting
        call_in(real_asterisk, "consent", "13800000014")      # hangs up during the recording-consent prompt

        async def all_four():
            await service.drain()
            return len(await calls(db)) == 4
        await until(all_four, 20)
        today = await service.today()
    rows = await calls(db)
    got = {phone: (r["outcome"], r["abandoned_stage"]) for phone, r in rows.items()}
    assert got == {"13800000011": ("callback_requested", None), "13800000012": ("abandoned", None),
                   "13800000013": ("abandoned", "greeting"), "13800000014": ("abandoned", "consent")}
    async with db.pool.acquire() as conn:
        tasks = {r["caller_phone"]: r["reason"] for r in await conn.fetch("SELECT * FROM callback_tasks")}
    assert tasks == {"13800000011": "callback_requested", "13800000013": "abandoned_before_queue",
                     "13800000014": "abandoned_before_queue"}
    assert (today["abandoned"], today["abandoned_before_queue"], today["callback_requested"]) == (3, 2, 1)


async def test_one_agent_gets_waiting_callers_one_at_a_time(db, settings, users, real_asterisk, tmp_path):  # noqa: F811
    events: list[tuple[str, str, str]] = []         # (event, the caller's Uniqueid, the member channel's)
    async with hotline_on(real_asterisk, db, settings, tmp_path / "rec") as (link, service, client):
        for name in ("AgentCalled", "AgentConnect", "AgentComplete"):
            link.on_event(name, lambda m: events.append((m.event, m.get("Uniqueid") or "",
                                                         m.get("DestUniqueid") or "")))
        await agent_console(client)
        await until(lambda: service.state.agent_by_name("agent"), 10)
        for i in range(3):
            call_in(real_asterisk, "wait", f"1380000002{i}")

        async def three_answered():
            await service.drain()
            return sum(r["outcome"] == "answered" for r in (await calls(db)).values()) == 3
        await until(three_answered, 40)
        # the caller's Hangup may end the last call before its AgentComplete is on the wire
        await until(lambda: [n for n, _, _ in events].count("AgentComplete") == 3, 10)
        assert service.state.agent_by_name("agent").talking_to is None     # the wall shows the agent free
    talking: tuple[str, str] | None = None
    for name, uid, dest in events:              # never rung nor connected while on a call
        if name == "AgentComplete":
            # Asterisk builds AgentComplete from the channels' latest snapshots once it handles the
            # hangup; a channel already destroyed by then is left out whole (seen under load: no
            # Uniqueid, or no DestUniqueid).  What it does name must be the call in progress.
            assert talking is not None, f"AgentComplete with no call in progress: {events}"
            assert uid in ("", talking[0]) and dest in ("", talking[1]), f"{uid}/{dest} vs {talking}: {events}"
            talking = None
        else:
            assert talking is None, f"{name} for {uid} while the agent talks to {talking}: {events}"
            if name == "AgentConnect":
                talking = (uid, dest)
    names = [n for n, _, _ in events]
    assert names.count("AgentConnect") == names.count("AgentComplete") == 3


async def test_the_queue_the_service_shows_is_the_queue_asterisk_has(
        db, settings, users, real_asterisk, tmp_path):  # noqa: F811
    async with hotline_on(real_asterisk, db, settings, tmp_path / "rec") as (link, service, client):
        await service.login_agent("agent")
        await service.login_agent("supervisor")
        await service.pause_agent("agent", True, "培训")
        await service.pause_agent("supervisor", True, "午休")
        call_in(real_asterisk, "abandon", "13800000031")
        await until(lambda: len(service.state.callers) == 1, 10)
        status = await link.send_action({"Action": "QueueStatus", "Queue": "counsel"})
        members = {e.get("Name"): e.get("Paused") == "1" for e in status.events if e.event == "QueueMember"}
        entries = [e.get("CallerIDNum") for e in status.events if e.event == "QueueEntry"]
        live = service.live()
        assert {a["name"]: a["paused"] for a in live["agents"]} == members == {"agent": True, "supervisor": True}
        assert [c["caller_num"] for c in live["waiting"]] == entries == ["13800000031"]
        await until(lambda: not service.state.callers, 10)
        await asyncio.sleep(0)
