"""The AMI link to Asterisk: one object owns connection, liveness, reconnect and routing.

Built on panoramisk 1.4's Manager for the TCP connection, with each of its
known edges (docs design.md) worked around here and nowhere else:

* Originate without ``Async`` crashes its reader (KeyError): ``originate``
  always sends ``Async: true`` and ``send_action`` refuses raw Originates.
* Its action future for an async Originate resolves only at
  OriginateResponse: we route the "queued" Response and the event ourselves
  by ActionID and return a handle at once.
* Its Ping is fire-and-forget: our ping loop awaits the Pong with a timeout
  and aborts the socket, so a half-open link is noticed and replaced.
* It replays unanswered actions after a reconnect (an Originate would dial
  twice): our protocol never queues anything for replay; an Originate cut
  off before "queued" is reported as unknown — reconcile.
* It dispatches callbacks as tasks it keeps no reference to and lets one
  failing handler kill ``data_received``: we keep every task, and log and
  count handler errors.
* It receives ~240 events per call: after login we set an event mask and a
  Filter from ``ami_events.EVENTS_WE_USE``.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable, Mapping

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol

from .ami_events import EVENT_CLASSES, EVENTS_WE_USE, filter_regex
from .ami_originate import OriginateHandle
from .ami_parser import AmiMessage, AmiParser, encode_action

log = logging.getLogger(__name__)

Callback = Callable[[AmiMessage], object]


class AmiError(Exception):
    """Base of AMI link errors."""


class AmiNotReady(AmiError):
    """The link is not logged in; nothing was sent."""


class AmiDisconnected(AmiError):
    """The link dropped before the action got its answer; it was not (and will not be) resent."""


class AmiTimeout(AmiError):
    """No answer in time."""


class AmiAuthError(AmiError):
    """Asterisk refused our credentials."""


@dataclass(frozen=True)
class AmiLinkConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callcenter"
    secret: str = field(default="callcenter", repr=False)     # never in logs
    ping_interval: float = 10.0       # with ping_timeout: a half-open link is detected within 20 s
    ping_timeout: float = 10.0
    connect_timeout: float = 5.0
    action_timeout: float = 10.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    settle_grace: float = 2.0         # wait this long for a straggling Hangup/OriginateResponse before settling
    boot_timeout: float = 30.0        # after login, wait this long for FullyBooted before dialing anyway
    events: frozenset[str] = EVENTS_WE_USE

    @classmethod
    def from_settings(cls, settings, **overrides) -> "AmiLinkConfig":
        return cls(host=settings.ami_host, port=settings.ami_port, username=settings.ami_user,
                   secret=settings.ami_secret, **overrides)


@dataclass
class ActionResult:
    """An action's Response, plus the items of its event list (CoreShowChannel, Status…) when it has one."""
    response: AmiMessage
    events: list[AmiMessage] = field(default_factory=list)
    complete: AmiMessage | None = None


@dataclass
class LinkCounters:
    events_received: int = 0
    handler_errors: int = 0
    reconnects: int = 0
    connects: int = 0
    ping_timeouts: int = 0
    originates_sent: int = 0
    originates_unknown: int = 0
    last_pong_latency: float | None = None


class _Pending:
    __slots__ = ("name", "future", "collecting", "events", "handle", "response")

    def __init__(self, name: str, handle: OriginateHandle | None = None) -> None:
        self.name = name
        self.future: asyncio.Future[ActionResult] = asyncio.get_running_loop().create_future()
        self.collecting = False
        self.events: list[AmiMessage] = []
        self.handle = handle
        self.response: AmiMessage | None = None


