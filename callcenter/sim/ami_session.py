"""One AMI client connection to the simulator: login state, event mask, filters, fault switches."""
from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

from .ami_wire import BANNER, ActionReader, Headers, encode

if TYPE_CHECKING:
    from .ami_server import AmiServer

log = logging.getLogger(__name__)


class AmiSession(asyncio.Protocol):
    """Asterisk's per-session rules: nothing but Login before authentication, events by class mask and Filter."""

    def __init__(self, server: "AmiServer") -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.reader = ActionReader()
        self.authenticated = False
        self.username: str | None = None
        self.event_mask: set[str] | None = set()    # None = all classes ("on")
        self.includes: list[re.Pattern] = []
        self.excludes: list[re.Pattern] = []
        self.half_open = False
        self.closed = False
        self._queue: asyncio.Queue = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    # -- asyncio.Protocol -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport          # type: ignore[assignment]
        self.server.sessions.add(self)
        self.transport.write(BANNER)
        self._worker = asyncio.create_task(self._work(), name="sim-ami-session")

    def data_received(self, data: bytes) -> None:
        if self.half_open:
            return
        for action in self.reader.feed(data):
            self._queue.put_nowait(action)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.sessions.discard(self)
        if self._worker:
            self._worker.cancel()

    async def _work(self) -> None:
        """Actions run one at a time per session, as in Asterisk (a sync Originate blocks its session)."""
        while True:
            action = await self._queue.get()
            try:
                await self.server.handle(self, action)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("simulator failed on action %r", action.name)
                self.respond(action, [("Response", "Error"), ("Message", "Internal simulator error")])

    # -- output -----------------------------------------------------------------------

    def send(self, headers: Headers) -> None:
        if self.closed or self.half_open or self.transport is None:
            return
        self.transport.write(encode(headers))

    def respond(self, action, headers: Headers) -> None:
        """A Response with the client's ActionID echoed right after the Response line, as Asterisk does."""
        out = headers[:1]
        if action.action_id is not None:
            out.append(("ActionID", action.action_id))
        self.send(out + headers[1:])

    def wants(self, headers: Headers, text: str) -> bool:
        """Event mask by privilege class, then Filter: any include must match, no exclude may."""
        if not self.authenticated or self.half_open:
            return False
        if self.event_mask is not None:
            privilege = next((v for k, v in headers if k == "Privilege"), "")
            classes = {c for c in privilege.split(",") if c and c != "all"}
            if not classes & self.event_mask:
                return False
        if self.includes and not any(p.search(text) for p in self.includes):
            return False
        return not any(p.search(text) for p in self.excludes)

    # -- fault switches ---------------------------------------------------------------

    def kill(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def go_half_open(self) -> None:
        """Stop reading and writing but keep the socket open: what a dead NAT or a hung PBX looks like."""
        self.half_open = True
        if self.transport is not None:
            self.transport.pause_reading()
