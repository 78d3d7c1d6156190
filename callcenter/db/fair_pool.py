"""An asyncpg pool that hands out connections first come, first served.

Why: asyncpg queues its free connections in an ``asyncio.Queue``, whose ``get``
lets a newcomer take a connection that was just put back for the oldest
waiter; that waiter, woken a moment later, finds the queue empty and goes to
the *back* of the line.  Under load (fifty page requests sharing a web process's
ten connections) most requests got a connection at once while a few waited
again and again: pool waits of 0 ms at the median and 135 ms at the 95th
percentile, the bulk of the ticket list's tail (bench/RESULTS.md, web latency).
Here each acquire first takes a turn from a FIFO semaphore (``asyncio.Semaphore``
hands a released turn to the oldest waiter) with as many turns as connections,
so whoever holds a turn finds a connection free.
"""
from __future__ import annotations

import asyncio

import asyncpg
from asyncpg.pool import Pool


class FairPool(Pool):
    """asyncpg's :class:`~asyncpg.pool.Pool`, with acquires served in arrival order (see the module doc)."""

    __slots__ = ("_turns", "_turn_holders")

    def __init__(self, *args, max_size: int, **kwargs) -> None:
        super().__init__(*args, max_size=max_size, **kwargs)
        self._turns = asyncio.Semaphore(max_size)
        self._turn_holders: set[int] = set()     # id() of the connection proxies handed out with a turn

    async def _acquire(self, timeout):
        if timeout is None:
            return await self._acquire_in_turn()
        return await asyncio.wait_for(self._acquire_in_turn(), timeout)

    async def _acquire_in_turn(self):
        await self._turns.acquire()
        try:
            proxy = await super()._acquire(None)
        except BaseException:
            self._turns.release()
            raise
        self._turn_holders.add(id(proxy))
        return proxy

    async def release(self, connection, *, timeout=None) -> None:
        try:
            await super().release(connection, timeout=timeout)
        finally:
            # Only a connection this pool handed out gives its turn back, and only once (a second release
            # or a foreign connection raises in asyncpg and must not free a turn nobody took).
            if id(connection) in self._turn_holders:
                self._turn_holders.discard(id(connection))
                self._turns.release()


async def create_fair_pool(dsn: str, *, min_size: int, max_size: int, init=None, reset=None,
                           **connect_kwargs) -> FairPool:
    """Like ``asyncpg.create_pool`` (its defaults otherwise), returning a started :class:`FairPool`;
    ``connect_kwargs`` go to each connection (e.g. ``server_settings``)."""
    pool = FairPool(dsn, min_size=min_size, max_size=max_size, max_queries=50_000,
                    max_inactive_connection_lifetime=300.0, init=init, reset=reset, loop=None,
                    connection_class=asyncpg.Connection, record_class=asyncpg.Record, **connect_kwargs)
    return await pool
