"""Asterisk queues for the simulator: members, waiting callers, ringing agents, and their AMI events.

Every event and list item copies Asterisk 22's field names and order from
transcript 10 (tests/fixtures/asterisk/10-queue-answered-then-abandoned):
QueueMemberAdded/Status/Pause/Removed, QueueCallerJoin/Leave/Abandon,
AgentCalled/Connect/Complete/RingNoAnswer, and the QueueStatus list
(QueueParams, QueueMember, QueueEntry, QueueStatusComplete).  Callers come
either from an Originate into the ``hotline`` context (as the transcript
does) or from :meth:`QueueEngine.inbound` (a trunk call, for load).  What
really happened to each caller is kept in :attr:`QueueEngine.truth`, the
ground truth a benchmark checks the service's live state against.
"""
from __future__ import annotations

import asyncio
import itertools
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .ami_wire import Headers, event
from .channels import STATE_UP, SimChannel

if TYPE_CHECKING:
    from .call_engine import CallEngine, OriginateRequest

AGENT, CALL, DIALPLAN, USER = "agent,all", "call,all", "dialplan,all", "user,all"
#: Dialplan contexts whose Originates enter a queue (docker/asterisk/extensions.conf [hotline]).
QUEUE_CONTEXTS = {"hotline": "counsel"}
#: [hotline-exit]'s caller-ID match ``1/_[+0-9]X.``: only a number that can be called back may press 1.
CALLBACK_CALLER_ID = re.compile(r"[+0-9][0-9].+")
#: Queue member device states (QueueMemberStatus ``Status``).
NOT_INUSE, INUSE = 1, 2


@dataclass(frozen=True)
class AgentScript:
    """How an agent's phone behaves when the queue rings it."""
    ring_seconds: float = 2.0
    answers: bool = True
    talk_seconds: float = 5.0


@dataclass(frozen=True)
class CallerScript:
    """How a caller behaves in the queue: gives up after ``patience``, or presses 1 after ``press_one_after``."""
    patience: float = 600.0
    press_one_after: float | None = None


@dataclass(frozen=True)
class QueueConfig:
    """queues.conf for one queue (docker/asterisk/queues.conf)."""
    name: str = "counsel"
    strategy: str = "ringall"
    timeout: float = 15.0
    retry: float = 2.0
    wrapuptime: float = 0.0


@dataclass
class SimMember:
    queue: str
    interface: str
    name: str
    login_time: int
    paused: bool = False
    paused_reason: str = ""
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    in_call: bool = False
    ringing_for: str | None = None
    last_rang: float = 0.0

    def free(self) -> bool:
        return not (self.paused or self.in_call or self.ringing_for)

    def fields(self, list_item: bool = False) -> Headers:
        """QueueMemberStatus's fields; the QueueStatus item renames two and drops Ringinuse (transcript 10)."""
        name_key, iface_key = ("Name", "Location") if list_item else ("MemberName", "Interface")
        out = [("Queue", self.queue), (name_key, self.name), (iface_key, self.interface),
               ("StateInterface", self.interface), ("Membership", "dynamic"), ("Penalty", "0"),
               ("CallsTaken", str(self.calls_taken)), ("LastCall", str(self.last_call)),
               ("LastPause", str(self.last_pause)), ("LoginTime", str(self.login_time)),
               ("InCall", "1" if self.in_call else "0"), ("Status", str(INUSE if self.in_call else NOT_INUSE)),
               ("Paused", "1" if self.paused else "0"), ("PausedReason", self.paused_reason)]
        if not list_item:
            out.append(("Ringinuse", "1"))
        return out + [("Wrapuptime", "0")]


@dataclass
class QueuedCaller:
    channel: SimChannel
    script: CallerScript
    joined: float
    original_position: int
    answered: asyncio.Future
    rings: dict[str, asyncio.Task] = field(default_factory=dict)


@dataclass
class CallTruth:
    """What the simulator really did with one caller: the benchmark's reference."""
    uniqueid: str
    caller_num: str
    outcome: str = "waiting"            # waiting | talking | answered | abandoned | callback_requested
    agent: str | None = None
    wait_s: float = 0.0
    talk_s: float = 0.0
    agent_called_at: dict[str, float] = field(default_factory=dict)   # member name → monotonic time


