"""The hotline's live state, rebuilt from AMI queue events alone: a pure state machine.

Why pure: the same events always give the same state, so it is tested
without sockets (and replayed from real Asterisk transcripts), and the
service only has to act on the :class:`Effect` values ``apply`` returns.

Event order follows Asterisk 22 (transcript 10): QueueCallerLeave comes
*before* AgentConnect, so leaving the queue alone decides nothing; the
outcome is fixed by AgentConnect/AgentComplete (answered),
QueueCallerAbandon (abandoned), the dialplan's ``UserEvent
CallbackRequested`` (callback requested), or a Hangup of a caller that left
unanswered (abandoned: the queue timed out).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

ANSWERED, ABANDONED, CALLBACK = "answered", "abandoned", "callback_requested"
OUTCOMES = (ANSWERED, ABANDONED, CALLBACK)

#: QueueMemberStatus ``Status`` (Asterisk device states) → what the wall shows.
DEVICE_STATUS = {"0": "unknown", "1": "idle", "2": "in_call", "3": "busy", "4": "invalid",
                 "5": "unavailable", "6": "ringing", "7": "ringing", "8": "on_hold"}

#: How many finished Uniqueids are remembered, so a late AgentComplete never ends a call twice.
MAX_ENDED = 2000

#: Answered within this many seconds counts towards the service level (12345 practice: 20 s).
SERVICE_LEVEL_SECONDS = 20


class Event(Protocol):
    def get(self, name: str, default: str | None = None) -> str | None: ...


@dataclass
class Caller:
    """A call from the moment it joins the queue until its outcome is known."""
    uniqueid: str
    channel: str
    caller_num: str
    queue: str
    joined_at: float
    waiting: bool = True
    position: int = 0
    agent: str | None = None              # MemberName of the agent who answered
    interface: str | None = None
    answered_at: float | None = None
    wait_s: float | None = None
    talk_s: float | None = None


@dataclass(frozen=True)
class FinishedCall:
    """What the ledger stores for one call (hotline_calls)."""
    uniqueid: str
    caller_num: str
    queue: str
    channel: str
    joined_at: float
    ended_at: float
    outcome: str
    wait_s: float
    talk_s: float
    agent: str | None
    interface: str | None
    abandoned_stage: str | None = None     # 'greeting' / 'consent': hung up before reaching the queue


#: How far a caller got before hanging up, as the dialplan's UserEvent(HotlineAbandoned) says it.
EARLY_STAGES = ("greeting", "consent")


@dataclass
class Agent:
    """A queue member as the queue sees it; ``ringing_for`` is the caller's Uniqueid while it rings."""
    interface: str
    name: str
    queue: str
    status: str = "idle"
    paused: bool = False
    paused_reason: str = ""
    calls_taken: int = 0
    ringing_for: str | None = None
    talking_to: str | None = None

    @property
    def display_status(self) -> str:
        if self.talking_to:
            return "in_call"
        if self.ringing_for:
            return "ringing"
        if self.paused:
            return "paused"
        return self.status


# -- effects: what the service must do after an event -----------------------------------

@dataclass(frozen=True)
class ScreenPop:
    agent: str
    interface: str
    uniqueid: str
    caller_num: str
    queue: str


@dataclass(frozen=True)
class RingEnded:
    """An agent's phone stopped ringing without them taking the call (ring timeout, the caller gone,
    another agent faster): the screen-pop on their console must be withdrawn."""
    agent: str
    uniqueid: str


@dataclass(frozen=True)
class StartRecording:
    channel: str
    uniqueid: str


@dataclass(frozen=True)
class CallFinished:
    call: FinishedCall


@dataclass(frozen=True)
class StateChanged:
    """The live picture changed (wall refresh)."""


