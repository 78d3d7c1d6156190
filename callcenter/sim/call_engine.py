"""The simulated PBX behind Originate: one task per call, emitting the events real Asterisk 22 emits.

Every event sequence below is copied from the wire captures in
tests/fixtures/asterisk/ (02–09), including their odd orderings (e.g. the
OriginateResponse of a no-answer call comes after both Hangups), because
the service must cope with exactly those races.  The citizen's behaviour
comes from the CitizenBook; an answered call is handed to the FastAGI
citizen (``run_agi_session``) against our real FastAGI server.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import random
import re
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable
from urllib.parse import urlparse

from .ami_wire import ClientAction, Headers, event
from .channels import (CAUSE_TXT, STATE_BUSY, STATE_RING, STATE_RINGING, STATE_UP, ChannelRegistry,
                       SimChannel)
from .citizens import CitizenBook, CitizenScript, Pickup
from .desk_calls import DESK_CONTEXT, run_desk_call
from .ground_truth import CallLog
from .queues import QUEUE_CONTEXTS, queues_of

log = logging.getLogger(__name__)

CALL, DIALPLAN = "call,all", "dialplan,all"
AGI_VERSION = "22.10.1"
HANGUP_HANDLER = ("callback-hangup", "s")
# [callback-ivr]'s AGI(${CALLCENTER_AGI}/callback,NAME=${NAME},…) in docker/asterisk/extensions.conf.
CALLBACK_AGI_ARGUMENTS = ("ATTEMPT_ID", "TICKET_ID", "CALLCENTER_SCRIPT")
# The simulator has no dialplan for the citizen's leg; while the IVR talks it reports what transcript 02's
# citizen leg was running (Wait(9)), so CoreShowChannels/Status show a plausible live ;2 leg.
CITIZEN_LISTENING = ("Wait", "9")
# Variables a busy dialplan sets; the noise that makes event filtering matter.
NOISE_VARIABLES = ("BRIDGEPEER", "BRIDGEPVTCALLID", "RTPAUDIOQOS", "DIALEDPEERNUMBER", "MACRO_DEPTH",
                   "CDR(userfield)", "CHANNEL(language)", "SHARED(state)", "PLAYBACKSTATUS", "GOSUB_RETVAL")

AgiSession = Callable[..., Awaitable[Any]]
Emit = Callable[[Headers], None]


def callback_agi_arguments(variables: dict[str, str]) -> list[str]:
    """The AGI arguments [callback-ivr] passes: ``NAME=value`` of each call variable (empty when unset)."""
    return [f"{name}={variables.get(name, '')}" for name in CALLBACK_AGI_ARGUMENTS]


_DIAL = re.compile(r"^(?P<tech>[A-Za-z0-9_-]+)/(?P<number>[^@/;]+)(?:@(?P<context>[^/;]+))?$")
_CALLER_ID = re.compile(r'^\s*(?:"(?P<qname>[^"]*)"|(?P<name>[^<]*?))\s*<(?P<num>[^>]*)>\s*$')


@dataclass(frozen=True)
class OriginateRequest:
    """The fields of an Originate action the engine acts on."""
    action_id: str | None
    dial: str
    tech: str
    number: str
    dial_context: str
    context: str
    exten: str
    timeout_s: float
    caller_num: str
    caller_name: str
    channel_id: str
    other_channel_id: str
    variables: tuple[tuple[str, str], ...]
    is_async: bool

    @property
    def device(self) -> str:
        return f"{self.tech}/{self.number}@{self.dial_context}" if self.dial_context else f"{self.tech}/{self.number}"


_fallback_ids = itertools.count(1)


def parse_originate(action: ClientAction) -> OriginateRequest:
    """Read an Originate action; ValueError with Asterisk-like text when it cannot be placed."""
    dial = (action.get("Channel") or "").strip()
    if not dial:
        raise ValueError("Channel not specified")
    if not action.get("Exten") and not action.get("Context"):
        raise ValueError("Originate with Application is not simulated; give Context/Exten")
    m = _DIAL.match(dial)
    tech, number, dial_ctx = (m["tech"], m["number"], m["context"] or "") if m else ("Local", dial, "")
    caller = action.get("CallerID") or ""
    cm = _CALLER_ID.match(caller)
    if cm:
        caller_name, caller_num = (cm["qname"] if cm["qname"] is not None else cm["name"] or "").strip(), cm["num"]
    else:
        caller_name, caller_num = "", caller.strip()
    try:
        timeout_s = int(action.get("Timeout") or 30000) / 1000.0
    except ValueError:
        raise ValueError("Invalid timeout") from None
    variables: list[tuple[str, str]] = []
    for header in action.get_all("Variable"):
        for pair in header.split(","):
            name, _, value = pair.partition("=")
            if name.strip():
                variables.append((name.strip(), value))
    auto = f"{time.time():.0f}.{next(_fallback_ids)}"
    return OriginateRequest(
        action_id=action.action_id, dial=dial, tech=tech, number=number, dial_context=dial_ctx,
        context=action.get("Context") or "default", exten=action.get("Exten") or "s",
        timeout_s=timeout_s, caller_num=caller_num or "<unknown>", caller_name=caller_name or "<unknown>",
        channel_id=action.get("ChannelId") or auto, other_channel_id=action.get("OtherChannelId") or auto + "-2",
        variables=tuple(variables), is_async=(action.get("Async") or "false").lower() in ("true", "yes", "1"),
    )


def _default_agi_session() -> AgiSession:
    from .agi_citizen import run_agi_session   # the AGI half of the simulator; imported late so the AMI half stands alone
    return run_agi_session


def citizen_hung_up(result: Any) -> bool:
    """Whether the AGI session ended because the citizen hung up (duck-typed on the AGI citizen's result)."""
    for attr in ("hung_up_by", "hangup_by", "who_hung_up"):
        value = getattr(result, attr, None)
        if value is not None:
            return str(getattr(value, "value", value)).lower() == "citizen"
    for attr in ("citizen_hung_up", "citizen_hangup"):
        if getattr(result, attr, None) is not None:
            return bool(getattr(result, attr))
    return False


class CallEngine:
    """Places simulated calls and tracks them until both Local legs are gone."""

    def __init__(self, *, emit: Emit, book: CitizenBook, agi_url: str, time_scale: float = 1.0,
                 noise_per_call: int = 200, agi_session: AgiSession | None = None,
                 registry: ChannelRegistry | None = None, seed: int = 12345) -> None:
        self.emit = emit
        self.book = book
        self.agi_url = agi_url
        self.time_scale = time_scale
        self.noise_per_call = noise_per_call
        self.agi_session = agi_session
        self.channels = registry or ChannelRegistry()
        self.rng = random.Random(seed)
        self.calls: dict[str, asyncio.Task] = {}     # by ChannelId
        self.outcomes: dict[str, str] = {}           # ChannelId → pickup value actually simulated
        self.log = CallLog()                         # ground truth: every call, when it was live
        self.queues = None                           # sim.queues.QueueEngine, made on first use (queues_of)
        self.desk_bridges: list = []                 # sim.desk_calls.DeskBridge: bridged agent-first calls
        self._threadids = itertools.count(139758237972160, 2048)

    def start(self, request: OriginateRequest, *, on_pickup: Callable[[bool], None] | None = None) -> asyncio.Task:
        task = asyncio.create_task(self._run(request, on_pickup), name=f"sim-call-{request.channel_id}")
        self.calls[request.channel_id] = task
        task.add_done_callback(lambda t: self.calls.pop(request.channel_id, None))
        return task

    def hangup(self, uniqueid: str) -> bool:
        """Hang a live call up from AMI; the call task emits the teardown events itself."""
        task = self.calls.get(uniqueid)
        if task is None:
            return False
        task.cancel()
        return True

    async def close(self) -> None:
        if self.queues is not None:
            await self.queues.close()
        tasks = list(self.calls.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- one call -----------------------------------------------------------------

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds * self.time_scale))

    def _ev(self, name: str, ch: SimChannel, *extra: tuple[str, str], privilege: str = CALL) -> None:
        self.emit(event(name, privilege, ch.block() + list(extra)))

    def _dial_ev(self, name: str, one: SimChannel, r: OriginateRequest, *extra: tuple[str, str]) -> None:
        dial_string = [("DialString", r.dial.split("/", 1)[-1])] if name == "DialBegin" else []
        self.emit(event(name, CALL, one.block("Dest") + dial_string + list(extra)))

    def _device(self, r: OriginateRequest, state: str) -> None:
        self.emit(event("DeviceStateChange", CALL, [("Device", r.device), ("State", state)]))

    def _originate_response(self, r: OriginateRequest, one: SimChannel, reason: int) -> None:
        if not r.is_async:
            return    # a synchronous Originate is answered by its Response, with no event
        ok = reason == 4
        self.emit(event("OriginateResponse", CALL, [
            ("ActionID", r.action_id or ""), ("Response", "Success" if ok else "Failure"),
            ("Channel", one.name if ok else r.dial), ("Context", r.context), ("Exten", r.exten),
            ("Reason", str(reason)), ("Uniqueid", r.channel_id),
            ("CallerIDNum", r.caller_num), ("CallerIDName", r.caller_name)]))

    def _hangup(self, ch: SimChannel, cause: int) -> None:
        self._ev("Hangup", ch, ("Cause", str(cause)), ("Cause-txt", CAUSE_TXT.get(cause, "Unknown")))
        self.channels.remove(ch)

    def _exten(self, ch: SimChannel, app: str, data: str, *, priority: int | None = None,
               context: str | None = None, exten: str | None = None) -> None:
        if context is not None:
            ch.context = context
        if exten is not None:
            ch.exten = exten
        if priority is not None:
            ch.priority = priority
        ch.application, ch.app_data = app, data
        self._ev("Newexten", ch, ("Extension", ch.exten), ("Application", app), ("AppData", data),
                 privilege=DIALPLAN)

    def _noise(self, ch: SimChannel) -> None:
        for i in range(self.noise_per_call):
            self._ev("VarSet", ch, ("Variable", NOISE_VARIABLES[i % len(NOISE_VARIABLES)]),
                     ("Value", str(i)), privilege=DIALPLAN)

    async def _run(self, r: OriginateRequest, on_pickup: Callable[[bool], None] | None) -> None:
        script = self.book.script_for(r.number) if _DIAL.match(r.dial) else CitizenScript(pickup=Pickup.INVALID)
        seq = self.channels.next_sequence()
        base = f"{r.tech}/{r.number}@{r.dial_context}-{seq}" if r.dial_context else f"{r.tech}/{r.number}-{seq}"
        loc = dict(context=r.dial_context or "default", exten=r.number)
        one = SimChannel(f"{base};1", r.channel_id, r.channel_id, **loc)
        two = SimChannel(f"{base};2", r.other_channel_id, r.channel_id, state=STATE_RING, **loc)
        state = {"answered": False, "reported": False}
        pickup = script.pickup
        if pickup is Pickup.ANSWER and script.ring_seconds > r.timeout_s:
            pickup = Pickup.NO_ANSWER
        self.outcomes[r.channel_id] = pickup.value

        def report(answered: bool) -> None:
            if not state["reported"]:
                state["reported"] = True
                if on_pickup:
                    on_pickup(answered)
        self.log.began(r.channel_id, r.number, r.context)
        try:
            self.channels.add(one)
            self.channels.add(two)
            self._prelude_one(r, one, two)
            if r.context in QUEUE_CONTEXTS:             # into the hotline queue (transcript 10)
                await queues_of(self).originated(r, one, two, report)
                return
            if r.context == DESK_CONTEXT:               # the human desk's agent-first call
                await run_desk_call(self, r, one, two, report)
                return
            if pickup is Pickup.INVALID:
                report(False)
                self._originate_response(r, one, 0)
                self._prelude_two(r, one, two)
                self._hangup(two, 0)
                self._device(r, "INVALID")
                self._hangup(one, 0)
                self._device(r, "INVALID")
                return
            self._prelude_two(r, one, two)
            self._local_bridge(one, two)
            self._noise(one)
            await asyncio.sleep(0)
            if pickup is Pickup.ANSWER:
                await self._answered(r, one, two, script, state, report)
            else:
                await self._not_answered(r, pickup, script, one, two, report)
        except asyncio.CancelledError:
            self._torn_down(r, one, two, state, report)
            raise
        finally:
            self.log.ended(r.channel_id)
            self.channels.remove(one)
            self.channels.remove(two)

    def _prelude_one(self, r: OriginateRequest, one: SimChannel, two: SimChannel) -> None:
        self._ev("Newchannel", one)
        self._ev("Newchannel", two)
        self._exten(one, "AppDial2", "(Outgoing Line)")
        for name, value in reversed(r.variables):
            self._ev("VarSet", one, ("Variable", name), ("Value", value), privilege=DIALPLAN)
        one.caller_num, one.caller_name = r.caller_num, r.caller_name
        self._ev("NewCallerid", one, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"))
        one.connected_num, one.connected_name = r.caller_num, r.caller_name
        self._ev("NewConnectedLine", one)

    def _prelude_two(self, r: OriginateRequest, one: SimChannel, two: SimChannel) -> None:
        for name, value in r.variables:
            self._ev("VarSet", two, ("Variable", name), ("Value", value), privilege=DIALPLAN)
        two.caller_num, two.caller_name = r.caller_num, r.caller_name
        two.connected_num, two.connected_name = r.caller_num, r.caller_name
        self._ev("NewCallerid", two, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"))
        self._ev("NewConnectedLine", two)

    def _local_bridge(self, one: SimChannel, two: SimChannel) -> None:
        self.emit(event("LocalBridge", CALL, one.block("LocalOne") + two.block("LocalTwo") + [
            ("Context", one.context), ("Exten", one.exten), ("LocalOptimization", "Yes")]))

    async def _not_answered(self, r: OriginateRequest, pickup: Pickup, script: CitizenScript,
                            one: SimChannel, two: SimChannel, report: Callable[[bool], None]) -> None:
        if pickup is Pickup.BUSY:                       # transcript 05
            self._dial_ev("DialBegin", one, r)
            await self._sleep(min(script.ring_seconds, r.timeout_s))
            self._exten(two, "Busy", "10")
            two.state = STATE_BUSY
            self._ev("Newstate", two)
            report(False)
            self._originate_response(r, one, 5)
            self._dial_ev("DialEnd", one, r, ("DialStatus", "BUSY"))
            self._ev("HangupRequest", two, ("Cause", "0"))
            self._device(r, "INUSE")
            self._ev("SoftHangupRequest", two, ("Cause", "16"))
            self._hangup(two, 17)
            self._device(r, "NOT_INUSE")
            self._hangup(one, 0)
            self._device(r, "NOT_INUSE")
        elif pickup is Pickup.CONGESTION:               # transcript 06
            self._dial_ev("DialBegin", one, r)
            await self._sleep(min(script.ring_seconds, r.timeout_s))
            self._exten(two, "Congestion", "10")
            two.state = STATE_BUSY
            self._ev("Newstate", two)
            self._device(r, "INUSE")
            self._dial_ev("DialEnd", one, r, ("DialStatus", "CONGESTION"))
            self._ev("HangupRequest", two, ("Cause", "0"))
            self._ev("SoftHangupRequest", two, ("Cause", "16"))
            report(False)
            self._originate_response(r, one, 8)
            self._hangup(one, 0)
            self._hangup(two, 34)
            self._device(r, "NOT_INUSE")
            self._device(r, "NOT_INUSE")
        elif pickup is Pickup.NO_ANSWER:                # transcript 07
            self._dial_ev("DialBegin", one, r)
            self._exten(two, "Ringing", "")
            one.state = STATE_RINGING
            self._ev("Newstate", one)
            self._dial_ev("DialState", one, r, ("DialStatus", "RINGING"))
            self._exten(two, "Wait", "60", priority=2)
            self._device(r, "INUSE")
            await self._sleep(r.timeout_s)
            self._ev("HangupRequest", two, ("Cause", "19"))
            self._ev("SoftHangupRequest", two, ("Cause", "16"))
            self._hangup(one, 19)
            self._hangup(two, 19)
            self._device(r, "NOT_INUSE")
            report(False)
            self._originate_response(r, one, 3)
            self._device(r, "NOT_INUSE")
        else:                                           # REJECTED (transcript 08), UNALLOCATED (cause 1)
            await self._sleep(min(script.ring_seconds, r.timeout_s))
            cause = 1 if pickup is Pickup.UNALLOCATED else 21
            self._exten(two, "Hangup", str(cause))
            self._ev("SoftHangupRequest", two, ("Cause", "16"))
            self._ev("HangupRequest", one, ("Cause", str(cause)))
            self._hangup(two, cause)
            self._dial_ev("DialBegin", one, r)
            self._dial_ev("DialEnd", one, r, ("DialStatus", "NOANSWER"))
            report(False)
            self._originate_response(r, one, 0)
            self._hangup(one, cause)
            self._device(r, "NOT_INUSE")
            self._device(r, "NOT_INUSE")

    async def _answered(self, r: OriginateRequest, one: SimChannel, two: SimChannel, script: CitizenScript,
                        state: dict, report: Callable[[bool], None]) -> None:
        """Transcript 02 up to the AGI, then the IVR-hangup (02) or citizen-hangup (03/04) teardown."""
        self._dial_ev("DialBegin", one, r)
        await self._sleep(script.ring_seconds)
        self._exten(two, "Answer", "")
        two.state = one.state = STATE_UP
        self._ev("Newstate", two)
        self._ev("Newstate", one)
        self._dial_ev("DialEnd", one, r, ("DialStatus", "ANSWER"))
        state["answered"] = True
        report(True)
        self._originate_response(r, one, 4)
        variables = dict(r.variables)
        self._exten(one, "NoOp", f"callback for {variables.get('TICKET_ID', '')} attempt "
                    f"{variables.get('ATTEMPT_ID', '')}", context=r.context, exten=r.exten, priority=1)
        self._exten(one, "Set", "CHANNEL(hangup_handler_push)=callback-hangup,s,1", priority=2)
        self._device(r, "INUSE")
        self._device(r, "INUSE")
        self._ev("HangupHandlerPush", one, ("Handler", "callback-hangup,s,1"), privilege=DIALPLAN)
        self._exten(one, "AGI", ",".join([self.agi_url, *callback_agi_arguments(variables)]), priority=3)
        self._exten(two, *CITIZEN_LISTENING, priority=2)
        by_citizen = await self._run_agi(r, one, script, variables)
        if by_citizen:                                  # transcript 04
            self._exten(two, "Hangup", "16", priority=two.priority + 1)
            self._ev("SoftHangupRequest", two, ("Cause", "16"))
            self._ev("HangupRequest", one, ("Cause", "16"))
            self._ev("VarSet", one, ("Variable", "PLAYBACKSTATUS"), ("Value", "FAILED"), privilege=DIALPLAN)
            self._hangup(two, 16)
            self._device(r, "NOT_INUSE")
            self._ev("VarSet", one, ("Variable", "AGISTATUS"), ("Value", "HANGUP"), privilege=DIALPLAN)
            self._ev("SoftHangupRequest", one, ("Cause", "16"))
            self._hangup_handler(one, 16)
            self._hangup(one, 16)
            self._device(r, "NOT_INUSE")
        else:                                           # transcript 02
            self._ev("SoftHangupRequest", one, ("Cause", "32"))
            self._ev("VarSet", one, ("Variable", "AGISTATUS"), ("Value", "HANGUP"), privilege=DIALPLAN)
            self._ev("SoftHangupRequest", one, ("Cause", "16"))
            self._hangup_handler(one, 0)
            self._ev("HangupRequest", two, ("Cause", "0"))
            self._hangup(one, 0)
            self._ev("SoftHangupRequest", two, ("Cause", "16"))
            self._hangup(two, 0)
            self._device(r, "NOT_INUSE")
            self._device(r, "NOT_INUSE")

    def _hangup_handler(self, one: SimChannel, cause: int) -> None:
        """The callback-hangup gosub: its events show the handler's location, then the channel's is restored."""
        saved = (one.context, one.exten, one.priority, one.application, one.app_data)
        self._ev("HangupHandlerRun", one, ("Handler", "callback-hangup,s,1"), privilege=DIALPLAN)
        self._ev("VarSet", one, ("Variable", "LOCAL(ARGC)"), ("Value", "0"), privilege=DIALPLAN)
        self._exten(one, "NoOp", f"hangup cause {cause}", context=HANGUP_HANDLER[0], exten=HANGUP_HANDLER[1],
                    priority=1)
        self._exten(one, "Return", "", priority=2)
        self._ev("VarSet", one, ("Variable", "ARGC"), ("Value", ""), privilege=DIALPLAN)
        self._ev("VarSet", one, ("Variable", "GOSUB_RETVAL"), ("Value", ""), privilege=DIALPLAN)
        one.context, one.exten, one.priority, one.application, one.app_data = saved

    def agi_env(self, r: OriginateRequest, one: SimChannel) -> dict[str, str]:
        """The environment block Asterisk sends first on a FastAGI connection (transcripts 02–04 .agi.txt),
        with the dialplan's AGI arguments last, as ``agi_arg_1``… (Asterisk's res_agi)."""
        url = urlparse(self.agi_url)
        arguments = callback_agi_arguments(dict(r.variables))
        return {
            "agi_network": "yes", "agi_network_script": url.path.lstrip("/"), "agi_request": self.agi_url,
            "agi_channel": one.name, "agi_language": one.language, "agi_type": r.tech,
            "agi_uniqueid": one.uniqueid, "agi_version": AGI_VERSION,
            "agi_callerid": r.caller_num, "agi_calleridname": r.caller_name,
            "agi_callingpres": "0", "agi_callingani2": "0", "agi_callington": "0", "agi_callingtns": "0",
            "agi_dnid": "unknown", "agi_rdnis": "unknown", "agi_context": one.context,
            "agi_extension": one.exten, "agi_priority": str(one.priority), "agi_enhanced": "0.0",
            "agi_accountcode": one.account_code, "agi_threadid": str(next(self._threadids)),
            **{f"agi_arg_{n}": value for n, value in enumerate(arguments, 1)},
        }

    async def _run_agi(self, r: OriginateRequest, one: SimChannel, script: CitizenScript,
                       variables: dict[str, str]) -> bool:
        """Returns True when the citizen hung up, False when the IVR did (or the FastAGI server failed)."""
        session = self.agi_session or _default_agi_session()
        try:
            result = await session(self.agi_url, self.agi_env(r, one), script, variables,
                                   time_scale=self.time_scale)
        except asyncio.CancelledError:
            raise
        except Exception:   # Asterisk sets AGISTATUS=FAILURE and falls through to Hangup(): an IVR-side end
            log.warning("FastAGI session for %s failed", one.uniqueid, exc_info=True)
            return False
        return citizen_hung_up(result)

    def _torn_down(self, r: OriginateRequest, one: SimChannel, two: SimChannel, state: dict,
                   report: Callable[[bool], None]) -> None:
        """A Hangup action (or shutdown) ended the call early: cause 16 on the live legs."""
        if not state["answered"] and not state["reported"]:
            report(False)
            self._originate_response(r, one, 1)
        for ch in (two, one):
            if ch.uniqueid in {c.uniqueid for c in self.channels.live()}:
                self._ev("SoftHangupRequest", ch, ("Cause", "16"))
                self._hangup(ch, 16)
