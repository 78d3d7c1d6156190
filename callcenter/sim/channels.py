"""Live simulated channels: what Status and CoreShowChannels report, and the header block every channel event repeats."""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from .ami_wire import Headers

STATE_DOWN, STATE_RING, STATE_RINGING, STATE_UP, STATE_BUSY = 0, 4, 5, 6, 7
STATE_DESC = {0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}

# Q.850 causes as Asterisk spells them in Hangup's Cause-txt.
CAUSE_TXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
}

UNKNOWN = "<unknown>"


@dataclass
class SimChannel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = STATE_DOWN
    caller_num: str = UNKNOWN
    caller_name: str = UNKNOWN
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    language: str = "en"
    account_code: str = ""
    application: str = ""
    app_data: str = ""
    created: float = field(default_factory=time.monotonic)

    def block(self, prefix: str = "") -> Headers:
        """The 15 headers Asterisk repeats in every channel event, optionally prefixed (Dest…, LocalOne…)."""
        p = prefix
        return [
            (f"{p}Channel", self.name), (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (f"{p}CallerIDNum", self.caller_num), (f"{p}CallerIDName", self.caller_name),
            (f"{p}ConnectedLineNum", self.connected_num), (f"{p}ConnectedLineName", self.connected_name),
            (f"{p}Language", self.language), (f"{p}AccountCode", self.account_code),
            (f"{p}Context", self.context), (f"{p}Exten", self.exten), (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid), (f"{p}Linkedid", self.linkedid),
        ]

    def duration(self) -> str:
        seconds = int(time.monotonic() - self.created)
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"

    def seconds(self) -> int:
        return int(time.monotonic() - self.created)


class ChannelRegistry:
    """Channels alive right now, newest first (the order Asterisk lists them in transcript 02)."""

    def __init__(self) -> None:
        self._channels: dict[str, SimChannel] = {}
        self._sequence = itertools.count(0x21)

    def next_sequence(self) -> str:
        return f"{next(self._sequence):08x}"

    def add(self, channel: SimChannel) -> None:
        self._channels[channel.uniqueid] = channel

    def remove(self, channel: SimChannel) -> None:
        self._channels.pop(channel.uniqueid, None)

    def live(self) -> list[SimChannel]:
        return list(reversed(self._channels.values()))

    def by_name(self, name: str) -> SimChannel | None:
        return next((c for c in self._channels.values() if c.name == name), None)

    def __len__(self) -> int:
        return len(self._channels)
