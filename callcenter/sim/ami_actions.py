"""AMI actions the simulator answers, one function each, registered by name.

Later actions (QueueStatus, QueueAdd, QueueRemove, QueuePause) slot in with
another ``@action("Name")`` function; the server needs no change.  Response
texts are Asterisk 22's (transcript 01).
"""
from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Awaitable, Callable

from .ami_wire import ClientAction, Headers, encode, event
from .call_engine import parse_originate
from .queues import QueueError, queues_of

if TYPE_CHECKING:
    from .ami_server import AmiServer
    from .ami_session import AmiSession

Handler = Callable[["AmiServer", "AmiSession", ClientAction], Awaitable[None]]
ACTIONS: dict[str, Handler] = {}
UNAUTHENTICATED_OK = {"login", "logoff", "challenge", "ping"}
EVENT_CLASSES = {"system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf",
                 "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security", "message"}


def action(name: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        ACTIONS[name.lower()] = func
        return func
    return register


def parse_event_mask(value: str | None) -> set[str] | None:
    """Login's/Events' mask: on/yes = everything (None), off/no = nothing, else a class list."""
    text = (value or "on").strip().lower()
    if text in ("on", "yes", "true", "1", "all"):
        return None
    if text in ("off", "no", "false", "0", ""):
        return set()
    return {c.strip() for c in text.split(",") if c.strip() in EVENT_CLASSES}


@action("Login")
async def login(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    if (a.get("Username"), a.get("Secret")) != (server.username, server.secret):
        session.respond(a, [("Response", "Error"), ("Message", "Authentication failed")])
        await asyncio.sleep(0)
        session.kill()
        return
    session.authenticated, session.username = True, a.get("Username")
    session.event_mask = parse_event_mask(a.get("Events"))
    session.respond(a, [("Response", "Success"), ("Message", "Authentication accepted")])
    uptime = str(int(time.monotonic() - server.started))
    booted = event("FullyBooted", "system,all", [("Uptime", uptime), ("LastReload", uptime),
                                                  ("Status", "Fully Booted")])
    if session.wants(booted, encode(booted).decode("utf-8")):
        session.send(booted)


@action("Logoff")
async def logoff(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    session.respond(a, [("Response", "Goodbye"), ("Message", "Thanks for all the fish.")])
    if session.transport is not None:
        session.transport.close()


@action("Ping")
async def ping(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    session.respond(a, [("Response", "Success"), ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])


@action("Events")
async def events(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    session.event_mask = parse_event_mask(a.get("EventMask"))
    session.respond(a, [("Response", "Success"), ("Events", "Off" if session.event_mask == set() else "On")])


@action("Filter")
async def filter_(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    """Asterisk's regex filters: ``Filter: regex`` includes, ``Filter: !regex`` excludes, matched on the event text."""
    if (a.get("Operation") or "Add").lower() != "add":
        session.respond(a, [("Response", "Error"), ("Message", "Unknown operation")])
        return
    text = a.get("Filter") or ""
    exclude = text.startswith("!")
    try:
        pattern = re.compile(text[1:] if exclude else text)
    except re.error:
        session.respond(a, [("Response", "Error"), ("Message", "Filter Failed")])
        return
    (session.excludes if exclude else session.includes).append(pattern)
    session.respond(a, [("Response", "Success"), ("Message", "Filter Added Successfully")])


@action("Originate")
async def originate(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    try:
        request = parse_originate(a)
    except ValueError as exc:
        session.respond(a, [("Response", "Error"), ("Message", str(exc))])
        return
    if request.is_async:
        if server.drop_before_response(a):
            server.engine.start(request)       # Asterisk got it, the client never hears "queued"
            return
        session.respond(a, [("Response", "Success"), ("Message", "Originate successfully queued")])
        server.engine.start(request)
        return
    picked: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    server.engine.start(request, on_pickup=lambda ok: picked.done() or picked.set_result(ok))
    if await picked:
        session.respond(a, [("Response", "Success"), ("Message", "Originate successfully queued")])
    else:
        session.respond(a, [("Response", "Error"), ("Message", "Originate failed")])


def _list(session: "AmiSession", a: ClientAction, message: str, items: list[Headers],
          complete: str, extra: Headers = ()) -> None:
    session.respond(a, [("Response", "Success"), ("EventList", "start"), ("Message", message)])
    aid = [("ActionID", a.action_id)] if a.action_id is not None else []
    for item in items:
        session.send(item[:1] + aid + item[1:])
    session.send([("Event", complete)] + aid + [("EventList", "Complete"), ("ListItems", str(len(items)))]
                 + list(extra))


@action("CoreShowChannels")
async def core_show_channels(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    items = [[("Event", "CoreShowChannel")] + ch.block() + [
        ("Application", ch.application), ("ApplicationData", ch.app_data),
        ("Duration", ch.duration()), ("BridgeId", "")] for ch in server.engine.channels.live()]
    _list(session, a, "Channels will follow", items, "CoreShowChannelsComplete")


@action("Status")
async def status(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    wanted = a.get("Channel")
    channels = [ch for ch in server.engine.channels.live() if not wanted or ch.name == wanted]
    items = [[("Event", "Status"), ("Privilege", "Call")] + ch.block() + [
        ("Type", ch.name.split("/", 1)[0]), ("DNID", ""),
        ("EffectiveConnectedLineNum", ch.connected_num), ("EffectiveConnectedLineName", ch.connected_name),
        ("TimeToHangup", "0"), ("BridgeID", ""), ("Application", ch.application), ("Data", ch.app_data),
        ("Nativeformats", "(ulaw)"), ("Readformat", "slin"), ("Readtrans", ""), ("Writeformat", "slin"),
        ("Writetrans", ""), ("Callgroup", "0"), ("Pickupgroup", "0"), ("Seconds", str(ch.seconds()))]
        for ch in channels]
    _list(session, a, "Channel status will follow", items, "StatusComplete", [("Items", str(len(items)))])


@action("Hangup")
async def hangup(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    name = a.get("Channel") or ""
    channel = server.engine.channels.by_name(name)
    if channel is None or not server.engine.hangup(channel.linkedid):
        session.respond(a, [("Response", "Error"), ("Message", "No such channel")])
        return
    session.respond(a, [("Response", "Success"), ("Message", "Channel Hungup")])


# -- queues (transcript 10); the queue logic lives in sim/queues.py ---------------------------

def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "yes", "1", "on")


@action("QueueAdd")
async def queue_add(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    queue, interface = a.get("Queue") or "", a.get("Interface") or ""
    if not queue or not interface:
        session.respond(a, [("Response", "Error"), ("Message", "'Queue' and 'Interface' not specified.")])
        return
    try:
        queues_of(server.engine).check_add(queue, interface)
    except QueueError as exc:
        session.respond(a, [("Response", "Error"), ("Message", str(exc))])
        return
    session.respond(a, [("Response", "Success"), ("Message", "Added interface to queue")])
    queues_of(server.engine).add_member(queue, interface, a.get("MemberName") or "", _flag(a.get("Paused")),
                                        a.get("Reason") or "")


@action("QueueRemove")
async def queue_remove(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    queue, interface = a.get("Queue") or "", a.get("Interface") or ""
    if not queue or not interface:
        session.respond(a, [("Response", "Error"), ("Message", "Need 'Queue' and 'Interface' parameters.")])
        return
    engine = queues_of(server.engine)
    try:
        engine.check_remove(queue, interface)
    except QueueError as exc:
        session.respond(a, [("Response", "Error"), ("Message", str(exc))])
        return
    session.respond(a, [("Response", "Success"), ("Message", "Removed interface from queue")])
    engine.remove_member(queue, interface)


@action("QueuePause")
async def queue_pause(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    interface, paused = a.get("Interface") or "", a.get("Paused")
    if not interface or paused is None:
        session.respond(a, [("Response", "Error"), ("Message", "Need 'Interface' and 'Paused' parameters.")])
        return
    engine = queues_of(server.engine)
    try:
        engine.check_pause(a.get("Queue"), interface)
    except QueueError as exc:
        session.respond(a, [("Response", "Error"), ("Message", str(exc))])
        return
    on = _flag(paused)
    session.respond(a, [("Response", "Success"),
                        ("Message", "Interface paused successfully" if on else "Interface unpaused successfully")])
    engine.pause_member(a.get("Queue"), interface, on, a.get("Reason") or "")


@action("QueueStatus")
async def queue_status(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    """List items end with ActionID here (transcript 10), unlike CoreShowChannels'."""
    items = queues_of(server.engine).status_items(a.get("Queue"))
    session.respond(a, [("Response", "Success"), ("EventList", "start"), ("Message", "Queue status will follow")])
    aid = [("ActionID", a.action_id)] if a.action_id is not None else []
    for item in items:
        session.send(item + aid)
    session.send([("Event", "QueueStatusComplete")] + aid + [("EventList", "Complete"),
                                                             ("ListItems", str(len(items)))])


@action("MixMonitor")
async def mix_monitor(server: "AmiServer", session: "AmiSession", a: ClientAction) -> None:
    """Recording is acknowledged, not simulated: the service only needs to know it started."""
    channel = server.engine.channels.by_name(a.get("Channel") or "")
    if channel is None:
        session.respond(a, [("Response", "Error"), ("Message", "No such channel")])
        return
    session.respond(a, [("Response", "Success")])
