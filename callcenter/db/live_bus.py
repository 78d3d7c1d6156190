"""Live messages between the service's processes over PostgreSQL LISTEN/NOTIFY.

Why: with several web processes on one port, the websocket of an agent or a
wall may be held by any of them, while only one process follows the PBX.
Every process sends what it publishes here and delivers what the others
sent to its own subscribers.  Why a dedicated listening connection with
reconnect: a pooled connection may be closed or reused at any time, and a
restarted PostgreSQL must not silence the feeds for good.  Messages lost
while the listener reconnects are repaired by the next full-state message,
as for a slow browser (see callcenter.hotline.hub).
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import timedelta
from typing import Any, Callable

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "callcenter_live"
#: NOTIFY refuses payloads of 8000 bytes or more; bigger messages go through live_messages by id.
MAX_PAYLOAD = 7900
#: Spilled messages older than this are deleted by the next spill.
SPILL_KEEP = timedelta(minutes=5)

Receiver = Callable[[str, dict[str, Any]], None]


def encode(origin: str, topic: str, message: dict[str, Any]) -> str:
    return json.dumps({"o": origin, "t": topic, "m": message}, ensure_ascii=False, separators=(",", ":"),
                      default=str)


class LiveBus:
    """``send(topic, message)`` reaches every other process's receiver, in the order sent."""

    def __init__(self, dsn: str, pool: asyncpg.Pool, *, reconnect_after: float = 1.0,
                 check_every: float = 10.0) -> None:
        self.dsn = dsn
        self.pool = pool
        self.origin = uuid.uuid4().hex[:12]      # this process: its own notifications come back and are skipped
        self.reconnect_after = reconnect_after
        self.check_every = check_every
        self._receivers: list[Receiver] = []
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._inbox: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._listening = asyncio.Event()
        self.reconnects = 0

    def on_message(self, receiver: Receiver) -> None:
        self._receivers.append(receiver)

    async def start(self, timeout: float = 10.0) -> "LiveBus":
        self._tasks = [asyncio.create_task(self._listen(), name="live-bus-listen"),
                       asyncio.create_task(self._send_loop(), name="live-bus-send"),
                       asyncio.create_task(self._deliver_loop(), name="live-bus-deliver")]
        await asyncio.wait_for(self._listening.wait(), timeout)
        return self

    async def close(self) -> None:
        await self.flush(timeout=2.0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything sent so far has been handed to PostgreSQL (tests, shutdown)."""
        try:
            await asyncio.wait_for(self._outbox.join(), timeout)
        except asyncio.TimeoutError:
            log.warning("live bus: %d message(s) not sent", self._outbox.qsize())

    def send(self, topic: str, message: dict[str, Any]) -> None:
        """Queue for the other processes; never blocks the caller (the AMI reader publishes)."""
        self._outbox.put_nowait(encode(self.origin, topic, message))

    # -- sending -------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while True:
            payload = await self._outbox.get()
            try:
                await self._notify(payload)
            except Exception:                 # the database is away: this message is lost, later ones are not
                log.warning("live bus: could not send a message", exc_info=True)
            finally:
                self._outbox.task_done()

    async def _notify(self, payload: str) -> None:
        async with self.pool.acquire() as conn:
            if len(payload.encode()) > MAX_PAYLOAD:
                async with conn.transaction():
                    await conn.execute("DELETE FROM live_messages WHERE created_at < now() - $1::interval",
                                       SPILL_KEEP)
                    spill = await conn.fetchval("INSERT INTO live_messages (body) VALUES ($1) RETURNING id", payload)
                payload = json.dumps({"o": self.origin, "spill": spill})
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

    # -- receiving -------------------------------------------------------------------------

    async def _listen(self) -> None:
        """One connection that only listens; reconnect whenever it is lost."""
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self.dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c: lost.set())
                await conn.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: self._inbox.put_nowait(payload))
                self._listening.set()
                while not lost.is_set():
                    try:
                        await asyncio.wait_for(lost.wait(), self.check_every)
                    except asyncio.TimeoutError:
                        await conn.fetchval("SELECT 1")      # a half-open socket shows here
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live bus: listener lost (%s); reconnecting", exc)
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            self.reconnects += 1
            await asyncio.sleep(self.reconnect_after)

    async def _deliver_loop(self) -> None:
        """In arrival order, even when a spilled message must be loaded first."""
        while True:
            payload = await self._inbox.get()
            try:
                envelope = json.loads(payload)
                if envelope.get("o") == self.origin:
                    continue
                if "spill" in envelope:
                    async with self.pool.acquire() as conn:
                        body = await conn.fetchval("SELECT body FROM live_messages WHERE id = $1", envelope["spill"])
                    if body is None:
                        continue
                    envelope = json.loads(body)
                for receiver in self._receivers:
                    receiver(envelope["t"], envelope["m"])
            except Exception:
                log.warning("live bus: could not deliver a message", exc_info=True)
