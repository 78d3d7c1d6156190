"""FairPool: connections go to waiters in arrival order, even to one asking the moment a connection comes back."""
from __future__ import annotations

import asyncio

import asyncpg
import pytest

from callcenter.db import database
from callcenter.db.database import _init_connection
from callcenter.db.fair_pool import FairPool, create_fair_pool


async def served_order(make_pool, waiters: int) -> list[str]:
    """One task holds the only connection while ``waiters`` queue behind it; as it gives the connection back,
    another task becomes ready to ask for one (under load: a request whose query just came back and needs its
    next connection).  Who got a connection, in order."""
    order: list[str] = []
    newcomer: list[asyncio.Task] = []

    async def use(name: str) -> None:
        async with pool.acquire() as conn:
            order.append(name)
            await conn.fetchval("SELECT 1")

    async def reset(conn) -> None:        # runs just before the connection goes back to the pool
        if armed:
            armed.clear()
            newcomer.append(asyncio.create_task(use("newcomer")))

    armed = [True]
    armed.clear()
    pool = await make_pool(reset=reset)
    try:
        async with pool.acquire():
            queued = [asyncio.create_task(use(f"waiter {i}")) for i in range(waiters)]
            await asyncio.sleep(0.05)           # every waiter is queued
            armed.append(True)
        await asyncio.gather(*queued)
        await asyncio.gather(*newcomer)
    finally:
        await pool.close()
    return order


async def test_waiters_are_served_in_arrival_order_before_a_newcomer(db_dsn):
    async def make_pool(reset):
        return await create_fair_pool(db_dsn, min_size=1, max_size=1, init=_init_connection, reset=reset)
    assert await served_order(make_pool, 3) == ["waiter 0", "waiter 1", "waiter 2", "newcomer"]


async def test_asyncpgs_own_pool_lets_a_newcomer_jump_the_queue(db_dsn):
    """Why FairPool exists: with asyncpg's pool the oldest waiter loses the connection it was woken for."""
    async def make_pool(reset):
        return await asyncpg.create_pool(db_dsn, min_size=1, max_size=1, init=_init_connection, reset=reset)
    assert (await served_order(make_pool, 3))[0] == "newcomer"


async def test_the_pools_the_service_opens_are_fair(settings):
    db = await database.connect(settings, apply_migrations=False)
    try:
        side = await db.side_pool(1, 1, durable_commits=False)
        assert isinstance(db.pool, FairPool) and isinstance(side, FairPool)
    finally:
        await db.close()


async def test_turns_match_connections_after_bad_releases(db_dsn):
    """A second release does nothing, a foreign connection raises (as in asyncpg): neither frees a turn."""
    pool = await create_fair_pool(db_dsn, min_size=1, max_size=2)
    other = await create_fair_pool(db_dsn, min_size=1, max_size=1)
    try:
        conn = await pool.acquire()
        await pool.release(conn)
        await pool.release(conn)
        foreign = await other.acquire()
        with pytest.raises(asyncpg.InterfaceError):
            await pool.release(foreign)
        await other.release(foreign)
        # Exactly two connections at once, the third waits for one to come back.
        first, second = await pool.acquire(), await pool.acquire()
        third = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.05)
        assert not third.done()
        await pool.release(first)
        await pool.release(await asyncio.wait_for(third, 5))
        await pool.release(second)
        assert await pool.fetchval("SELECT 41 + 1") == 42        # the pool's own shortcuts take turns too
    finally:
        pool.terminate()        # not close(): it would wait forever for a connection a failed check still holds
        other.terminate()


async def test_a_timed_out_acquire_gives_its_turn_back(db_dsn):
    pool = await create_fair_pool(db_dsn, min_size=1, max_size=1)
    try:
        held = await pool.acquire()
        with pytest.raises(asyncio.TimeoutError):
            await pool.acquire(timeout=0.05)
        await pool.release(held)
        async with pool.acquire(timeout=5) as conn:
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await pool.close()
