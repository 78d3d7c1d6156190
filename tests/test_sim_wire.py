"""Replay the real Asterisk 22 transcripts against the simulator and compare every message field by field.

Header names, their order and their values must match; only volatile values
(timestamps, uptime, durations, Asterisk's channel sequence numbers) are
blanked.  Answered calls (02, 04) use a fake FastAGI citizen, so the events
the IVR conversation itself produces (DTMF, PLAYBACKSTATUS…) are not
compared; everything before the AGI starts and the whole teardown is.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from callcenter.sim import transcripts
from callcenter.sim.ami_wire import Headers, encode
from callcenter.sim.call_engine import callback_agi_arguments
from callcenter.sim.citizens import HANG_UP, CitizenBook, CitizenScript, Pickup
from callcenter.sim.simulator import SimConfig, Simulator

FIXTURES = Path(__file__).parent / "fixtures" / "asterisk"

BOOK = CitizenBook(by_number={
    "100": CitizenScript.keys("1", "1", ring_seconds=1),
    "102": CitizenScript(replies=(HANG_UP,), hangup_after_prompts=0, ring_seconds=1),
    "200": CitizenScript(pickup=Pickup.BUSY, ring_seconds=1),
    "201": CitizenScript(pickup=Pickup.CONGESTION, ring_seconds=1),
    "202": CitizenScript(pickup=Pickup.NO_ANSWER, ring_seconds=1),
    "203": CitizenScript(pickup=Pickup.REJECTED, ring_seconds=1),
    "999": CitizenScript(pickup=Pickup.INVALID),
})


class FakeAgi:
    """Stands in for the AGI helper's run_agi_session; can hold the call 'in the IVR' until released."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, agi_url, env, script, variables, *, time_scale):
        self.calls.append({"url": agi_url, "env": env, "variables": variables})
        await self.release.wait()
        citizen = script.hangup_after_prompts is not None
        return SimpleNamespace(hung_up_by="citizen" if citizen else "ivr")


class RawAmi:
    """A bare AMI client: bytes on the wire, messages as ordered header lists."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> tuple["RawAmi", bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        banner = await asyncio.wait_for(reader.readline(), 5)
        return cls(reader, writer), banner

    def send(self, headers: Headers) -> None:
        self.writer.write(encode(headers))

    async def read(self) -> Headers:
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        return [transcripts._header(line) for line in raw.decode("utf-8").split("\r\n") if line]

    async def read_n(self, n: int) -> list[Headers]:
        return [await self.read() for _ in range(n)]

    async def close(self) -> None:
        self.writer.close()


def _without_agi_arguments(message: Headers) -> Headers:
    """The transcripts were recorded before [callback-ivr] passed the call variables as AGI arguments
    (AGI(url,ATTEMPT_ID=…,…)): an AGI application's data is compared up to its first argument."""
    if ("Application", "AGI") not in message:
        return message
    return [(k, v.split(",", 1)[0] if k in ("AppData", "ApplicationData") else v) for k, v in message]


def assert_same(got: list[Headers], expected: list[Headers]) -> None:
    got_n = [transcripts.normalise(_without_agi_arguments(m)) for m in got]
    exp_n = [transcripts.normalise(_without_agi_arguments(m)) for m in expected]
    for i, (g, e) in enumerate(zip(got_n, exp_n)):
        assert g == e, f"message {i} differs:\n got      {g}\n expected {e}"
    assert len(got_n) == len(exp_n)


@pytest.fixture
async def sim():
    agi = FakeAgi()
    simulator = Simulator(SimConfig(ami_port=0, time_scale=0.01, noise_per_call=0, book=BOOK), agi_session=agi)
    await simulator.start()
    simulator.fake_agi = agi
    yield simulator
    await simulator.close()


