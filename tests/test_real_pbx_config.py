"""The shipped docker/asterisk/*.conf on the real Asterisk 22: no warnings, and the AMI event filter
lets through every event the service routes (and nothing of the noise it exists to drop).
"""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from callcenter.hotline.service import FOLLOWED
from callcenter.hotline.state import HotlineState
from callcenter.telephony.ami_events import EVENTS_WE_USE, LIST_EVENTS
from callcenter.telephony.ami_parser import AmiParser

pytestmark = pytest.mark.real_asterisk
CODE = Path(__file__).resolve().parent.parent / "callcenter"
# The modules that read AMI events and the files of ours Asterisk parses.
OUR_CONFIGS = ("queues.conf", "extensions.conf", "manager.conf")
CONFIG_SOURCES = ("app_queue", "pbx_config", "manager", "app_mixmonitor", "func_groupcount")


def events_the_code_reads() -> set[str]:
    """Every event name the code dispatches on, found in the code itself (not a hand-kept list)."""
    names = set(FOLLOWED) | {m[len("_on_"):] for m in dir(HotlineState) if m.startswith("_on_")}
    pattern = re.compile(r'(?:\.event|\bname)\s*==\s*"([A-Za-z]+)"|on_event\(\s*"([A-Za-z]+)"')
    for path in (CODE / "telephony").glob("*.py"):
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            names.add(match.group(1) or match.group(2))
    return names


def test_the_code_reads_no_event_the_filter_drops():
    read = events_the_code_reads()
    assert {"Hangup", "Newstate", "AgentConnect", "UserEvent"} <= read          # the scan does find them
    assert read - set(EVENTS_WE_USE) == set(), "add them to ami_events (and manager.conf's eventfilter)"


def test_asterisk_starts_without_a_warning_about_our_configuration(real_asterisk):
    source = re.compile(r"\] (?:WARNING|ERROR)\[[^\]]*\](?:\[[^\]]*\])? (?:" + "|".join(CONFIG_SOURCES) + r")\.c:")
    bad = [line for line in real_asterisk.messages().splitlines()
           if source.search(line) or (re.search(r"\] (?:WARNING|ERROR)\[", line)
                                      and any(conf in line for conf in OUR_CONFIGS))]
    assert bad == []
    for context in ("callback-dialout", "callback-ivr", "hotline", "hotline-hangup", "hotline-exit"):
        assert "There is no existence" not in real_asterisk.cli(f"dialplan show {context}"), context


class RawAmi:
    """A plain AMI session as the callcenter user: what manager.conf's filter lets through, unaltered."""

    def __init__(self, reader, writer) -> None:
        self.reader, self.writer, self.parser = reader, writer, AmiParser()
        self.seen: list = []

    @classmethod
    async def open(cls, port: int) -> "RawAmi":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ami = cls(reader, writer)
        ami.send({"Action": "Login", "Username": "callcenter", "Secret": "callcenter", "Events": "on"})
        return ami

    def send(self, action: dict[str, str]) -> None:
        self.writer.write("".join(f"{k}: {v}\r\n" for k, v in action.items()).encode() + b"\r\n")

    async def read_until(self, wanted: set[str], timeout: float) -> set[str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        names: set[str] = set()
        while not wanted <= names and loop.time() < deadline:
            try:
                data = await asyncio.wait_for(self.reader.read(65536), max(0.05, deadline - loop.time()))
            except asyncio.TimeoutError:
                break
            for message in self.parser.feed(data):
                if message.event:
                    names.add(message.event)
        return names

    async def close(self) -> None:
        self.writer.close()


async def test_every_event_the_service_routes_arrives_through_the_shipped_filter(real_asterisk):
    ami = await RawAmi.open(real_asterisk.ami_port)
    try:
        agent = {"Queue": "counsel", "Interface": "Local/agent@agents"}
        ami.send({"Action": "QueueAdd", "MemberName": "agent", **agent})
        ami.send({"Action": "QueuePause", "Paused": "true", **agent})
        ami.send({"Action": "QueuePause", "Paused": "false", **agent})
        calls = [("Local/wait@callers", "13800000041", "hotline-in"),        # queue → agent → complete
                 ("Local/greeting@callers", "13800000042", "hotline-in"),    # UserEvent HotlineAbandoned
                 ("Local/13900000200@citizens", "s", "callback-hangup")]      # busy: Failure, DialEnd-free
        for i, (channel, exten, context) in enumerate(calls):
            ami.send({"Action": "Originate", "Channel": channel, "Exten": exten, "Context": context,
                      "Priority": "1", "Async": "true", "ActionID": f"o{i}", "Timeout": "5000"})
        wanted = {"FullyBooted", "OriginateResponse", "Newchannel", "Newstate", "Hangup", "QueueMemberAdded",
                  "QueueMemberPause", "QueueCallerJoin", "QueueCallerLeave", "AgentCalled", "AgentConnect",
                  "AgentComplete", "QueueMemberStatus", "UserEvent"}
        seen = await ami.read_until(wanted, timeout=20)
        ami.send({"Action": "QueueRemove", **agent})
        seen |= await ami.read_until({"QueueMemberRemoved"}, timeout=5)
    finally:
        await ami.close()
    assert wanted | {"QueueMemberRemoved"} <= seen, f"missing: {wanted - seen}"
    assert seen <= set(EVENTS_WE_USE) | set(LIST_EVENTS), f"the filter let noise through: {seen - set(EVENTS_WE_USE)}"
