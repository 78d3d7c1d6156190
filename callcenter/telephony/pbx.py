"""The AMI link seen through the dialer's port (``campaigns.ports.Pbx``).

The dialer reasons in three moments — did the Originate leave, was the call
answered, when did it hang up — while the AMI link reports raw evidence that
may be cut short by an outage.  This adapter is the one place that turns the
evidence into those moments, and it is strict about doubt: whenever the link
lost what would decide a call, the dialer gets ``LinkLost`` and reconciles the
attempt from the database and the PBX's channel list; it never guesses and
never resends.
"""
from __future__ import annotations

import asyncio

from ..campaigns.ports import LinkLost, OriginateRequest, OriginateResult
from .ami import AmiError, AmiLink, AmiNotReady
from .ami_originate import CallOutcome, CallStatus, OriginateHandle
from .ami_parser import AmiMessage

ANSWERED_REASON = "4"


def _cause(message: AmiMessage) -> int:
    try:
        return int(message.get("Cause") or 0)
    except ValueError:
        return 0


def _quiet(future: asyncio.Future) -> None:
    """Futures nobody awaits (``hangup`` of an unanswered call) must not warn about their LinkLost."""
    if not future.cancelled():
        future.exception()


class AmiCall:
    """The dialer's three futures for one Originate, fed by the link's ``OriginateHandle``."""

    def __init__(self, handle: OriginateHandle | None) -> None:
        loop = asyncio.get_running_loop()
        self.handle = handle
        self.sent: asyncio.Future = loop.create_future()
        self.result: asyncio.Future = loop.create_future()
        self.hangup: asyncio.Future = loop.create_future()
        self.dial_status: asyncio.Future = loop.create_future()
        for future in (self.sent, self.result, self.hangup, self.dial_status):
            future.add_done_callback(_quiet)
        if handle is None:                      # AmiNotReady: nothing was written
            self.sent.set_exception(LinkLost("AMI link not ready; the Originate was not sent"))
            self.result.set_exception(LinkLost("not sent"))
            self.hangup.set_exception(LinkLost("not sent"))
            return
        self.sent.set_result(True)              # written to the socket: from here on it is a call, never resent
        handle.response.add_done_callback(self._on_response)
        handle.hangup.add_done_callback(self._on_hangup)
        handle.outcome.add_done_callback(self._on_outcome)
        handle.add_listener(self._on_event)

    def _on_event(self, message: AmiMessage) -> None:
        # Our channel's own Dial from the dialplan (the desk's agent leg dialling the citizen) ended.
        if message.event == "DialEnd" and message.get("Uniqueid") == self.handle.channel_id \
                and message.get("DialStatus") and not self.dial_status.done():
            self.dial_status.set_result(message.get("DialStatus"))

    def _on_response(self, future: asyncio.Future) -> None:
        # Reason 4 means answered: the IVR is already talking, don't wait for the hang-up to say so.
        if not future.cancelled() and future.result().get("Reason") == ANSWERED_REASON and not self.result.done():
            self.result.set_result(OriginateResult(answered=True, reason=4))

    def _on_hangup(self, future: asyncio.Future) -> None:
        if not future.cancelled() and not self.hangup.done():
            self.hangup.set_result(_cause(future.result()))

    def _on_outcome(self, future: asyncio.Future) -> None:
        outcome: CallOutcome = future.result()
        if not self.result.done():
            if outcome.status is CallStatus.ANSWERED:
                self.result.set_result(OriginateResult(answered=True, reason=outcome.reason))
            elif outcome.status is CallStatus.NOT_ANSWERED:
                # Cause 0 is Q.850 "not defined": no evidence (a non-existent extension reports exactly that).
                self.result.set_result(OriginateResult(answered=False, reason=outcome.reason,
                                                       cause=outcome.cause or None))
            elif outcome.status is CallStatus.NOT_PLACED:
                self.result.set_result(OriginateResult(answered=False, reason=None, cause=None))
            else:
                self.result.set_exception(LinkLost(f"call {outcome.source.value}: {outcome.detail}"))
        if not self.hangup.done():
            self.hangup.set_exception(LinkLost("the call settled without its Hangup (lost with the link)"))


class AmiPbx:
    """``campaigns.ports.Pbx`` over an :class:`AmiLink` (a real Asterisk or the simulator)."""

    def __init__(self, link: AmiLink) -> None:
        self.link = link
        self._waiters: dict[str, asyncio.Future] = {}
        link.on_disconnected(self._fail_waiters)

    @property
    def connected(self) -> bool:
        return self.link.ready

    async def originate(self, request: OriginateRequest) -> AmiCall:
        try:
            handle = self.link.originate(
                channel=request.dial_string, context=request.context, exten=request.exten,
                priority=request.priority, caller_id=request.caller_id, timeout_ms=request.timeout_ms,
                variables=request.variables, action_id=request.action_id, channel_id=request.channel_id,
                other_channel_id=request.other_channel_id)
        except AmiNotReady:
            return AmiCall(None)
        return AmiCall(handle)

    async def live_channel_ids(self) -> set[str]:
        try:
            channels = await self.link.core_show_channels()
        except AmiError as exc:
            raise LinkLost(f"CoreShowChannels failed: {exc}") from exc
        return {uid for uid in (m.get("Uniqueid") for m in channels) if uid}

    async def global_var(self, name: str) -> str | None:
        """A dialplan global (Getvar without a channel); None when Asterisk does not have it."""
        try:
            result = await self.link.send_action({"Action": "Getvar", "Variable": name})
        except AmiError as exc:
            raise LinkLost(f"Getvar failed: {exc}") from exc
        value = result.response.get("Value")
        return value if result.response.success and value not in (None, "") else None

    async def wait_hangup(self, channel_id: str) -> asyncio.Future:
        """Follow a channel we did not originate on this link (after a restart or reconnect) to its Hangup."""
        existing = self._waiters.get(channel_id)
        if existing is not None and not existing.done():
            return existing
        future = asyncio.get_running_loop().create_future()
        future.add_done_callback(_quiet)
        self._waiters[channel_id] = future

        def on_event(message: AmiMessage) -> None:
            if message.event == "Hangup" and message.get("Uniqueid") == channel_id and not future.done():
                future.set_result(_cause(message))

        def cleanup(_: asyncio.Future) -> None:
            self.link.forget_channel(channel_id)
            if self._waiters.get(channel_id) is future:
                del self._waiters[channel_id]

        future.add_done_callback(cleanup)
        self.link.on_channel(channel_id, on_event)
        return future

    def _fail_waiters(self) -> None:
        for future in list(self._waiters.values()):
            if not future.done():
                future.set_exception(LinkLost("AMI link dropped while following the channel"))