async def replay(sim: Simulator, name: str) -> None:
    """Send each client segment when the previous received segment has fully arrived; compare everything."""
    segments = transcripts.load(FIXTURES / name)
    client, banner = await RawAmi.connect(sim.port)
    assert banner == b"Asterisk Call Manager/11.0.0\r\n"
    try:
        for segment in segments:
            if segment.direction == transcripts.SENT:
                for message in segment.messages:
                    client.send(message)
            else:
                assert_same(await client.read_n(len(segment.messages)), segment.messages)
    finally:
        await client.close()


@pytest.mark.parametrize("name", [
    "01-ping-status-errors.ami.txt",
    "05-busy.ami.txt",
    "06-congestion.ami.txt",
    "07-no-answer-timeout.ami.txt",
    "08-rejected-21.ami.txt",
    "09-no-such-extension.ami.txt",
])
async def test_transcript_replays_field_by_field(sim, name):
    await replay(sim, name)
    # The replay sent each Originate exactly once and the simulator logged it.
    assert len(sim.ami.originates_received()) == len(set(sim.ami.originates_received()))


def _citizen_priority_blank(message: Headers) -> Headers:
    if ("Uniqueid", "other-dtmf") not in message:
        return message
    return [(k, "*" if k == "Priority" else v) for k, v in message]


def _events(messages: list[Headers]) -> list[str]:
    return [dict(m).get("Event", dict(m).get("Response", "")) for m in messages]


async def test_answered_ivr_hangup_matches_transcript_02(sim):
    segments = transcripts.load(FIXTURES / "02-answered-dtmf-111.ami.txt")
    assert [s.direction for s in segments] == [transcripts.SENT, transcripts.RECEIVED] * 4
    login, booted, originate, ringing, csc, live, logoff, goodbye = (s.messages for s in segments)
    sim.fake_agi.release.clear()          # the call stays in the IVR until CoreShowChannels has been answered
    client, _ = await RawAmi.connect(sim.port)
    try:
        client.send(login[0])
        assert_same(await client.read_n(len(booted)), booted)
        client.send(originate[0])
        assert_same(await client.read_n(len(ringing)), ringing)             # queued … up to the AGI start
        client.send(csc[0])
        n_list = 1 + 2 + 1
        assert_same(await client.read_n(n_list), live[:n_list])            # CoreShowChannels while in the IVR
        sim.fake_agi.release.set()
        tail_start = _events(live).index("SoftHangupRequest")              # the IVR hangs up
        # The citizen leg's dialplan position (Priority) is the real citizen's SendDTMF/Wait script, which
        # the simulator does not model; everything else in the teardown must match.
        assert_same([_citizen_priority_blank(m) for m in await client.read_n(len(live) - tail_start)],
                    [_citizen_priority_blank(m) for m in live[tail_start:]])
        client.send(logoff[0])
        assert_same(await client.read_n(len(goodbye)), goodbye)
    finally:
        await client.close()
    env = sim.fake_agi.calls[0]["env"]
    agi_lines = (FIXTURES / "02-answered-dtmf-111.agi.txt").read_text(encoding="utf-8").splitlines()
    expected_env = [transcripts._header(line[3:]) for line in agi_lines if line.startswith("<< agi_")]
    # agi_arg_N come last, from the dialplan's arguments (which the transcript's dialplan did not pass yet).
    assert [k for k, _ in expected_env] == [k for k in env if not k.startswith("agi_arg_")]
    passed = [env[k] for k in env if k.startswith("agi_arg_")]
    assert passed == callback_agi_arguments(sim.fake_agi.calls[0]["variables"])
    for key, value in expected_env:
        if key not in ("agi_threadid", "agi_channel"):
            assert env[key] == value, key
    assert transcripts.normalise([("c", env["agi_channel"])]) == transcripts.normalise(
        [("c", dict(expected_env)["agi_channel"])])
    assert sim.fake_agi.calls[0]["variables"] == {"TICKET_ID": "24050000001", "ATTEMPT_ID": "dtmf"}


