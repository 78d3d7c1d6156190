"""What the dialer needs from a PBX, so campaigns never import the AMI transport.

``callcenter.telephony`` adapts the real AMI link (and through it the
simulator) to this protocol; tests may use any object that fits it.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OriginateRequest:
    action_id: str
    channel_id: str
    other_channel_id: str
    dial_string: str                 # e.g. PJSIP/13800000001@trunk
    caller_id: str
    variables: dict[str, str] = field(default_factory=dict)
    context: str = "callback-ivr"
    exten: str = "s"
    priority: int = 1
    timeout_ms: int = 30000


@dataclass(frozen=True)
class OriginateResult:
    answered: bool                   # OriginateResponse Response: Success (Reason 4)
    reason: int | None               # OriginateResponse Reason
    cause: int | None = None         # hangup cause seen for our channel before the response, if any


class CallHandle(Protocol):
    """Futures that the PBX adapter resolves as the call progresses."""
    sent: asyncio.Future             # True once the Originate left on the wire; exception if it never did
    result: asyncio.Future           # OriginateResult
    hangup: asyncio.Future           # int cause, when our channel hangs up (answered calls)
    # Optional: ``dial_status`` — the DialStatus (BUSY, NOANSWER, ANSWER…) when our channel's own Dial
    # in the dialplan ends (the desk's agent leg dialling the citizen); never resolved otherwise.


class LinkLost(ConnectionError):
    """The AMI link dropped while the call was in flight: its fate must be reconciled."""


class Pbx(Protocol):
    @property
    def connected(self) -> bool: ...

    async def originate(self, request: OriginateRequest) -> CallHandle: ...

    async def live_channel_ids(self) -> set[str]:
        """Uniqueids of every channel the PBX has now (CoreShowChannels)."""

    async def wait_hangup(self, channel_id: str) -> asyncio.Future:
        """A future for the hang-up cause of an existing channel (after a reconnect or restart)."""

    # Optional: ``async def global_var(name) -> str | None`` — a dialplan global (the channel guard's limit).
