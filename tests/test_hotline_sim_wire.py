"""The simulator's queues against the real Asterisk 22 capture (transcript 10), field by field.

The client side of the transcript is replayed as it was sent; every queue
event and every Response the simulator sends back must carry the same
header names in the same order with the same values, except clock values
(epoch stamps, whole seconds waited or talked) and Asterisk's own ids.
Channel and dialplan noise between them is not compared here (test_sim_wire
covers the call prelude).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.sim import transcripts
from callcenter.sim.ami_wire import Headers
from callcenter.sim.queues import AgentScript, CallerScript, QueueEngine
from callcenter.sim.simulator import SimConfig, Simulator
from callcenter.telephony.ami_events import LIST_EVENTS, QUEUE_EVENTS

from .test_sim_wire import RawAmi, assert_same

TRANSCRIPT = Path(__file__).parent / "fixtures" / "asterisk" / "10-queue-answered-then-abandoned.ami.txt"
QUEUE_NAMES = set(QUEUE_EVENTS) | set(LIST_EVENTS)
CLOCK_VALUES = {"LoginTime", "LastCall", "LastPause", "HoldTime", "TalkTime", "RingTime", "Holdtime",
                "DestUniqueid", "Completed", "Abandoned", "Wait"}


def relevant(message: Headers) -> bool:
    first = message[0][0]
    return first == "Response" or (first == "Event" and message[0][1] in QUEUE_NAMES)


def blank_clock(message: Headers) -> Headers:
    return [(k, "*" if k in CLOCK_VALUES else v) for k, v in message]


@pytest.fixture
async def queue_sim():
    sim = Simulator(SimConfig(ami_port=0, time_scale=0.05, noise_per_call=0))
    # [agent-sim] agent1: Wait(2), Answer, Wait(5); [caller-sim] 300 waits 20 s, 301 only 4 s.
    sim.engine.queues = QueueEngine(sim.engine, agents={"agent1": AgentScript(ring_seconds=2, talk_seconds=5)},
                                    callers={"300": CallerScript(patience=20), "301": CallerScript(patience=4)})
    await sim.start()
    yield sim
    await sim.close()


async def test_queue_transcript_10_replays_field_by_field(queue_sim):
    segments = transcripts.load(TRANSCRIPT)
    client, _ = await RawAmi.connect(queue_sim.port)
    compared: list[str] = []
    try:
        for segment in segments:
            if segment.direction == transcripts.SENT:
                for message in segment.messages:
                    client.send(message)
                continue
            expected = [m for m in segment.messages if relevant(m)]
            got: list[Headers] = []
            while len(got) < len(expected):
                message = await client.read()
                if relevant(message):
                    got.append(message)
            assert_same([blank_clock(m) for m in got], [blank_clock(m) for m in expected])
            compared += [dict(m).get("Event", "Response") for m in expected]
    finally:
        await client.close()
    assert {"QueueMemberAdded", "QueueCallerJoin", "AgentCalled", "QueueCallerLeave", "AgentConnect",
            "QueueMemberStatus", "QueueParams", "QueueMember", "QueueStatusComplete", "AgentComplete",
            "QueueMemberPause", "QueueCallerAbandon", "QueueMemberRemoved"} <= set(compared)
    assert compared[-1] == "Response"        # through the Logoff: the whole capture, not a prefix
    truth = queue_sim.engine.queues.truth
    assert sorted(t.outcome for t in truth.values()) == ["abandoned", "answered"]


async def test_queue_actions_refuse_like_asterisk(queue_sim):
    client, _ = await RawAmi.connect(queue_sim.port)
    try:
        client.send([("Action", "Login"), ("Username", "callcenter"), ("Secret", "callcenter"), ("Events", "off")])
        await client.read()
        client.send([("Action", "QueueRemove"), ("ActionID", "r"), ("Queue", "counsel"), ("Interface", "PJSIP/x")])
        assert await client.read() == [("Response", "Error"), ("ActionID", "r"),
                                       ("Message", "Unable to remove interface: Not there")]
        client.send([("Action", "QueueAdd"), ("ActionID", "a"), ("Queue", "nope"), ("Interface", "PJSIP/x")])
        assert dict(await client.read())["Message"] == "Unable to add interface to queue: No such queue"
        client.send([("Action", "QueuePause"), ("ActionID", "p"), ("Interface", "PJSIP/x"), ("Paused", "true")])
        assert dict(await client.read())["Message"] == "Interface not found"
        client.send([("Action", "QueueAdd"), ("ActionID", "a2"), ("Queue", "counsel"), ("Interface", "PJSIP/x")])
        assert dict(await client.read())["Response"] == "Success"
        client.send([("Action", "QueueAdd"), ("ActionID", "a3"), ("Queue", "counsel"), ("Interface", "PJSIP/x")])
        assert dict(await client.read())["Message"] == "Unable to add interface: Already there"
        client.send([("Action", "QueueStatus"), ("ActionID", "s"), ("Queue", "counsel")])
        items = [await client.read() for _ in range(4)]
    finally:
        await client.close()
    assert [dict(m).get("Event") for m in items[1:]] == ["QueueParams", "QueueMember", "QueueStatusComplete"]
    assert dict(items[2])["Location"] == "PJSIP/x" and items[2][-1] == ("ActionID", "s")
