"""What one Originate turns into: the handle the dialer holds, and the outcome it finally gets.

Asterisk answers an async Originate three times: the Response ("queued"),
the OriginateResponse event (Reason), and Hangup events for both Local
legs, in an order that varies by outcome (see tests/fixtures/asterisk).
If the AMI link drops in between, some of these are lost for good; the
outcome then says where it came from so the caller knows how much to trust
it, instead of the call silently hanging forever.
"""
from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Callable

from .ami_parser import AmiMessage


class OriginateUnknown(Exception):
    """The link dropped after the Originate was written and before Asterisk said "queued": it may or may not
    be dialing.  Never resend it; reconcile by ChannelId (``AmiLink.reconcile``)."""


class CallStatus(str, enum.Enum):
    ANSWERED = "answered"            # OriginateResponse Reason 4, or the channel was seen Up
    NOT_ANSWERED = "not-answered"    # OriginateResponse Failure (busy, no answer, congestion, rejected…)
    NOT_PLACED = "not-placed"        # Asterisk refused the action itself (Response: Error)
    UNKNOWN = "unknown"              # evidence lost with the link; the dialer must treat as "unknown — reconcile"


class OutcomeSource(str, enum.Enum):
    ORIGINATE_RESPONSE = "OriginateResponse"
    HANGUP = "Hangup"                # no OriginateResponse (lost in an outage), but the channel's Hangup arrived
    RECONCILE = "reconcile"          # neither arrived; after reconnect the channel was no longer live
    RESPONSE = "Response"            # the action's own Response (an error)


@dataclass(frozen=True)
class CallOutcome:
    status: CallStatus
    source: OutcomeSource
    reason: int | None = None        # OriginateResponse Reason: 0 rejected/invalid, 1 hung up, 3 no answer, 4 answered, 5 busy, 8 congestion
    cause: int | None = None         # Q.850 cause from the Hangup events (first non-zero of both legs)
    cause_txt: str | None = None
    detail: str = ""


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class OriginateHandle:
    """Futures for every stage of one call; ``outcome`` always resolves, never with an exception."""

    def __init__(self, *, action_id: str, channel_id: str, other_channel_id: str, epoch: int,
                 settle_grace: float, on_settled: Callable[["OriginateHandle"], None]) -> None:
        loop = asyncio.get_running_loop()
        self.action_id, self.channel_id, self.other_channel_id = action_id, channel_id, other_channel_id
        self.epoch = epoch
        self.queued: asyncio.Future[AmiMessage] = loop.create_future()
        self.response: asyncio.Future[AmiMessage] = loop.create_future()
        self.hangup: asyncio.Future[AmiMessage] = loop.create_future()
        self.outcome: asyncio.Future[CallOutcome] = loop.create_future()
        self.other_hangup: AmiMessage | None = None
        self.answered_seen = False
        self.link_lost = False        # the link dropped while this call was in progress: events may be missing
        self.live_after_reconnect = False
        self._grace = settle_grace
        self._timer: asyncio.TimerHandle | None = None
        self._on_settled = on_settled
        self._listeners: list[Callable[[AmiMessage], object]] = []
        self.queued.add_done_callback(_mark_retrieved)

    def add_listener(self, callback: Callable[[AmiMessage], object]) -> None:
        """Be told of every routed event of either leg (sync or async callback; errors are logged, not raised)."""
        self._listeners.append(callback)

    @property
    def listeners(self) -> list[Callable[[AmiMessage], object]]:
        return self._listeners

    # -- fed by AmiLink ------------------------------------------------------------------

    def on_queued(self, message: AmiMessage) -> None:
        if not self.queued.done():
            self.queued.set_result(message)
        if not message.success:
            self._settle(CallOutcome(CallStatus.NOT_PLACED, OutcomeSource.RESPONSE,
                                     detail=message.get("Message") or ""))

    def on_unknown(self) -> None:
        self.link_lost = True
        if not self.queued.done():
            self.queued.set_exception(OriginateUnknown(
                f"link lost before Asterisk acknowledged Originate {self.action_id}: unknown — reconcile"))

    def on_link_lost(self) -> None:
        self.link_lost = True

    def on_originate_response(self, message: AmiMessage) -> None:
        if not self.response.done():
            self.response.set_result(message)
        self._progress()

    def on_channel_event(self, message: AmiMessage) -> None:
        uid = message.get("Uniqueid")
        name = message.event
        if name == "Newstate" and uid == self.channel_id and message.get("ChannelState") == "6":
            self.answered_seen = True
        elif name == "Hangup":
            if uid == self.channel_id and not self.hangup.done():
                self.hangup.set_result(message)
            elif uid == self.other_channel_id:
                self.other_hangup = message
            self._progress()

    # -- settling --------------------------------------------------------------------------

    def _progress(self) -> None:
        """Settle as soon as the evidence is complete; wait a short grace when a piece may still come."""
        if self.outcome.done():
            return
        have_response, have_hangup = self.response.done(), self.hangup.done()
        if have_response and have_hangup and self.other_hangup is not None:
            self.settle_now()
        elif have_hangup or (have_response and not self._answered_by_response()):
            self._arm()

    def _answered_by_response(self) -> bool:
        return self.response.done() and self.response.result().get("Reason") == "4"

    def _arm(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._grace, self.settle_now)

    def settle_now(self, *, reconciled: bool = False) -> None:
        """Settle from whatever evidence exists (used by the grace timer and by reconciliation)."""
        if self.outcome.done():
            return
        cause, cause_txt = self._cause()
        if self.response.done():
            msg = self.response.result()
            reason = _int(msg.get("Reason"))
            status = CallStatus.ANSWERED if reason == 4 else CallStatus.NOT_ANSWERED
            self._settle(CallOutcome(status, OutcomeSource.ORIGINATE_RESPONSE, reason, cause, cause_txt))
        elif self.hangup.done():
            status = CallStatus.ANSWERED if self.answered_seen else CallStatus.UNKNOWN
            self._settle(CallOutcome(status, OutcomeSource.HANGUP, None, cause, cause_txt,
                                     "OriginateResponse lost with the AMI link"))
        elif reconciled:
            self._settle(CallOutcome(CallStatus.UNKNOWN, OutcomeSource.RECONCILE,
                                     detail="no live channel after reconnect and no events: unknown — reconcile"))

    def _cause(self) -> tuple[int | None, str | None]:
        legs = [m for m in (self.hangup.result() if self.hangup.done() else None, self.other_hangup) if m]
        for leg in legs:
            if _int(leg.get("Cause")):
                return _int(leg.get("Cause")), leg.get("Cause-txt")
        if legs:
            return _int(legs[0].get("Cause")), legs[0].get("Cause-txt")
        return None, None

    def _settle(self, outcome: CallOutcome) -> None:
        if self.outcome.done():
            return
        if self._timer is not None:
            self._timer.cancel()
        self.outcome.set_result(outcome)
        self._on_settled(self)

    def cancel_timers(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _mark_retrieved(future: asyncio.Future) -> None:
    """OriginateUnknown is reported through ``outcome`` too; don't let asyncio warn when nobody awaits ``queued``."""
    if not future.cancelled():
        future.exception()