async def test_citizen_hangup_matches_transcript_04(sim):
    segments = transcripts.load(FIXTURES / "04-answered-hangup-mid-question.ami.txt")
    received = [s for s in segments if s.direction == transcripts.RECEIVED]
    sent = [s for s in segments if s.direction == transcripts.SENT]
    call = received[1].messages
    client, _ = await RawAmi.connect(sim.port)
    try:
        client.send(sent[0].messages[0])
        await client.read_n(len(received[0].messages))
        client.send(sent[1].messages[0])
        got = await client.read_n(len(call))
    finally:
        await client.close()
    names = _events(call)
    bridge = names.index("LocalBridge") + 1
    assert_same(got[:bridge], call[:bridge])                        # the pre-answer prelude, message by message
    routed = {"Newchannel", "Newstate", "DialEnd", "OriginateResponse", "Hangup"}
    assert_same([m for m in got if _events([m])[0] in routed], [m for m in call if _events([m])[0] in routed])
    tail = next(i for i, m in enumerate(call) if dict(m).get("Application") == "Hangup")
    got_tail = next(i for i, m in enumerate(got) if dict(m).get("Application") == "Hangup")
    assert_same(got[got_tail:], call[tail:])                        # the citizen-hangup teardown, exactly


async def test_filter_action_includes_only_the_named_events(sim):
    """Asterisk's Filter semantics on the simulator, with the very regex AmiLink sends (mask left 'on')."""
    from callcenter.telephony.ami_events import filter_regex
    client, _ = await RawAmi.connect(sim.port)
    try:
        client.send([("Action", "Login"), ("Username", "callcenter"), ("Secret", "callcenter"), ("Events", "on")])
        await client.read_n(2)
        client.send([("Action", "Filter"), ("ActionID", "f1"), ("Operation", "Add"), ("Filter", filter_regex())])
        assert await client.read() == [("Response", "Success"), ("ActionID", "f1"),
                                       ("Message", "Filter Added Successfully")]
        client.send([("Action", "Filter"), ("ActionID", "f2"), ("Filter", "Event: (")])
        assert dict(await client.read())["Response"] == "Error"
        client.send([("Action", "Originate"), ("ActionID", "o1"), ("Channel", "Local/200@citizen-sim"),
                     ("Context", "callback-ivr"), ("Exten", "s"), ("Priority", "1"), ("Async", "true"),
                     ("ChannelId", "c1"), ("OtherChannelId", "o2")])
        names = []
        while names.count("Hangup") < 2:
            names.append(dict(await client.read()).get("Event") or "Response")
    finally:
        await client.close()
    assert names == ["Response", "Newchannel", "Newchannel", "Newstate", "OriginateResponse", "DialEnd",
                     "Hangup", "Hangup"]          # no VarSet/Newexten/HangupRequest/DeviceStateChange


async def test_events_action_masks_by_class(sim):
    client, _ = await RawAmi.connect(sim.port)
    try:
        client.send([("Action", "Ping"), ("ActionID", "p0")])
        assert dict(await client.read())["Ping"] == "Pong"          # allowed before login, as in Asterisk
        client.send([("Action", "Status"), ("ActionID", "s0")])
        assert dict(await client.read())["Message"] == "Permission denied"
        client.send([("Action", "Login"), ("Username", "callcenter"), ("Secret", "callcenter"), ("Events", "off")])
        assert dict(await client.read())["Message"] == "Authentication accepted"   # and no FullyBooted
        client.send([("Action", "Events"), ("ActionID", "e1"), ("EventMask", "dialplan")])
        assert await client.read() == [("Response", "Success"), ("ActionID", "e1"), ("Events", "On")]
        client.send([("Action", "Originate"), ("ActionID", "o1"), ("Channel", "Local/200@citizen-sim"),
                     ("Context", "callback-ivr"), ("Exten", "s"), ("Async", "true"),
                     ("Variable", "TICKET_ID=1,ATTEMPT_ID=2")])
        assert dict(await client.read())["Message"] == "Originate successfully queued"
        events = [dict(await client.read()) for _ in range(6)]
    finally:
        await client.close()
    assert {e["Privilege"] for e in events} == {"dialplan,all"}
    assert [e["Event"] for e in events] == ["Newexten"] + ["VarSet"] * 4 + ["Newexten"]
