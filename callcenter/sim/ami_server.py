"""The simulator's AMI TCP server: sessions, action dispatch, event broadcast, and the fault switches tests use."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from .ami_actions import ACTIONS, UNAUTHENTICATED_OK
from .ami_session import AmiSession
from .ami_wire import ClientAction, Headers, encode
from .call_engine import CallEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedAction:
    """What the server log keeps of every action: enough to prove an Originate never arrived twice."""
    name: str
    action_id: str | None
    at: float


class AmiServer:
    def __init__(self, engine: CallEngine, *, username: str = "callcenter", secret: str = "callcenter") -> None:
        self.engine = engine
        self.username, self.secret = username, secret
        self.sessions: set[AmiSession] = set()
        self.received: list[ReceivedAction] = []
        self.events_emitted = 0
        self.started = time.monotonic()
        self._server: asyncio.base_events.Server | None = None
        self._drop_before_response: set[str] = set()
        self._kill_before_event: set[str] = set()
        engine.emit = self.broadcast

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: AmiSession(self), host, port)
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            session.kill()
        if self._server is not None:
            await self._server.wait_closed()

    async def handle(self, session: AmiSession, action: ClientAction) -> None:
        name = action.name
        self.received.append(ReceivedAction(name, action.action_id, time.monotonic()))
        if not name:
            session.respond(action, [("Response", "Error"), ("Message", "Missing action in request")])
            return
        if not session.authenticated and name.lower() not in UNAUTHENTICATED_OK:
            session.respond(action, [("Response", "Error"), ("Message", "Permission denied")])
            return
        handler = ACTIONS.get(name.lower())
        if handler is None:
            session.respond(action, [("Response", "Error"), ("Message", f"Invalid/unknown command: {name}. "
                                      "Use Action: ListCommands to show available commands.")])
            return
        await handler(self, session, action)

    def broadcast(self, headers: Headers) -> None:
        """Send an event to every session whose mask and filters let it through."""
        self.events_emitted += 1
        if self._kill_before_event and headers[0][1] in self._kill_before_event:
            self._kill_before_event.discard(headers[0][1])
            self.kill_connections()         # this event is lost with the connection, as in a real outage
        if not self.sessions:
            return
        data = encode(headers)
        text = data.decode("utf-8")
        for session in list(self.sessions):
            if session.wants(headers, text) and session.transport is not None:
                session.transport.write(data)

    # -- fault switches ---------------------------------------------------------------

    def originates_received(self) -> list[str | None]:
        return [r.action_id for r in self.received if r.name.lower() == "originate"]

    def kill_connections(self) -> None:
        """Drop every AMI TCP connection at once (RST), as a crashed Asterisk or a cut cable would."""
        for session in list(self.sessions):
            session.kill()

    def go_half_open(self) -> None:
        """Existing connections stop reading and writing without closing; new ones work normally."""
        for session in list(self.sessions):
            session.go_half_open()

    def drop_on_next(self, action_name: str) -> None:
        """Process the next such action but kill its connection before the Response is written."""
        self._drop_before_response.add(action_name.lower())

    def kill_before_event(self, event_name: str) -> None:
        """Drop every connection just before the next event of this name goes out (it is lost)."""
        self._kill_before_event.add(event_name)

    def drop_before_response(self, action: ClientAction) -> bool:
        key = action.name.lower()
        if key not in self._drop_before_response:
            return False
        self._drop_before_response.discard(key)
        self.kill_connections()
        return True