@dataclass
class SimQueue:
    config: QueueConfig
    members: dict[str, SimMember] = field(default_factory=dict)
    waiting: list[QueuedCaller] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    hold_total: float = 0.0
    talk_total: float = 0.0


class QueueError(ValueError):
    """An action refused with Asterisk's message."""


class QueueEngine:
    """All queues of the simulated PBX; the call engine lends its channel registry, clock scale and emit."""

    def __init__(self, engine: "CallEngine", *, queues: list[QueueConfig] | None = None,
                 agents: dict[str, AgentScript] | None = None, callers: dict[str, CallerScript] | None = None,
                 default_agent: AgentScript = AgentScript(), default_caller: CallerScript = CallerScript()) -> None:
        self.engine = engine
        self.queues = {q.name: SimQueue(q) for q in (queues or [QueueConfig()])}
        self.agents = dict(agents or {})          # by member name or interface
        self.callers = dict(callers or {})        # by caller number
        self.default_agent, self.default_caller = default_agent, default_caller
        self.truth: dict[str, CallTruth] = {}
        self.tasks: set[asyncio.Task] = set()
        self._uniqueids = itertools.count(84)
        self._trunk_ids = itertools.count(1)

    # -- plumbing ---------------------------------------------------------------------

    def _emit(self, name: str, privilege: str | None, headers: Headers) -> None:
        self.engine.emit(event(name, privilege, headers))

    def _seconds(self, since: float) -> int:
        """Elapsed simulated seconds, as Asterisk reports them (whole seconds)."""
        scale = self.engine.time_scale or 1.0
        return int(round((time.monotonic() - since) / scale))

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds * self.engine.time_scale))

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def queue(self, name: str) -> SimQueue:
        q = self.queues.get(name)
        if q is None:
            raise QueueError("Unable to add interface to queue: No such queue")
        return q

    def agent_script(self, member: SimMember) -> AgentScript:
        return self.agents.get(member.name) or self.agents.get(member.interface) or self.default_agent

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    # -- members (QueueAdd / QueueRemove / QueuePause) -----------------------------------

    def check_add(self, queue: str, interface: str) -> None:
        """Refuse before answering, so the Response comes before the event as in Asterisk."""
        if interface in self.queue(queue).members:
            raise QueueError("Unable to add interface: Already there")

    def check_remove(self, queue: str, interface: str) -> None:
        if queue not in self.queues:
            raise QueueError("Unable to remove interface from queue: No such queue")
        if interface not in self.queues[queue].members:
            raise QueueError("Unable to remove interface: Not there")

    def check_pause(self, queue: str | None, interface: str) -> None:
        if not any(interface in q.members for q in self.queues.values() if not queue or q.config.name == queue):
            raise QueueError("Interface not found")

    def add_member(self, queue: str, interface: str, name: str, paused: bool, reason: str = "") -> None:
        q = self.queue(queue)
        if interface in q.members:
            raise QueueError("Unable to add interface: Already there")
        member = SimMember(queue, interface, name or interface, int(time.time()), paused=paused,
                           paused_reason=reason if paused else "")
        q.members[interface] = member
        self._emit("QueueMemberAdded", AGENT, member.fields())
        self._dispatch(q)

    def remove_member(self, queue: str, interface: str) -> None:
        q = self.queue(queue)
        member = q.members.pop(interface, None)
        if member is None:
            raise QueueError("Unable to remove interface: Not there")
        self._emit("QueueMemberRemoved", AGENT, member.fields())

    def pause_member(self, queue: str | None, interface: str, paused: bool, reason: str = "") -> None:
        found = [q.members[interface] for q in self.queues.values()
                 if interface in q.members and (not queue or q.config.name == queue)]
        if not found:
            raise QueueError("Interface not found")
        for member in found:
            member.paused, member.paused_reason = paused, reason if paused else ""
            if paused:
                member.last_pause = int(time.time())
            self._emit("QueueMemberPause", AGENT, member.fields())
            if not paused:
                self._dispatch(self.queues[member.queue])

    def status_items(self, queue: str | None) -> list[Headers]:
        """QueueStatus: per queue its QueueParams, members, then waiting callers (transcript 10's order)."""
        items: list[Headers] = []
        for q in self.queues.values():
            if queue and q.config.name != queue:
                continue
            done = max(q.completed, 1)
            items.append([("Event", "QueueParams"), ("Queue", q.config.name), ("Max", "0"),
                          ("Strategy", q.config.strategy), ("Calls", str(len(q.waiting))),
                          ("Holdtime", str(int(q.hold_total / done))), ("TalkTime", str(int(q.talk_total / done))),
                          ("Completed", str(q.completed)), ("Abandoned", str(q.abandoned)),
                          ("ServiceLevel", "0"), ("ServicelevelPerf", "0.0"), ("ServicelevelPerf2", "0.0"),
                          ("Weight", "0")])
            for member in q.members.values():
                items.append([("Event", "QueueMember")] + member.fields(list_item=True))
            for position, c in enumerate(q.waiting, 1):
                ch = c.channel
                items.append([("Event", "QueueEntry"), ("Queue", q.config.name), ("Position", str(position)),
                              ("Channel", ch.name), ("Uniqueid", ch.uniqueid), ("CallerIDNum", ch.caller_num),
                              ("CallerIDName", ch.caller_name), ("ConnectedLineNum", ch.connected_num),
                              ("ConnectedLineName", ch.connected_name), ("Wait", str(self._seconds(c.joined))),
                              ("Priority", "0")])
        return items

    # -- distributing callers to agents -------------------------------------------------

    def _dispatch(self, q: SimQueue) -> None:
        """Ring free members for callers not yet ringing anyone, longest waiting first."""
        for caller in q.waiting:
            if caller.rings or caller.answered.done():
                continue
            free = [m for m in q.members.values() if m.free()]
            if not free:
                return
            if q.config.strategy != "ringall":
                free = [min(free, key=lambda m: m.last_rang)]
            for member in free:
                member.ringing_for = caller.channel.uniqueid
                member.last_rang = time.monotonic()
                caller.rings[member.interface] = self._spawn(self._ring(q, caller, member),
                                                             f"sim-ring-{member.name}")

    def _agent_channel(self, member: SimMember, caller: SimChannel) -> SimChannel:
        seq = self.engine.channels.next_sequence()
        tech_rest = member.interface.split("@", 1)
        context = tech_rest[1] if len(tech_rest) == 2 else "agents"
        ch = SimChannel(f"{member.interface}-{seq};1" if member.interface.startswith("Local/")
                        else f"{member.interface}-{seq}", f"{int(time.time())}.{next(self._uniqueids)}",
                        caller.linkedid, context=context, exten="s")
        ch.caller_num, ch.connected_num = "s", caller.caller_num
        return ch

    def _agent_event(self, name: str, q: SimQueue, caller: SimChannel, agent: SimChannel, member: SimMember,
                     *extra: tuple[str, str]) -> None:
        self._emit(name, AGENT, caller.block() + agent.block("Dest") + [
            ("Queue", q.config.name), ("Interface", member.interface), ("MemberName", member.name)] + list(extra))

    async def _ring(self, q: SimQueue, caller: QueuedCaller, member: SimMember) -> None:
        script = self.agent_script(member)
        agent = self._agent_channel(member, caller.channel)
        rang = time.monotonic()
        truth = self.truth.get(caller.channel.uniqueid)
        if truth is not None:
            truth.agent_called_at[member.name] = rang
        self._agent_event("AgentCalled", q, caller.channel, agent, member)
        try:
            if script.answers and script.ring_seconds < q.config.timeout:
                await self._sleep(script.ring_seconds)
                if caller.answered.done():
                    return
                member.in_call = True          # taken before the caller's task resumes: nobody else rings it
                caller.answered.set_result((member, agent, rang))
                return
            await self._sleep(q.config.timeout)
            self._agent_event("AgentRingNoAnswer", q, caller.channel, agent, member,
                              ("RingTime", str(self._seconds(rang))))
        finally:
            if member.ringing_for == caller.channel.uniqueid:
                member.ringing_for = None
            caller.rings.pop(member.interface, None)
        await self._sleep(q.config.retry)
        self._dispatch(q)

    # -- one caller -------------------------------------------------------------------

    def _leave(self, q: SimQueue, caller: QueuedCaller) -> int:
        position = q.waiting.index(caller) + 1
        q.waiting.remove(caller)
        for task in list(caller.rings.values()):
            task.cancel()
        return position

    def _leave_event(self, q: SimQueue, caller: QueuedCaller, position: int) -> None:
        self._emit("QueueCallerLeave", AGENT, caller.channel.block() + [
            ("Queue", q.config.name), ("Position", str(position)), ("Count", str(len(q.waiting)))])

    async def run_caller(self, channel: SimChannel, queue: str, *, max_wait: float = 600.0,
                         hangup: Callable[[], None]) -> CallTruth:
        """A caller inside Queue(): waits, then talks, abandons, times out or presses 1; ``hangup`` ends its legs."""
        q = self.queue(queue)
        script = self.callers.get(channel.caller_num) or self.callers.get(channel.exten) or self.default_caller
        truth = self.truth.setdefault(channel.uniqueid, CallTruth(channel.uniqueid, channel.caller_num))
        caller = QueuedCaller(channel, script, time.monotonic(), len(q.waiting) + 1,
                              asyncio.get_running_loop().create_future())
        q.waiting.append(caller)
        self._emit("QueueCallerJoin", AGENT, channel.block() + [
            ("Queue", q.config.name), ("Position", str(caller.original_position)), ("Count", str(len(q.waiting)))])
        self._dispatch(q)
        limits = [(script.patience, "abandon"), (max_wait, "timeout")]
        if script.press_one_after is not None and CALLBACK_CALLER_ID.fullmatch(channel.caller_num or ""):
            limits.append((script.press_one_after, "press-1"))     # a withheld number's key is ignored
        limit, why = min(limits, key=lambda pair: pair[0])
        try:
            member, agent, rang = await asyncio.wait_for(asyncio.shield(caller.answered),
                                                         max(0.0, limit * self.engine.time_scale))
        except asyncio.TimeoutError:
            return self._gave_up(q, caller, truth, why, hangup)
        except asyncio.CancelledError:
            if caller in q.waiting:
                self._leave(q, caller)
            raise
        await self._talk(q, caller, truth, member, agent, rang, hangup)
        return truth

    def _gave_up(self, q: SimQueue, caller: QueuedCaller, truth: CallTruth, why: str,
                 hangup: Callable[[], None]) -> CallTruth:
        caller.answered.cancel()
        held = self._seconds(caller.joined)
        position = self._leave(q, caller)
        truth.wait_s = held
        ch = caller.channel
        if why == "abandon":                     # transcript 10: the caller hangs up while waiting
            q.abandoned += 1
            truth.outcome = "abandoned"
            self._emit("QueueCallerAbandon", AGENT, ch.block() + [
                ("Queue", q.config.name), ("Position", str(position)),
                ("OriginalPosition", str(caller.original_position)), ("HoldTime", str(held))])
            self._leave_event(q, caller, position)
        elif why == "press-1":                   # queues.conf context=hotline-exit; extensions.conf [hotline-exit]
            truth.outcome = "callback_requested"
            self._leave_event(q, caller, position)
            self.engine._exten(ch, "NoOp", "caller asked for a call back", context="hotline-exit", exten="1",
                               priority=1)
            self.engine._exten(ch, "UserEvent", f"CallbackRequested,CallerIDNum: {ch.caller_num},"
                               f"Uniqueid: {ch.uniqueid}", priority=2)
            self._emit("UserEvent", USER, ch.block() + [("UserEvent", "CallbackRequested"),
                                                        ("CallerIDNum", ch.caller_num), ("Uniqueid", ch.uniqueid)])
        else:                                    # Queue()'s own timeout: leaves, the dialplan hangs up
            truth.outcome = "abandoned"
            self._leave_event(q, caller, position)
        hangup()
        self._dispatch(q)
        return truth

    async def _talk(self, q: SimQueue, caller: QueuedCaller, truth: CallTruth, member: SimMember,
                    agent: SimChannel, rang: float, hangup: Callable[[], None]) -> None:
        held = self._seconds(caller.joined)
        position = self._leave(q, caller)
        self._leave_event(q, caller, position)
        member.in_call, member.ringing_for = True, None
        agent.state = STATE_UP
        truth.outcome, truth.agent, truth.wait_s = "talking", member.name, held
        self._agent_event("AgentConnect", q, caller.channel, agent, member,
                          ("HoldTime", str(held)), ("RingTime", str(self._seconds(rang))))
        self._emit("QueueMemberStatus", AGENT, member.fields())
        self._dispatch(q)
        started = time.monotonic()
        try:
            await self._sleep(self.agent_script(member).talk_seconds)
        finally:
            talked = self._seconds(started)
            self._agent_event("AgentComplete", q, caller.channel, agent, member, ("HoldTime", str(held)),
                              ("TalkTime", str(talked)), ("Reason", "agent"))
            member.in_call = False
            member.calls_taken += 1
            member.last_call = int(time.time())
            q.completed += 1
            q.hold_total += held
            q.talk_total += talked
            truth.outcome, truth.talk_s = "answered", talked
            if q.members.get(member.interface) is member:     # Asterisk 22: none for a member removed mid-call
                self._emit("QueueMemberStatus", AGENT, member.fields())
            self.engine._hangup(agent, 16)
            hangup()
        if q.config.wrapuptime:
            self._spawn(self._after_wrapup(q), "sim-wrapup")
        else:
            self._dispatch(q)

    async def _after_wrapup(self, q: SimQueue) -> None:
        await self._sleep(q.config.wrapuptime)
        self._dispatch(q)

    # -- where callers come from --------------------------------------------------------

    async def originated(self, r: "OriginateRequest", one: SimChannel, two: SimChannel,
                         report: Callable[[bool], None]) -> None:
        """An Originate into the hotline context (transcript 10): the Local ;2 leg is the caller."""
        e = self.engine
        e._prelude_two(r, one, two)
        e._local_bridge(one, two)
        report(True)
        e._originate_response(r, one, 4)
        e._exten(two, "Answer", "")
        two.state = one.state = STATE_UP
        e._ev("Newstate", two)
        e._ev("Newstate", one)
        variables = dict(r.variables)
        e._exten(one, "Answer", "", context=r.context, exten=r.exten, priority=1)
        e._exten(one, "Set", "CALLERID(num)=${CALLER_NUM}", priority=2)
        one.caller_num = variables.get("CALLER_NUM", one.caller_num)
        e._ev("NewCallerid", one, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"))
        queue = QUEUE_CONTEXTS[r.context]
        e._exten(one, "Queue", f"{queue},,,,60", priority=3)
        one.exten = r.exten
        script_key = self.callers.get(r.number)
        if script_key is not None and one.caller_num not in self.callers:
            self.callers[one.caller_num] = script_key

        def hangup() -> None:
            e._hangup(two, 16)
            e._hangup(one, 16)
        await self.run_caller(one, queue, max_wait=60, hangup=hangup)

    def inbound(self, number: str, *, queue: str = "counsel", script: CallerScript | None = None) -> asyncio.Task:
        """A citizen dials the hotline from the trunk: a PJSIP channel runs [hotline] into the queue."""
        if script is not None:
            self.callers[number] = script
        return self._spawn(self._inbound(number, queue), f"sim-inbound-{number}")

    async def _inbound(self, number: str, queue: str) -> CallTruth:
        e = self.engine
        seq = e.channels.next_sequence()
        uid = f"{int(time.time())}.{next(self._trunk_ids)}-in"
        ch = SimChannel(f"PJSIP/trunk-{seq}", uid, uid, context="from-trunk", exten="12345", state=STATE_UP,
                        caller_num=number, connected_num="12345")
        e.channels.add(ch)
        e._ev("Newchannel", ch)
        e._exten(ch, "Answer", "", context="hotline", exten="s", priority=1)
        e._exten(ch, "Queue", f"{queue},,,,600", priority=5)
        try:
            return await self.run_caller(ch, queue, hangup=lambda: e._hangup(ch, 16))
        finally:
            e.channels.remove(ch)


def queues_of(engine: "CallEngine") -> QueueEngine:
    """The engine's queues, created with the shipped defaults on first use (one ``counsel`` queue)."""
    if engine.queues is None:
        engine.queues = QueueEngine(engine)
    return engine.queues
