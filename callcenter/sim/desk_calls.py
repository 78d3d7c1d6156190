"""Agent-first calls of the human desk in the simulator: the agent's leg answers, the citizen is dialled,
the two are bridged and MixMonitor writes the recording where ``DESK_RECORDING`` says.

The event shapes follow Asterisk 22's for a Dial from the dialplan (DialBegin/DialEnd on the
agent's ;1 leg, then a basic bridge with BridgeEnter/BridgeLeave); no real-Asterisk transcript
of this call is kept yet, so what the service sees is checked against the real PBX instead: a
bridge and a recording file (tests/test_real_pbx_desk.py), and how a call that goes wrong ends —
the agent's phone busy or unanswered, the citizen's DialStatus — from one table
(tests/desk_call_outcomes.py) both tests/test_real_pbx_desk_scenarios.py and
tests/test_desk_sim_calls.py hold to.
"""
from __future__ import annotations

import uuid
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .ami_wire import event
from .channels import STATE_BUSY, STATE_RINGING, STATE_UP, SimChannel
from .citizens import Pickup

if TYPE_CHECKING:
    from .call_engine import CallEngine, OriginateRequest

DESK_CONTEXT = "desk-callback"
AGENT_ANSWER_S = 0.5        # the agent picks up their own phone at once
TALK_S = 2.0                # how long a bridged desk call lasts in the simulator
#: A citizen who does not answer: (their leg's cause, the agent leg's DialStatus, the agent legs' cause), as the
#: real Asterisk 22 reports them (tests/test_real_pbx_desk_scenarios.py): a number refused or not allocated
#: ends the Dial as NOANSWER (not CHANUNAVAIL: the trunk's channel was created) and its cause reaches the agent.
_CAUSES = {Pickup.BUSY: (17, "BUSY", 16), Pickup.NO_ANSWER: (19, "NOANSWER", 16),
           Pickup.CONGESTION: (34, "CONGESTION", 16), Pickup.REJECTED: (21, "NOANSWER", 21),
           Pickup.UNALLOCATED: (1, "NOANSWER", 1), Pickup.INVALID: (1, "NOANSWER", 1)}


@dataclass(frozen=True)
class DeskBridge:
    """Ground truth of one bridged desk call, for tests."""
    agent_channel: str
    citizen_number: str
    recording: str


def _write_silence(path: str, seconds: float) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * int(8000 * seconds))


async def _agent_not_picking_up(engine: "CallEngine", r: "OriginateRequest", one: SimChannel, two: SimChannel,
                               pickup: Pickup, report: Callable[[bool], None]) -> None:
    """The agent's own phone is busy or rings out: the Originate fails and nobody else is called.

    As the real Asterisk 22 does (tests/test_real_pbx_desk_scenarios.py): busy fails at once with
    Reason 5 (agent leg cause 17); an unanswered phone rings until the Originate's timeout, Reason 3,
    both legs cause 19."""
    report(False)
    if pickup is Pickup.BUSY:
        engine._originate_response(r, one, 5)
        engine._hangup(one, 0)
        two.state = STATE_BUSY
        engine._ev("Newstate", two)
        engine._hangup(two, 17)
        return
    one.state = STATE_RINGING
    engine._ev("Newstate", one)
    await engine._sleep(r.timeout_s)
    engine._originate_response(r, one, 3)
    engine._hangup(one, 19)
    engine._hangup(two, 19)


async def run_desk_call(engine: "CallEngine", r: "OriginateRequest", one: SimChannel, two: SimChannel,
                        report: Callable[[bool], None]) -> None:
    """The whole call after the Originate's Newchannels: agent answers, citizen rings, bridge, hang-up.

    An agent whose username the citizen book scripts as busy or not answering does not pick up."""
    variables = dict(r.variables)
    engine._prelude_two(r, one, two)
    agent = engine.book.by_number.get(r.number)
    if agent is not None and agent.pickup in (Pickup.BUSY, Pickup.NO_ANSWER):
        await _agent_not_picking_up(engine, r, one, two, agent.pickup, report)
        return
    engine._local_bridge(one, two)
    await engine._sleep(AGENT_ANSWER_S)
    engine._exten(two, "Answer", "")
    two.state = one.state = STATE_UP
    engine._ev("Newstate", two)
    engine._ev("Newstate", one)
    report(True)
    engine._originate_response(r, one, 4)
    engine._exten(one, "NoOp", f"desk call ticket {variables.get('TICKET_ID', '')}", context=r.context,
                  exten=r.exten, priority=1)
    recording = variables.get("DESK_RECORDING", "")
    engine._exten(one, "MixMonitor", f"{recording},b", priority=4)
    engine._exten(one, "Dial", variables.get("TRUNK_DIAL", ""), priority=5)
    citizen = SimChannel(f"PJSIP/trunk-{engine.channels.next_sequence()}", str(uuid.uuid4()), one.linkedid,
                         context="from-trunk", exten=r.exten, caller_num=r.caller_num, caller_name=r.caller_name)
    engine.channels.add(citizen)
    engine._ev("Newchannel", citizen)
    engine.emit(event("DialBegin", "call,all", one.block() + citizen.block("Dest")
                      + [("DialString", variables.get("TRUNK_DIAL", "").split("/", 1)[-1])]))
    script = engine.book.script_for(r.exten)
    citizen.state = STATE_RINGING
    engine._ev("Newstate", citizen)
    await engine._sleep(min(script.ring_seconds, 60))
    if script.pickup is not Pickup.ANSWER:
        cause, status, agent_cause = _CAUSES.get(script.pickup, (19, "NOANSWER", 16))
        engine.emit(event("DialEnd", "call,all", one.block() + citizen.block("Dest") + [("DialStatus", status)]))
        engine._hangup(citizen, cause)
        engine._hangup(two, agent_cause)
        engine._hangup(one, agent_cause)
        return
    citizen.state = STATE_UP
    engine._ev("Newstate", citizen)
    engine.emit(event("DialEnd", "call,all", one.block() + citizen.block("Dest") + [("DialStatus", "ANSWER")]))
    bridge = [("BridgeUniqueid", str(uuid.uuid4())), ("BridgeType", "basic"),
              ("BridgeTechnology", "simple_bridge"), ("BridgeCreator", "<unknown>"), ("BridgeName", "<unknown>")]
    engine.emit(event("BridgeCreate", "call,all", bridge + [("BridgeNumChannels", "0")]))
    engine.emit(event("BridgeEnter", "call,all", bridge + [("BridgeNumChannels", "1")] + one.block()))
    engine.emit(event("BridgeEnter", "call,all", bridge + [("BridgeNumChannels", "2")] + citizen.block()))
    if recording:
        _write_silence(recording, TALK_S)
    engine.desk_bridges.append(DeskBridge(one.name, r.exten, recording))
    await engine._sleep(TALK_S)
    engine._ev("HangupRequest", citizen, ("Cause", "16"))
    engine.emit(event("BridgeLeave", "call,all", bridge + [("BridgeNumChannels", "1")] + citizen.block()))
    engine._hangup(citizen, 16)
    engine.emit(event("BridgeLeave", "call,all", bridge + [("BridgeNumChannels", "0")] + one.block()))
    engine.emit(event("BridgeDestroy", "call,all", bridge + [("BridgeNumChannels", "0")]))
    engine._hangup(one, 16)
    engine._hangup(two, 16)
