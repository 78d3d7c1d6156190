"""The alert pass: every ``tick`` raise what the rules find, schedule first notices and reminders.

Runs as its own task; it only reads tickets and writes alerts, so it never
holds up the dialer.  An unacknowledged alert is sent again every
``remind_every`` until someone acknowledges it on the web (or by the API).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, Sequence

import asyncpg

from ..db import alerts as repo

log = logging.getLogger(__name__)

#: Extra alert sources (e.g. 高发 warnings): given a connection and "now", the alerts they raised.
Source = Callable[[asyncpg.Connection, datetime], Awaitable[Sequence[int]]]


@dataclass(frozen=True)
class AlertOptions:
    tick: float = 30.0
    remind_every: timedelta = timedelta(minutes=30)
    max_reminders: int = 6            # then the alert waits on the web only (a night of reminders is enough)
    email: bool = True                # schedule e-mail to the on-duty staff (needs an SMTP host to send)


@dataclass(frozen=True)
class PassResult:
    raised: list[int]
    reminded: int
    deliveries: int


async def alert_pass(conn: asyncpg.Connection, now: datetime, options: AlertOptions,
                     sources: Sequence[Source] = ()) -> PassResult:
    """One pass, in one transaction (an alert is never raised without its deliveries): SQL rules,
    extra sources, then deliveries for new alerts and due reminders."""
    async with conn.transaction():
        return await _pass(conn, now, options, sources)


async def _pass(conn: asyncpg.Connection, now: datetime, options: AlertOptions,
                sources: Sequence[Source]) -> PassResult:
    raised = await repo.raise_rule_alerts(conn, now)
    for source in sources:
        raised += await source(conn, now)
    deliveries = await repo.schedule(conn, raised, 0, now, email=options.email)
    reminders = await repo.due_reminders(conn, now, options.remind_every, options.max_reminders)
    for alert_id, round_no in reminders:
        deliveries += await repo.schedule(conn, [alert_id], round_no, now, email=options.email)
    return PassResult(raised, len(reminders), deliveries)


class AlertEngine:
    def __init__(self, pool: asyncpg.Pool, options: AlertOptions = AlertOptions(),
                 sources: Sequence[Source] = ()) -> None:
        self.pool, self.options, self.sources = pool, options, list(sources)

    async def run(self) -> None:
        while True:
            try:
                async with self.pool.acquire() as conn:
                    result = await alert_pass(conn, datetime.now(timezone.utc), self.options, self.sources)
                if result.raised or result.reminded:
                    log.info("alerts: %d raised, %d reminders, %d deliveries", len(result.raised),
                             result.reminded, result.deliveries)
            except asyncio.CancelledError:
                raise
            except Exception:                   # logged; the next tick tries again
                log.exception("alert pass failed")
            await asyncio.sleep(self.options.tick)
