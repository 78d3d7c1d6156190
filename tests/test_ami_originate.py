"""OriginateHandle settles to the same outcome whatever order Asterisk's racing events arrive in.

The OriginateResponse and the two legs' Hangups come in a different order
in every transcript (07 even sends the OriginateResponse last); here each
transcript's real messages are fed in every possible order.
"""
from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from callcenter.sim import transcripts
from callcenter.telephony.ami_originate import CallStatus, OriginateHandle, OutcomeSource
from callcenter.telephony.ami_parser import AmiMessage

FIXTURES = Path(__file__).parent / "fixtures" / "asterisk"
CASES = [  # transcript, ChannelId, OtherChannelId, status, reason, cause
    ("02-answered-dtmf-111", "chan-dtmf", "other-dtmf", CallStatus.ANSWERED, 4, 0),
    ("03-answered-speech-record", "chan-speech", "other-speech", CallStatus.ANSWERED, 4, 16),
    ("05-busy", "chan-05", "other-05", CallStatus.NOT_ANSWERED, 5, 17),
    ("06-congestion", "chan-06", "other-06", CallStatus.NOT_ANSWERED, 8, 34),
    ("07-no-answer-timeout", "chan-07", "other-07", CallStatus.NOT_ANSWERED, 3, 19),
    ("08-rejected-21", "chan-08", "other-08", CallStatus.NOT_ANSWERED, 0, 21),
    ("09-no-such-extension", "chan-noext", "other-noext", CallStatus.NOT_ANSWERED, 0, 0),
]


def key_messages(name: str) -> list[AmiMessage]:
    segments = transcripts.load(FIXTURES / f"{name}.ami.txt")
    messages = [AmiMessage(m) for s in segments if s.direction == transcripts.RECEIVED for m in s.messages]
    return [m for m in messages if m.event in ("OriginateResponse", "Hangup", "Newstate")]


def feed(handle: OriginateHandle, message: AmiMessage) -> None:
    if message.event == "OriginateResponse":
        handle.on_originate_response(message)
    else:
        handle.on_channel_event(message)


@pytest.mark.parametrize("name, chan, other, status, reason, cause", CASES)
async def test_any_arrival_order_gives_the_same_outcome(name, chan, other, status, reason, cause):
    messages = key_messages(name)
    orders = list(itertools.permutations(messages)) if len(messages) <= 6 else [messages, messages[::-1]]
    for order in orders:
        handle = OriginateHandle(action_id="a", channel_id=chan, other_channel_id=other, epoch=1,
                                 settle_grace=0.01, on_settled=lambda h: None)
        for message in order:
            feed(handle, message)
        outcome = await asyncio.wait_for(handle.outcome, 1)
        assert (outcome.status, outcome.reason, outcome.cause, outcome.source) == (
            status, reason, cause, OutcomeSource.ORIGINATE_RESPONSE), [m.event for m in order]


async def test_failure_waits_for_the_cause_bearing_hangup():
    """Busy: the OriginateResponse comes first, the cause (17) only with the ;2 leg's Hangup after it."""
    by_event = {(m.event, m.get("Uniqueid")): m for m in key_messages("05-busy")}
    handle = OriginateHandle(action_id="a", channel_id="chan-05", other_channel_id="other-05", epoch=1,
                             settle_grace=5.0, on_settled=lambda h: None)
    handle.on_originate_response(by_event[("OriginateResponse", "chan-05")])
    await asyncio.sleep(0)
    assert not handle.outcome.done()
    handle.on_channel_event(by_event[("Hangup", "other-05")])
    assert not handle.outcome.done()
    handle.on_channel_event(by_event[("Hangup", "chan-05")])
    assert handle.outcome.done() and handle.outcome.result().cause == 17


async def test_answered_call_is_not_settled_by_its_originate_response_alone():
    response = next(m for m in key_messages("02-answered-dtmf-111") if m.event == "OriginateResponse")
    handle = OriginateHandle(action_id="a", channel_id="chan-dtmf", other_channel_id="other-dtmf", epoch=1,
                             settle_grace=0.01, on_settled=lambda h: None)
    handle.on_originate_response(response)
    await asyncio.sleep(0.05)
    assert not handle.outcome.done()              # the call is in the IVR: the outcome waits for its Hangup
