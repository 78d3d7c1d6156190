"""How the simulator reads an Originate: dial strings, caller ids, variables, ids."""
from __future__ import annotations

import pytest

from callcenter.sim.ami_wire import ActionReader, ClientAction
from callcenter.sim.call_engine import parse_originate


def originate(**headers) -> ClientAction:
    base = {"Action": "Originate", "Context": "callback-ivr", "Exten": "s", "Async": "true"}
    base.update(headers)
    return ClientAction(list(base.items()))


@pytest.mark.parametrize("dial, tech, number, context", [
    ("Local/13800001234@citizen-sim", "Local", "13800001234", "citizen-sim"),
    ("PJSIP/13800001234@trunk", "PJSIP", "13800001234", "trunk"),
    ("PJSIP/13800001234", "PJSIP", "13800001234", ""),
])
def test_number_comes_from_the_dial_string(dial, tech, number, context):
    r = parse_originate(originate(Channel=dial))
    assert (r.tech, r.number, r.dial_context) == (tech, number, context)


def test_caller_id_variables_and_ids():
    action = originate(Channel="Local/1@x", CallerID='"Xisanqi 12345" <01082345678>', ChannelId="c",
                       OtherChannelId="o", Timeout="6000")
    action.headers += [("Variable", "TICKET_ID=24050000001,ATTEMPT_ID=05"), ("Variable", "CALLCENTER_SCRIPT=v1")]
    r = parse_originate(action)
    assert (r.caller_name, r.caller_num, r.channel_id, r.other_channel_id) == ("Xisanqi 12345", "01082345678", "c", "o")
    assert r.variables == (("TICKET_ID", "24050000001"), ("ATTEMPT_ID", "05"), ("CALLCENTER_SCRIPT", "v1"))
    assert r.timeout_s == 6.0 and r.is_async


@pytest.mark.parametrize("headers, message", [
    ({}, "Channel not specified"),
    ({"Channel": "Local/1@x", "Timeout": "soon"}, "Invalid timeout"),
])
def test_unplaceable_originates_are_errors(headers, message):
    with pytest.raises(ValueError, match=message):
        parse_originate(originate(**headers))


def test_action_reader_accepts_bare_lf_and_split_chunks():
    reader = ActionReader()
    assert reader.feed(b"Action: Ping\nActionID: 1\n") == []
    first = reader.feed(b"\nAction: Log")
    second = reader.feed(b"off\r\n\r\n")
    assert [a.name for a in first + second] == ["Ping", "Logoff"] and first[0].action_id == "1"
