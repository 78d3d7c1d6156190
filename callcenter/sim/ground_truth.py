"""What the simulated PBX really did, call by call: the ground truth tests and benches check the service against.

A real Asterisk cannot tell you afterwards whether a number was ever rung
twice at once; the simulator can, so the invariants the dialer promises (no
double dial, no two live calls to one number, never more channels than the
trunk) are checked here, where the calls actually happen.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class SimCall:
    channel_id: str
    number: str
    context: str
    started: float
    ended: float | None = None


@dataclass
class CallLog:
    calls: list[SimCall] = field(default_factory=list)
    live_by_number: Counter = field(default_factory=Counter)
    live: int = 0
    max_live: int = 0
    overlapping_numbers: list[str] = field(default_factory=list)   # numbers rung while already live
    _by_channel: dict[str, SimCall] = field(default_factory=dict)

    def began(self, channel_id: str, number: str, context: str) -> None:
        call = SimCall(channel_id, number, context, time.monotonic())
        self.calls.append(call)
        self._by_channel[channel_id] = call
        if self.live_by_number[number]:
            self.overlapping_numbers.append(number)
        self.live_by_number[number] += 1
        self.live += 1
        self.max_live = max(self.max_live, self.live)

    def ended(self, channel_id: str) -> None:
        call = self._by_channel.pop(channel_id, None)
        if call is None:
            return
        call.ended = time.monotonic()
        self.live -= 1
        self.live_by_number[call.number] -= 1

    def channel_ids_dialed_twice(self) -> list[str]:
        return [cid for cid, n in Counter(c.channel_id for c in self.calls).items() if n > 1]

    def dials_per_number(self) -> Counter:
        return Counter(c.number for c in self.calls)

    def busy_seconds(self, until: float | None = None) -> float:
        """Channel-seconds in use (the numerator of trunk utilisation)."""
        now = until if until is not None else time.monotonic()
        return sum((c.ended if c.ended is not None else now) - c.started for c in self.calls)
