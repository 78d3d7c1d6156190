"""Retrying a database write through a short outage (PostgreSQL restarting, a connection cut).

A citizen on the line must not lose an answer because the database blinked:
each write here is idempotent (answers are versioned, outcomes written once,
settling flagged), so trying again after a broken connection is always safe,
including when the first try committed but its reply was lost.
"""
from __future__ import annotations

import asyncio
import logging
import random
from typing import Awaitable, Callable, TypeVar

import asyncpg

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Errors that mean "the server or the connection went away", not "the statement is wrong".
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,                                          # refused / reset while PostgreSQL restarts
    asyncpg.exceptions.PostgresConnectionError,       # class 08
    asyncpg.exceptions.OperatorInterventionError,     # class 57: admin shutdown, cannot connect now
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,                # connection closed under us
)


async def retrying(operation: Callable[[], Awaitable[T]], *, what: str, attempts: int = 10,
                   first_delay: float = 0.1, max_delay: float = 3.0) -> T:
    """Run ``operation`` (a fresh coroutine each time), backing off on transient errors; ~20 s in all."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except TRANSIENT as exc:
            if attempt == attempts:
                raise
            log.warning("%s: database unavailable (%s); retry %d/%d in %.1fs", what, exc.__class__.__name__,
                        attempt, attempts - 1, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(max_delay, delay * 2)
    raise AssertionError("unreachable")


async def on_connection(pool: asyncpg.Pool, step: Callable[[asyncpg.Connection], Awaitable[T]], *, what: str,
                        attempts: int = 10) -> T:
    """``step(conn)`` on a pooled connection, retried (on a fresh connection) through an outage."""
    async def once() -> T:
        async with pool.acquire() as conn:
            return await step(conn)
    return await retrying(once, what=what, attempts=attempts)
