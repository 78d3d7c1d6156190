"""AmiLink against the simulator over real TCP: login, ping, event filter, originate outcomes, list actions."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from callcenter.sim.citizens import HANG_UP, CitizenBook, CitizenScript, Pickup
from callcenter.sim.simulator import SimConfig, Simulator
from callcenter.telephony.ami import AmiLink, AmiLinkConfig, AmiNotReady
from callcenter.telephony.ami_events import EVENTS_WE_USE
from callcenter.telephony.ami_originate import CallStatus, OutcomeSource

from .test_sim_wire import FakeAgi, RawAmi

BOOK = CitizenBook(by_number={
    "100": CitizenScript.keys("1", "1", "1", ring_seconds=1),
    "102": CitizenScript(replies=(HANG_UP,), hangup_after_prompts=0, ring_seconds=1),
    "200": CitizenScript(pickup=Pickup.BUSY, ring_seconds=1),
    "201": CitizenScript(pickup=Pickup.CONGESTION, ring_seconds=1),
    "202": CitizenScript(pickup=Pickup.NO_ANSWER, ring_seconds=1),
    "203": CitizenScript(pickup=Pickup.REJECTED, ring_seconds=1),
    "999": CitizenScript(pickup=Pickup.INVALID),
})


@pytest.fixture
async def sim():
    agi = FakeAgi()
    simulator = Simulator(SimConfig(ami_port=0, time_scale=0.01, book=BOOK), agi_session=agi)   # noise on
    await simulator.start()
    simulator.fake_agi = agi
    yield simulator
    await simulator.close()


def link_config(port: int, **kw) -> AmiLinkConfig:
    defaults = dict(port=port, ping_interval=0.05, ping_timeout=3.0, backoff_initial=0.02, backoff_max=0.2,
                    settle_grace=0.3)
    defaults.update(kw)
    return AmiLinkConfig(**defaults)


@pytest.fixture
async def link(sim):
    async with AmiLink(link_config(sim.port)) as link:
        await link.wait_ready(5)
        yield link


def call(link: AmiLink, number: str, timeout_ms: int = 6000, **kw):
    return link.originate(channel=f"Local/{number}@citizen-sim", context="callback-ivr", exten="s",
                          caller_id='"Xisanqi 12345" <01082345678>', timeout_ms=timeout_ms,
                          variables={"TICKET_ID": "24050000001", "ATTEMPT_ID": number}, **kw)


async def test_login_ping_and_state(link, sim):
    reply = await link.send_action({"Action": "Ping"})
    assert reply.response.get("Ping") == "Pong"
    for _ in range(100):
        if link.counters.last_pong_latency is not None:
            break
        await asyncio.sleep(0.02)
    snap = link.snapshot()
    assert snap["logged_in"] and snap["connected"] and snap["state"] == "ready"
    assert snap["last_pong_latency"] is not None and snap["reconnects"] == 0
    names = [r.name for r in sim.ami.received]
    assert names[:3] == ["Login", "Events", "Filter"]      # the session is filtered right after login
    assert "Ping" in names


async def test_filter_keeps_dialplan_noise_out(link, sim):
    seen: list[str] = []
    link.on_event("*", lambda m: seen.append(m.event))
    raw, _ = await RawAmi.connect(sim.port)                # an unfiltered session, to prove the noise exists
    raw.send([("Action", "Login"), ("Username", "callcenter"), ("Secret", "callcenter"), ("Events", "on")])
    await raw.read_n(2)
    handle = call(link, "100")
    outcome = await asyncio.wait_for(handle.outcome, 5)
    raw_names = []
    while "OriginateResponse" not in raw_names or raw_names.count("Hangup") < 2:
        raw_names.append(dict(await raw.read()).get("Event"))
    await raw.close()
    assert raw_names.count("VarSet") > 100                 # the simulator emits realistic noise…
    assert "VarSet" not in seen and "Newexten" not in seen  # …and none of it reaches our handlers
    assert set(seen) <= EVENTS_WE_USE
    assert {"Newchannel", "Newstate", "DialEnd", "OriginateResponse", "Hangup"} <= set(seen)
    assert outcome.status is CallStatus.ANSWERED


@pytest.mark.parametrize("number, status, reason, cause, cause_txt", [
    ("100", CallStatus.ANSWERED, 4, 0, "Unknown"),          # IVR hung up: Asterisk reports cause 0 (transcript 02)
    ("102", CallStatus.ANSWERED, 4, 16, "Normal Clearing"),  # the citizen hung up (transcript 04)
    ("200", CallStatus.NOT_ANSWERED, 5, 17, "User busy"),
    ("201", CallStatus.NOT_ANSWERED, 8, 34, "Circuit/channel congestion"),
    ("202", CallStatus.NOT_ANSWERED, 3, 19, "User alerting, no answer"),
    ("203", CallStatus.NOT_ANSWERED, 0, 21, "Call Rejected"),
    ("999", CallStatus.NOT_ANSWERED, 0, 0, "Unknown"),
])
async def test_originate_outcomes(link, sim, number, status, reason, cause, cause_txt):
    handle = call(link, number)
    queued = await asyncio.wait_for(handle.queued, 5)
    assert queued.get("Message") == "Originate successfully queued"
    outcome = await asyncio.wait_for(handle.outcome, 5)
    assert (outcome.status, outcome.reason, outcome.cause, outcome.cause_txt) == (status, reason, cause, cause_txt)
    assert outcome.source is OutcomeSource.ORIGINATE_RESPONSE
    response = handle.response.result()
    assert response.get("Response") == ("Success" if reason == 4 else "Failure")
    assert response.get("Uniqueid") == handle.channel_id
    hangup = await asyncio.wait_for(handle.hangup, 5)
    assert hangup.get("Uniqueid") == handle.channel_id
    # The originate went out once, async, with our ids and variables.
    sent = [r for r in sim.ami.received if r.name == "Originate"]
    assert [r.action_id for r in sent] == [handle.action_id]
    if reason == 4:
        env = sim.fake_agi.calls[-1]["env"]
        assert env["agi_uniqueid"] == handle.channel_id
        assert sim.fake_agi.calls[-1]["variables"] == {"TICKET_ID": "24050000001", "ATTEMPT_ID": number}
    assert link.unsettled() == []                           # settled calls are not kept


async def test_live_call_listed_then_hung_up(link, sim):
    sim.fake_agi.release.clear()                            # keep the call in the IVR
    handle = call(link, "100")
    await asyncio.wait_for(handle.response, 5)
    while not sim.fake_agi.calls:
        await asyncio.sleep(0.01)
    channels = await link.core_show_channels()
    assert {m.get("Uniqueid") for m in channels} == {handle.channel_id, handle.other_channel_id}
    status = await link.status()
    assert {m.get("Uniqueid") for m in status} == {handle.channel_id, handle.other_channel_id}
    ivr_leg = next(m for m in channels if m.get("Uniqueid") == handle.channel_id)
    assert ivr_leg.get("Application") == "AGI"
    reply = await link.hangup(ivr_leg.get("Channel"))
    assert reply.response.success
    outcome = await asyncio.wait_for(handle.outcome, 5)
    assert (outcome.status, outcome.cause) == (CallStatus.ANSWERED, 16)
    assert await link.core_show_channels() == []
    bad = await link.hangup("Local/nobody@x-00000001;1")
    assert not bad.response.success and bad.response.get("Message") == "No such channel"


async def test_listeners_and_failing_handlers_do_not_break_routing(link):
    got: list[str] = []

    def broken(message):
        raise RuntimeError("handler bug")

    async def broken_async(message):
        raise RuntimeError("async handler bug")

    link.on_event("Hangup", broken)
    link.on_event("Hangup", broken_async)
    link.on_event("Hangup", lambda m: got.append(m.get("Uniqueid")))
    first = call(link, "200")
    await asyncio.wait_for(first.outcome, 5)
    second = call(link, "203")
    per_call: list[str] = []
    second.add_listener(lambda m: per_call.append(m.event))
    await asyncio.wait_for(second.outcome, 5)
    await asyncio.sleep(0.05)
    assert {first.channel_id, second.channel_id} <= set(got)
    assert per_call.count("Hangup") == 2 and per_call.count("Newchannel") == 2   # both legs, by ChannelId
    assert link.counters.handler_errors >= 4               # two broken handlers × two calls, all logged
    assert link.ready


async def test_refuses_unsafe_actions(link):
    with pytest.raises(ValueError, match="originate"):
        await link.send_action({"Action": "Originate", "Channel": "Local/1@x"})
    first = call(link, "200", action_id="dup-1")
    with pytest.raises(ValueError, match="already used"):
        call(link, "200", action_id="dup-1")       # the same ActionID twice is refused
    await asyncio.wait_for(first.outcome, 5)
    with pytest.raises(ValueError, match="line break"):
        await link.send_action({"Action": "Ping", "X": "a\r\nAction: Originate"})
    with pytest.raises(ValueError):
        link.originate(channel="Local/1@x", context="c", exten="s", caller_id="x",
                       variables={"NOTE": "a,b"})


async def test_not_ready_sends_nothing(sim):
    link = AmiLink(link_config(sim.port + 1 if sim.port < 65535 else 1))
    with pytest.raises(AmiNotReady):
        link.originate(channel="Local/100@citizen-sim", context="c", exten="s", caller_id="x")
    with pytest.raises(AmiNotReady):
        await link.send_action({"Action": "Ping"})


async def test_bad_credentials_never_ready(sim):
    async with AmiLink(link_config(sim.port, secret="wrong")) as link:
        with pytest.raises(asyncio.TimeoutError):
            await link.wait_ready(0.5)
        assert "Authentication failed" in (link.last_error or "")
        assert not link.ready


async def test_non_async_originate_answered_like_asterisk(sim):
    raw, _ = await RawAmi.connect(sim.port)
    raw.send([("Action", "Login"), ("Username", "callcenter"), ("Secret", "callcenter"), ("Events", "off")])
    await raw.read_n(1)
    raw.send([("Action", "Originate"), ("ActionID", "sync-1"), ("Channel", "Local/200@citizen-sim"),
              ("Context", "callback-ivr"), ("Exten", "s"), ("Priority", "1"), ("Timeout", "6000")])
    reply = dict(await raw.read())
    assert reply == {"Response": "Error", "ActionID": "sync-1", "Message": "Originate failed"}
    raw.send([("Action", "Originate"), ("ActionID", "sync-2"), ("Channel", "Local/100@citizen-sim"),
              ("Context", "callback-ivr"), ("Exten", "s"), ("Priority", "1"), ("Timeout", "6000")])
    reply = dict(await raw.read())
    assert reply == {"Response": "Success", "ActionID": "sync-2", "Message": "Originate successfully queued"}
    await raw.close()


def test_citizen_hung_up_reads_the_agi_result():
    from callcenter.sim.call_engine import citizen_hung_up
    assert citizen_hung_up(SimpleNamespace(hung_up_by="citizen"))
    assert not citizen_hung_up(SimpleNamespace(hung_up_by="ivr"))
    assert citizen_hung_up(SimpleNamespace(citizen_hung_up=True))
    assert not citizen_hung_up(object())


async def test_hangup_while_ringing_reports_reason_1(link):
    handle = call(link, "202", timeout_ms=60000)            # rings for 0.6 s at this time scale
    await asyncio.wait_for(handle.queued, 5)
    channels = []
    while len(channels) < 2:
        channels = await link.core_show_channels()
    ringing = next(m for m in channels if m.get("Uniqueid") == handle.channel_id)
    assert (await link.hangup(ringing.get("Channel"))).response.success
    outcome = await asyncio.wait_for(handle.outcome, 5)
    assert (outcome.status, outcome.reason, outcome.cause) == (CallStatus.NOT_ANSWERED, 1, 16)