Effect = ScreenPop | RingEnded | StartRecording | CallFinished | StateChanged
CHANGED = StateChanged()


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass
class HotlineState:
    """Callers waiting, agents, and calls in progress; feed it every queue event with the time it arrived."""
    callers: dict[str, Caller] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)          # by Interface
    ended: dict[str, None] = field(default_factory=dict)            # the latest finished Uniqueids, oldest first

    def apply(self, event: Event, now: float) -> list[Effect]:
        name = event.get("Event") or ""
        handler = getattr(self, f"_on_{name}", None)
        if handler is None:
            return []
        return handler(event, now)

    def resynced(self, status_items, live: set[str] | None, now: float) -> tuple["HotlineState", list[Effect]]:
        """The state rebuilt from a QueueStatus answer after events may have been lost (a reconnect).

        Members and waiting callers are the PBX's; calls in progress are kept from what we knew, with
        their agents shown in call.  A caller whose channel is gone (``live``: the Uniqueids of
        CoreShowChannels, None when unknown) ended while we were not listening (a lost link, a PBX
        crash): finished now, answered if we saw the answer, else abandoned, or it would never
        reach the ledger nor leave the wall."""
        fresh = HotlineState(ended=self.ended)
        for item in status_items:
            fresh.apply(item, now)
        effects: list[Effect] = []
        for uid, caller in self.callers.items():
            if uid in fresh.callers:
                fresh.callers[uid] = caller
                continue
            if caller.answered_at is None and live is None:
                continue                    # out of the queue, fate unknown: its AgentComplete still tells
            gone = live is not None and uid not in live
            fresh.callers[uid] = caller
            if caller.answered_at is not None:
                if gone:
                    caller.talk_s = now - caller.answered_at
                    effects.append(fresh._finish(caller, ANSWERED, now))
                elif caller.interface in fresh.agents:
                    fresh.agents[caller.interface].talking_to = uid
            elif gone:                      # hung up (or the PBX went down) unanswered while we were away
                caller.waiting = False
                caller.wait_s = now - caller.joined_at
                effects.append(fresh._finish(caller, ABANDONED, now))
            else:                           # left the queue but still up: answered unseen, or pressing 1
                caller.waiting = False
        return fresh, [*effects, CHANGED]

    # -- views ------------------------------------------------------------------------

    def waiting(self, now: float) -> list[dict]:
        """Callers still in the queue, longest waiting first."""
        rows = [c for c in self.callers.values() if c.waiting]
        rows.sort(key=lambda c: c.joined_at)
        return [{"uniqueid": c.uniqueid, "caller_num": c.caller_num, "queue": c.queue,
                 "wait_s": max(0.0, now - c.joined_at)} for c in rows]

    def agent_rows(self) -> list[dict]:
        return [{"interface": a.interface, "name": a.name, "queue": a.queue, "status": a.display_status,
                 "paused": a.paused, "paused_reason": a.paused_reason, "calls_taken": a.calls_taken}
                for a in sorted(self.agents.values(), key=lambda a: a.name)]

    def agent_by_name(self, name: str) -> Agent | None:
        return next((a for a in self.agents.values() if a.name == name), None)

    # -- queue members ----------------------------------------------------------------

    def _member(self, e: Event) -> Agent:
        interface = e.get("Interface") or e.get("Location") or ""
        agent = self.agents.get(interface)
        if agent is None:
            agent = Agent(interface, e.get("MemberName") or e.get("Name") or interface, e.get("Queue") or "")
            self.agents[interface] = agent
        agent.status = DEVICE_STATUS.get(e.get("Status") or "", agent.status)
        agent.paused = (e.get("Paused") or "0") == "1"
        agent.paused_reason = (e.get("PausedReason") or "") if agent.paused else ""
        taken = _num(e.get("CallsTaken"))
        if taken is not None:
            agent.calls_taken = int(taken)
        return agent

    def _on_QueueMemberAdded(self, e: Event, now: float) -> list[Effect]:
        self._member(e)
        return [CHANGED]

    _on_QueueMemberStatus = _on_QueueMemberAdded
    _on_QueueMemberPause = _on_QueueMemberAdded
    _on_QueueMember = _on_QueueMemberAdded            # QueueStatus list items (resync)

    def _on_QueueMemberRemoved(self, e: Event, now: float) -> list[Effect]:
        self.agents.pop(e.get("Interface") or "", None)
        return [CHANGED]

    # -- callers ----------------------------------------------------------------------

    def _on_QueueCallerJoin(self, e: Event, now: float) -> list[Effect]:
        uid = e.get("Uniqueid") or ""
        self.callers[uid] = Caller(uid, e.get("Channel") or "", e.get("CallerIDNum") or "", e.get("Queue") or "",
                                   joined_at=now, position=int(_num(e.get("Position")) or 0))
        return [CHANGED]

    def _on_QueueEntry(self, e: Event, now: float) -> list[Effect]:
        """A QueueStatus list item: a caller we missed the join of (after a reconnect)."""
        uid = e.get("Uniqueid") or ""
        if uid and uid not in self.callers:
            wait = _num(e.get("Wait")) or 0.0
            self.callers[uid] = Caller(uid, e.get("Channel") or "", e.get("CallerIDNum") or "",
                                       e.get("Queue") or "", joined_at=now - wait)
            return [CHANGED]
        return []

    def _on_QueueCallerLeave(self, e: Event, now: float) -> list[Effect]:
        caller = self.callers.get(e.get("Uniqueid") or "")
        if caller is None or not caller.waiting:
            return []
        caller.waiting = False
        if caller.wait_s is None:
            caller.wait_s = now - caller.joined_at
        return [CHANGED]

    def _ringing_stop(self, uid: str, taken_by: str | None = None) -> list[Effect]:
        """Every phone still ringing for ``uid`` stops; all but the one that took the call are told."""
        ended: list[Effect] = []
        for agent in self.agents.values():
            if agent.ringing_for == uid:
                agent.ringing_for = None
                if agent.interface != taken_by:
                    ended.append(RingEnded(agent.name, uid))
        return ended

    def _on_AgentCalled(self, e: Event, now: float) -> list[Effect]:
        uid = e.get("Uniqueid") or ""
        agent = self._agent_of(e)
        agent.ringing_for = uid
        caller = self.callers.get(uid)
        number = caller.caller_num if caller else e.get("CallerIDNum") or ""
        return [ScreenPop(agent.name, agent.interface, uid, number, e.get("Queue") or ""), CHANGED]

    def _agent_of(self, e: Event, *, member: bool = True) -> Agent:
        """The agent an event names.  One we have not seen added is a member when the queue rings or
        connects it (we joined late); an ended ring or talk may be of a member already removed
        (signed out mid-call), who must not come back on the wall: it gets a detached Agent."""
        interface = e.get("Interface") or ""
        agent = self.agents.get(interface)
        if agent is None:
            agent = Agent(interface, e.get("MemberName") or interface, e.get("Queue") or "")
            if member:
                self.agents[interface] = agent
        return agent

    def _on_AgentRingNoAnswer(self, e: Event, now: float) -> list[Effect]:
        agent = self._agent_of(e, member=False)
        uid = e.get("Uniqueid") or ""
        if agent.ringing_for == uid:
            agent.ringing_for = None
        return [RingEnded(agent.name, uid), CHANGED]     # even if we missed the ring: the pop may be up

    def _on_AgentConnect(self, e: Event, now: float) -> list[Effect]:
        uid = e.get("Uniqueid") or ""
        caller = self.callers.get(uid)
        if caller is None:
            caller = self.callers[uid] = Caller(uid, e.get("Channel") or "", e.get("CallerIDNum") or "",
                                                e.get("Queue") or "", joined_at=now - (_num(e.get("HoldTime")) or 0))
        agent = self._agent_of(e)
        ended = self._ringing_stop(uid, taken_by=agent.interface)
        agent.talking_to = uid
        caller.waiting = False
        caller.agent, caller.interface, caller.answered_at = agent.name, agent.interface, now
        hold = _num(e.get("HoldTime"))
        caller.wait_s = hold if hold is not None else now - caller.joined_at
        return [*ended, StartRecording(caller.channel, uid), CHANGED]

    def _on_AgentComplete(self, e: Event, now: float) -> list[Effect]:
        """The talk is over.  Asterisk builds this event from the channels' latest snapshots when it
        handles the hangup; a channel already destroyed by then has none, and its whole block is left
        out (no ``Channel``/``Uniqueid`` for the caller, or no ``Dest…`` for the member), which happens
        under load.  ``Interface`` is always there: the member then says which call ended."""
        agent = self._agent_of(e, member=False)
        uid = e.get("Uniqueid") or agent.talking_to or ""
        caller = self.callers.get(uid)
        if agent.talking_to == uid:
            agent.talking_to = None
        if caller is None:
            caller = self._answered_before_we_knew(e, uid, now)
            if caller is None:
                return [CHANGED]
        talk = _num(e.get("TalkTime"))
        caller.talk_s = talk if talk is not None else now - (caller.answered_at or now)
        hold = _num(e.get("HoldTime"))
        if hold is not None:
            caller.wait_s = hold
        caller.agent, caller.interface = agent.name, agent.interface
        return [self._finish(caller, ANSWERED, now), CHANGED]

    def _answered_before_we_knew(self, e: Event, uid: str, now: float) -> Caller | None:
        """A talk that began before this process followed the queue (a restart, a lost link): the
        event itself says who called and for how long, so the call still reaches the ledger."""
        if not uid or not e.get("Channel") or uid in self.ended:     # ended already (its Hangup came first)
            return None
        talk, hold = _num(e.get("TalkTime")) or 0.0, _num(e.get("HoldTime")) or 0.0
        caller = Caller(uid, e.get("Channel") or "", e.get("CallerIDNum") or "", e.get("Queue") or "",
                        joined_at=now - talk - hold, waiting=False, answered_at=now - talk)
        self.callers[uid] = caller
        return caller

    def _on_QueueCallerAbandon(self, e: Event, now: float) -> list[Effect]:
        caller = self.callers.get(e.get("Uniqueid") or "")
        if caller is None:
            return []
        ended = self._ringing_stop(caller.uniqueid)
        hold = _num(e.get("HoldTime"))
        caller.wait_s = hold if hold is not None else now - caller.joined_at
        caller.waiting = False
        return [*ended, self._finish(caller, ABANDONED, now), CHANGED]

    def _on_UserEvent(self, e: Event, now: float) -> list[Effect]:
        if (e.get("UserEvent") or "") == "HotlineAbandoned":
            return self._abandoned_before_queue(e, now)
        if (e.get("UserEvent") or "") != "CallbackRequested":
            return []
        caller = self.callers.get(e.get("Uniqueid") or "")
        if caller is None or caller.answered_at is not None:
            return []
        ended = self._ringing_stop(caller.uniqueid)
        if caller.wait_s is None:
            caller.wait_s = now - caller.joined_at
        caller.waiting = False
        return [*ended, self._finish(caller, CALLBACK, now), CHANGED]

    def _abandoned_before_queue(self, e: Event, now: float) -> list[Effect]:
        """Hung up in the greeting or the consent prompt: no queue event will ever say so."""
        stage, uid = e.get("Stage") or "", e.get("Uniqueid") or ""
        if stage not in EARLY_STAGES or not uid or uid in self.callers:
            return []
        started = _num(e.get("Started"))
        joined = started if started is not None and started <= now else now
        return [CallFinished(FinishedCall(
            uniqueid=uid, caller_num=e.get("CallerIDNum") or "", queue=e.get("Queue") or "",
            channel=e.get("Channel") or "",
            joined_at=joined, ended_at=now, outcome=ABANDONED, wait_s=round(now - joined, 3), talk_s=0.0,
            agent=None, interface=None, abandoned_stage=stage)), CHANGED]

    def _on_Hangup(self, e: Event, now: float) -> list[Effect]:
        """A caller gone without an outcome event: unanswered (queue timeout, or an event we missed)."""
        caller = self.callers.get(e.get("Uniqueid") or "")
        if caller is None:
            return []
        ended = self._ringing_stop(caller.uniqueid)
        if caller.answered_at is not None:      # talk ended without AgentComplete (missed): keep what we know
            caller.talk_s = now - caller.answered_at
            for agent in self.agents.values():
                if agent.talking_to == caller.uniqueid:
                    agent.talking_to = None
            return [self._finish(caller, ANSWERED, now), CHANGED]
        if caller.wait_s is None:
            caller.wait_s = now - caller.joined_at
        return [*ended, self._finish(caller, ABANDONED, now), CHANGED]

    def _finish(self, caller: Caller, outcome: str, now: float) -> CallFinished:
        del self.callers[caller.uniqueid]
        self.ended[caller.uniqueid] = None
        if len(self.ended) > MAX_ENDED:
            del self.ended[next(iter(self.ended))]
        return CallFinished(FinishedCall(
            uniqueid=caller.uniqueid, caller_num=caller.caller_num, queue=caller.queue, channel=caller.channel,
            joined_at=caller.joined_at, ended_at=now, outcome=outcome, wait_s=round(caller.wait_s or 0.0, 3),
            talk_s=round(caller.talk_s or 0.0, 3), agent=caller.agent if outcome == ANSWERED else None,
            interface=caller.interface if outcome == ANSWERED else None))


def service_level(wait_answered: list[float], abandoned: int, threshold: float = SERVICE_LEVEL_SECONDS) -> float | None:
    """Share of offered calls (answered + abandoned) answered within ``threshold`` s; None when none offered."""
    offered = len(wait_answered) + abandoned
    if offered == 0:
        return None
    return sum(1 for w in wait_answered if w <= threshold) / offered


__all__ = ["HotlineState", "Caller", "Agent", "FinishedCall", "ScreenPop", "RingEnded", "StartRecording",
           "CallFinished", "StateChanged", "Effect", "OUTCOMES", "ANSWERED", "ABANDONED", "CALLBACK", "service_level"]