class _LinkProtocol(AMIProtocol):
    """panoramisk's protocol with our parser and router; it keeps nothing to replay."""

    def __init__(self, link: "AmiLink") -> None:
        super().__init__()
        self.link = link

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.parser = AmiParser()
        self.lost: asyncio.Future = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        for message in self.parser.feed(data):
            self.link._route(message)

    def write(self, payload: bytes) -> None:
        if self.closed:
            raise AmiDisconnected("AMI connection closed")
        self.transport.write(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.lost.done():
            self.lost.set_result(exc)
        self.link._on_disconnected(self)      # fail waiting actions now, not at their timeout

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.abort()


class _LinkManager(Manager):
    """panoramisk's Manager reduced to opening the TCP connection; AmiLink does the rest."""

    def connection_made(self, f) -> None:      # AmiLink awaits the connect task itself
        pass

    def connection_lost(self, exc) -> None:    # no fixed-delay reconnect: AmiLink backs off
        pass

    async def send_awaiting_actions(self, *_) -> None:   # never replay anything
        self.awaiting_actions.clear()


class AmiLink:
    """Owns one AMI session to Asterisk; see the module docstring for what it guarantees."""

    def __init__(self, config: AmiLinkConfig) -> None:
        self.config = config
        self.counters = LinkCounters()
        self.state = "disconnected"
        self.last_error: str | None = None
        self._epoch = 0
        self._protocol: _LinkProtocol | None = None
        self._manager: _LinkManager | None = None
        self._pending: dict[str, _Pending] = {}
        self._originates: dict[str, OriginateHandle] = {}      # by ActionID
        self._by_channel: dict[str, OriginateHandle] = {}      # by ChannelId and OtherChannelId
        self._event_handlers: dict[str, list[Callback]] = {}
        self._channel_handlers: dict[str, list[Callback]] = {}
        self._disconnect_handlers: list[Callable[[], None]] = []
        self._tasks: set[asyncio.Task] = set()
        self._ready = asyncio.Event()
        self._booted = asyncio.Event()
        self._runner: asyncio.Task | None = None
        self._closing = False
        self._rate_started = time.monotonic()
        self._rate_count = 0
        self._rate = 0.0

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting (and reconnecting) in the background; ``wait_ready`` to block until logged in."""
        if self._runner is None:
            self._manager = _LinkManager(host=self.config.host, port=self.config.port,
                                         loop=asyncio.get_running_loop(), forgetable_actions=(),
                                         protocol_factory=lambda: _LinkProtocol(self))
            self._runner = asyncio.create_task(self._run(), name="ami-link")

    async def wait_ready(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def close(self) -> None:
        self._closing = True
        if self._protocol is not None and not self._protocol.closed:
            try:
                await self.send_action({"Action": "Logoff"}, timeout=1.0)
            except AmiError:
                pass
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        if self._protocol is not None:
            self._protocol.close()
        self._fail_pending()
        for handle in set(self._originates.values()):
            handle.cancel_timers()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.state = "closed"

    async def __aenter__(self) -> "AmiLink":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def _backoff(self, failures: int) -> float:
        exponent = min(max(0, failures - 1), 30)      # hours of outage must not overflow the float
        base = min(self.config.backoff_max, self.config.backoff_initial * (2 ** exponent))
        return base * random.uniform(0.9, 1.1)

    async def _run(self) -> None:
        failures = 0
        while not self._closing:
            try:
                failures = await self._connect_once(failures)
            except asyncio.CancelledError:
                raise
            except Exception:                 # a bug here must cost one reconnect, not the link for good
                failures += 1
                log.exception("AMI link: unexpected error; reconnecting")
                await asyncio.sleep(self._backoff(failures))

    async def _connect_once(self, failures: int) -> int:
        """One connection's life: connect, log in, serve until it drops; returns the updated failure count."""
        self.state = "connecting"
        try:
            _, protocol = await asyncio.wait_for(self._manager.connect(), self.config.connect_timeout)
        except (OSError, asyncio.TimeoutError, ValueError) as exc:
            failures += 1
            self.last_error = f"connect failed: {exc!r}"
            delay = self._backoff(failures)
            log.warning("AMI %s:%s unreachable (%s); retrying in %.2fs", self.config.host, self.config.port,
                        exc, delay)
            await asyncio.sleep(delay)
            return failures
        self._protocol = protocol
        self._epoch += 1
        self.counters.connects += 1
        if self.counters.connects > 1:
            self.counters.reconnects += 1
        self.state = "connected"
        pinger: asyncio.Task | None = None
        self._booted.clear()
        try:
            await self._login()
            await self._until_booted(protocol)
            failures = 0
            self.state = "ready"
            self._ready.set()
            log.info("AMI logged in to %s:%s (Asterisk %s)", self.config.host, self.config.port,
                     protocol.parser.version)
            if any(h.link_lost for h in self._originates.values()):
                self._spawn(self._reconcile_quietly())
            pinger = asyncio.create_task(self._ping_loop(protocol), name="ami-ping")
            await protocol.lost
        except AmiAuthError as exc:
            failures += 1
            self.last_error = str(exc)
            log.error("AMI login refused: %s", exc)
        except AmiError as exc:
            failures += 1
            self.last_error = str(exc)
            log.warning("AMI session setup failed: %s", exc)
        finally:
            if pinger is not None:
                pinger.cancel()
            self._ready.clear()
            protocol.close()
            self._on_disconnected(protocol)
        if not self._closing:
            self.state = "disconnected"
            await asyncio.sleep(self._backoff(max(failures, 1)))
        return failures

    async def _login(self) -> None:
        reply = await self._request([("Action", "Login"), ("Username", self.config.username),
                                     ("Secret", self.config.secret), ("Events", "on")])
        if not reply.response.success:
            raise AmiAuthError(reply.response.get("Message") or "login refused")
        await self._request([("Action", "Events"), ("EventMask", EVENT_CLASSES)])
        reply = await self._request([("Action", "Filter"), ("Operation", "Add"),
                                     ("Filter", filter_regex(self.config.events))])
        if not reply.response.success:       # an Asterisk without the Filter action still honours the mask
            log.warning("AMI Filter refused (%s); relying on the event mask", reply.response.get("Message"))

    async def _until_booted(self, protocol: _LinkProtocol) -> None:
        """Asterisk takes logins while it is still loading its modules and dialplan (just after a restart);
        an Originate then fails as if the number did not exist.  It sends FullyBooted at login once booted,
        or when booting completes: only then is the link ready."""
        if self._booted.is_set():
            return
        waiter = asyncio.ensure_future(self._booted.wait())
        try:
            await asyncio.wait({waiter, protocol.lost}, timeout=self.config.boot_timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if protocol.lost.done():
            raise AmiDisconnected("AMI connection lost while Asterisk was booting")
        if not self._booted.is_set():
            log.warning("AMI: no FullyBooted within %.0fs of login; dialing anyway", self.config.boot_timeout)

    async def _ping_loop(self, protocol: _LinkProtocol) -> None:
        while not protocol.closed:
            await asyncio.sleep(self.config.ping_interval)
            started = time.monotonic()
            try:
                await self._request([("Action", "Ping")], timeout=self.config.ping_timeout)
            except AmiTimeout:
                self.counters.ping_timeouts += 1
                log.warning("AMI: no Pong within %.1fs, link is half-open; reconnecting", self.config.ping_timeout)
                protocol.close()
                return
            except AmiError:
                return
            self.counters.last_pong_latency = time.monotonic() - started

    def _on_disconnected(self, protocol: _LinkProtocol) -> None:
        """Fail what can no longer be answered; never queue anything for replay."""
        if protocol is not self._protocol:
            return
        self._fail_pending()
        for handle in set(self._originates.values()):
            handle.on_link_lost()
        for callback in list(self._disconnect_handlers):
            try:
                callback()
            except Exception:
                self.counters.handler_errors += 1
                log.exception("AMI disconnect handler failed")

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if p.handle is not None:
                self.counters.originates_unknown += 1
                p.handle.on_unknown()
            elif not p.future.done():
                p.future.set_exception(AmiDisconnected(f"link lost before {p.name} was answered"))
                p.future.exception()      # retrieved here: callers that gave up must not produce warnings

    # -- actions --------------------------------------------------------------------------

    def _write(self, headers: list[tuple[str, str]], pending: _Pending) -> None:
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise AmiNotReady("AMI link is down; nothing was sent")
        action_id = dict(headers)["ActionID"]
        payload = encode_action(headers)
        self._pending[action_id] = pending
        try:
            protocol.write(payload)
        except Exception:
            self._pending.pop(action_id, None)
            raise

    async def _request(self, headers: list[tuple[str, str]], *, timeout: float | None = None) -> ActionResult:
        if not any(k.lower() == "actionid" for k, _ in headers):
            headers = headers[:1] + [("ActionID", str(uuid.uuid4()))] + headers[1:]
        action_id = next(v for k, v in headers if k.lower() == "actionid")
        if action_id in self._pending:
            raise ValueError(f"ActionID {action_id!r} is already in flight")
        headers = [("ActionID" if k.lower() == "actionid" else k, v) for k, v in headers]
        pending = _Pending(headers[0][1])
        self._write(headers, pending)
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future),
                                          timeout if timeout is not None else self.config.action_timeout)
        except asyncio.TimeoutError:
            self._pending.pop(action_id, None)
            raise AmiTimeout(f"{pending.name} got no answer in time") from None

    async def send_action(self, action: Mapping[str, str | Iterable[str]], *,
                          timeout: float | None = None) -> ActionResult:
        """Any AMI action except Originate (QueueAdd, QueueStatus…); list values become repeated headers."""
        name = str(action.get("Action") or action.get("action") or "")
        if not name:
            raise ValueError("an AMI action needs an Action header")
        if name.lower() == "originate":
            raise ValueError("use AmiLink.originate(): an Originate must be async, tracked and never replayed")
        if not self.ready and name.lower() != "logoff":
            raise AmiNotReady("AMI link is not logged in; nothing was sent")
        headers = [("Action", name)]
        for key, value in action.items():
            if key.lower() == "action":
                continue
            values = [value] if isinstance(value, str) or not isinstance(value, Iterable) else list(value)
            headers.extend((key, str(v)) for v in values)
        return await self._request(headers, timeout=timeout)

    def originate(self, *, channel: str, context: str, exten: str, caller_id: str, priority: int = 1,
                  timeout_ms: int = 30000, variables: Mapping[str, str] | None = None,
                  action_id: str | None = None, channel_id: str | None = None,
                  other_channel_id: str | None = None) -> OriginateHandle:
        """Send one async Originate now and return its handle; never waits, never resends.

        The ids default to fresh UUIDs; the dialer passes its own (written to
        the attempt row before calling) so a crash can be reconciled by
        ChannelId.  Raises AmiNotReady (nothing sent) when the link is down.
        """
        if not (channel and context and exten):
            raise ValueError("Originate needs a channel, a context and an extension")
        if not self.ready:
            raise AmiNotReady("AMI link is not logged in; the Originate was not sent")
        action_id = action_id or str(uuid.uuid4())
        channel_id = channel_id or str(uuid.uuid4())
        other_channel_id = other_channel_id or str(uuid.uuid4())
        if action_id in self._pending or action_id in self._originates:
            raise ValueError(f"ActionID {action_id!r} was already used")
        pairs = []
        for name, value in (variables or {}).items():
            if not name or any(c in str(value) for c in ",\r\n") or any(c in name for c in "=,\r\n"):
                raise ValueError(f"Originate variable {name!r} must not contain '=', ',' or line breaks")
            pairs.append(f"{name}={value}")
        headers = [("Action", "Originate"), ("ActionID", action_id), ("Channel", channel),
                   ("Context", context), ("Exten", exten), ("Priority", str(priority)), ("Async", "true"),
                   ("Timeout", str(int(timeout_ms))), ("CallerID", caller_id), ("ChannelId", channel_id),
                   ("OtherChannelId", other_channel_id)]
        if pairs:
            headers.append(("Variable", ",".join(pairs)))
        handle = OriginateHandle(action_id=action_id, channel_id=channel_id, other_channel_id=other_channel_id,
                                 epoch=self._epoch, settle_grace=self.config.settle_grace,
                                 on_settled=self._forget)
        self._originates[action_id] = handle
        self._by_channel[channel_id] = handle
        self._by_channel[other_channel_id] = handle
        try:
            self._write(headers, _Pending("Originate", handle))
        except Exception:
            self._forget(handle)
            raise
        self.counters.originates_sent += 1
        return handle

    def _forget(self, handle: OriginateHandle) -> None:
        self._originates.pop(handle.action_id, None)
        self._by_channel.pop(handle.channel_id, None)
        self._by_channel.pop(handle.other_channel_id, None)

    async def core_show_channels(self) -> list[AmiMessage]:
        return (await self.send_action({"Action": "CoreShowChannels"})).events

    async def status(self) -> list[AmiMessage]:
        return (await self.send_action({"Action": "Status"})).events

    async def hangup(self, channel: str, cause: int | None = None) -> ActionResult:
        action = {"Action": "Hangup", "Channel": channel}
        if cause is not None:
            action["Cause"] = str(cause)
        return await self.send_action(action)

    def unsettled(self) -> list[OriginateHandle]:
        return list(set(self._originates.values()))

    async def reconcile(self) -> list[OriginateHandle]:
        """After a reconnect: settle calls whose evidence was lost with the link; returns those settled now.

        A call whose ChannelId is still live will get its Hangup on this link
        and settles then; one that is gone settles from whatever arrived
        (OriginateResponse or Hangup) or as unknown.
        """
        suspects = [h for h in self.unsettled() if h.link_lost]
        if not suspects:
            return []
        live = {m.get("Uniqueid") for m in await self.core_show_channels()}
        settled = []
        for handle in suspects:
            if handle.channel_id in live or handle.other_channel_id in live:
                handle.live_after_reconnect = True
                continue
            handle.settle_now(reconciled=True)
            settled.append(handle)
        return settled

    async def _reconcile_quietly(self) -> None:
        try:
            await self.reconcile()
        except AmiError as exc:
            log.warning("AMI reconcile after reconnect failed: %s", exc)

    # -- routing --------------------------------------------------------------------------

    def on_event(self, name: str, callback: Callback) -> None:
        """Call ``callback(message)`` for every event of this name (``*`` = all); may be async."""
        self._event_handlers.setdefault(name.lower(), []).append(callback)

    def on_channel(self, uniqueid: str, callback: Callback) -> None:
        """Call ``callback`` for events whose Uniqueid, DestUniqueid or Linkedid is this id."""
        self._channel_handlers.setdefault(uniqueid, []).append(callback)

    def on_disconnected(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (sync) each time an established link drops: events may have been missed."""
        self._disconnect_handlers.append(callback)

    def forget_channel(self, uniqueid: str) -> None:
        self._channel_handlers.pop(uniqueid, None)

    def _route(self, message: AmiMessage) -> None:
        """Never raises: a bad message or a broken handler must not kill the reader."""
        try:
            self._route_unsafe(message)
        except Exception:
            self.counters.handler_errors += 1
            log.exception("AMI: failed to route %r", message)

    def _route_unsafe(self, message: AmiMessage) -> None:
        action_id = message.action_id
        name = message.event
        if action_id is not None:
            pending = self._pending.get(action_id)
            if pending is not None and (name is None or pending.collecting):
                self._answer(action_id, pending, message)
                return
        if name is None:
            return               # a Response nobody waits for (timed out, or not ours)
        self._count_event()
        if name == "FullyBooted":
            self._booted.set()
        if name == "Shutdown" and self._ready.is_set():
            # Asterisk is stopping or restarting: an Originate sent now would never be placed, yet would
            # cost the citizen an attempt.  Stop sending until the link is back (it drops next).
            log.warning("AMI: Asterisk announced Shutdown (restart: %s); no Originate until it is back",
                        message.get("Restart") or "unknown")
            self._ready.clear()
            self.state = "shutting-down"
        if name == "OriginateResponse" and action_id is not None:
            handle = self._originates.get(action_id)
            if handle is not None:
                handle.on_originate_response(message)
        ids = {message.get("Uniqueid"), message.get("DestUniqueid"), message.get("Linkedid")}
        ids.discard(None)
        handles = {self._by_channel[i] for i in ids if i in self._by_channel}
        for handle in handles:
            handle.on_channel_event(message)
            for callback in handle.listeners:
                self._call(callback, message)
        for uid in ids:
            for callback in self._channel_handlers.get(uid, ()):
                self._call(callback, message)
        for callback in self._event_handlers.get(name.lower(), ()):
            self._call(callback, message)
        for callback in self._event_handlers.get("*", ()):
            self._call(callback, message)

    def _answer(self, action_id: str, pending: _Pending, message: AmiMessage) -> None:
        if pending.handle is not None:                       # an Originate: "queued" (or an Error)
            del self._pending[action_id]
            pending.handle.on_queued(message)
            return
        if message.event is not None:                        # an item or the end of an event list
            if (message.get("EventList") or "").lower() == "complete":
                del self._pending[action_id]
                self._resolve(pending, ActionResult(pending.response, pending.events, message))
            else:
                pending.events.append(message)
            return
        if (message.get("EventList") or "").lower() == "start" and message.success:
            pending.collecting = True
            pending.response = message
            return
        del self._pending[action_id]
        self._resolve(pending, ActionResult(message))

    @staticmethod
    def _resolve(pending: _Pending, result: ActionResult) -> None:
        if not pending.future.done():
            pending.future.set_result(result)

    def _call(self, callback: Callback, message: AmiMessage) -> None:
        try:
            result = callback(message)
        except Exception:
            self.counters.handler_errors += 1
            log.exception("AMI handler %r failed on %s", callback, message.event)
            return
        if inspect.isawaitable(result):
            self._spawn(result)

    def _spawn(self, awaitable: Awaitable) -> asyncio.Task:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.counters.handler_errors += 1
            log.error("AMI handler task failed", exc_info=task.exception())

    # -- observability ----------------------------------------------------------------------

    def _count_event(self) -> None:
        self.counters.events_received += 1
        self._rate_count += 1
        now = time.monotonic()
        elapsed = now - self._rate_started
        if elapsed >= 1.0:
            self._rate = self._rate_count / elapsed
            self._rate_started, self._rate_count = now, 0

    def health(self) -> dict[str, object]:
        """For /healthz: is the link up, and if not, why (no secrets: the secret is never in last_error)."""
        return {"state": self.state, "logged_in": self.ready, "reconnects": self.counters.reconnects,
                "last_error": self.last_error}

    def snapshot(self) -> dict[str, object]:
        """Link state and counters, flat, for /metrics."""
        stale = time.monotonic() - self._rate_started > 2.0
        parser = self._protocol.parser if self._protocol is not None and hasattr(self._protocol, "parser") else None
        return {
            "state": self.state, "connected": self._protocol is not None and not self._protocol.closed,
            "logged_in": self.ready, "events_received": self.counters.events_received,
            "events_per_second": 0.0 if stale else round(self._rate, 1),
            "actions_in_flight": len(self._pending), "calls_tracked": len(self._originates),
            "reconnects": self.counters.reconnects, "ping_timeouts": self.counters.ping_timeouts,
            "last_pong_latency": self.counters.last_pong_latency, "handler_errors": self.counters.handler_errors,
            "originates_sent": self.counters.originates_sent,
            "originates_unknown": self.counters.originates_unknown,
            "malformed_lines": parser.malformed_lines if parser else 0,
            "oversized_messages": parser.oversized_messages if parser else 0,
            "handler_tasks": len(self._tasks),
        }
