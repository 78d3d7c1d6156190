"""What the IVR needs from a live call, independent of how it is carried.

The runner drives this interface; :mod:`callcenter.telephony.agi` implements it
over a FastAGI socket and the tests implement it in memory.  Keeping AGI
wire details out of the IVR lets the script logic be tested without sockets.

Every method may raise :class:`CallerHungUp` (the citizen left) or
:class:`ChannelFailure` (the transport broke or answered nonsense); both end
the script, and both derive from :class:`ChannelGone` so the runner can treat
them alike where the difference does not matter.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


@dataclass(frozen=True)
class CallInfo:
    """Who the transport says is on the line, before any variable is read."""
    channel_id: str          # Asterisk's Uniqueid of our leg: the ChannelId we chose at Originate
    channel_name: str = ""   # e.g. Local/100@citizen-sim-00000021;1
    caller_id: str = ""
    route: str = ""          # the FastAGI script name, e.g. "callback"
    arguments: tuple[str, ...] = ()   # the dialplan's AGI(url,arg1,…) arguments, in order


class ChannelGone(Exception):
    """The call cannot continue; ``endpos`` is how far a recording got, if one was running."""

    def __init__(self, reason: str, *, endpos: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.endpos = endpos


class CallerHungUp(ChannelGone):
    """The citizen hung up (``HANGUP`` line, ``result=-1``, a closed socket or a dead channel)."""


class ChannelFailure(ChannelGone):
    """The transport failed: garbage, an unknown command, a timeout."""


class RecordingFailed(Exception):
    """RECORD FILE could not start (e.g. the file could not be written); the call itself is fine."""


@dataclass(frozen=True)
class DigitsResult:
    digits: str          # keys pressed, '' if none
    timed_out: bool      # the wait ended by timeout rather than by max digits / '#'


@dataclass(frozen=True)
class RecordResult:
    digit: str | None    # the escape digit that ended the recording, or None (silence / max length)
    endpos: int          # length of the recording in 8 kHz samples


class Channel(Protocol):
    async def answer(self) -> None: ...

    async def hangup(self) -> None: ...

    async def get_variable(self, name: str) -> str | None:
        """The channel variable's value, or None when it is not set."""

    async def set_variable(self, name: str, value: str) -> None: ...

    async def verbose(self, message: str, level: int = 1) -> None: ...

    async def stream_file(self, sound: str, escape_digits: str = "") -> str | None:
        """Play ``sound``; return the escape digit pressed, or None if it played to the end."""

    async def play_sounds(self, sounds: Sequence[str]) -> None:
        """Play ``sounds`` one after another with no key to interrupt them (one command where the
        transport has one: a sentence of five sound files is then one round trip, not five)."""

    async def get_data(self, sound: str, timeout_ms: int, max_digits: int) -> DigitsResult: ...

    async def wait_for_digit(self, timeout_ms: int) -> str | None: ...

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None: ...

    async def say_number(self, number: int, escape_digits: str = "") -> str | None: ...

    async def say_datetime(self, epoch: int, escape_digits: str = "", fmt: str = "",
                           timezone: str = "") -> str | None: ...

    async def record_file(self, path: str, fmt: str, escape_digits: str, timeout_ms: int, *,
                          beep: bool = False, silence_s: int | None = None) -> RecordResult:
        """Record to ``path + '.' + fmt``; raises :class:`RecordingFailed` if it cannot start."""
