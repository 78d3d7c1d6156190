"""LISTEN/NOTIFY between processes: order kept, own messages skipped, big ones by id, a lost listener rebuilt."""
from __future__ import annotations

import asyncio

import pytest

from callcenter.db.live_bus import MAX_PAYLOAD, LiveBus
from callcenter.hotline.hub import SharedHub


@pytest.fixture
async def buses(db):
    a = await LiveBus(db.dsn, db.pool, reconnect_after=0.05, check_every=0.2).start()
    b = await LiveBus(db.dsn, db.pool, reconnect_after=0.05, check_every=0.2).start()
    yield a, b
    await a.close()
    await b.close()


async def received(into: list, count: int, timeout: float = 5.0) -> list:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(into) < count:
        assert loop.time() < deadline, f"only {len(into)} of {count} arrived: {into}"
        await asyncio.sleep(0.01)
    return into


async def test_messages_arrive_in_order_and_never_echo(buses):
    a, b = buses
    at_a, at_b = [], []
    a.on_message(lambda topic, message: at_a.append((topic, message)))
    b.on_message(lambda topic, message: at_b.append((topic, message)))
    for n in range(20):
        a.send("agent:x", {"n": n})
    assert [m["n"] for _, m in await received(at_b, 20)] == list(range(20))
    await asyncio.sleep(0.2)
    assert at_a == []


async def test_a_message_over_notifys_limit_goes_by_id(buses, db):
    a, b = buses
    got = []
    b.on_message(lambda topic, message: got.append(message))
    history = [{"title": "噪音扰民" * 50, "i": i} for i in range(40)]       # far over 8000 bytes
    a.send("agent:x", {"type": "screen_pop", "tickets": history})
    a.send("agent:x", {"type": "small"})
    first, second = await received(got, 2)
    assert first["tickets"] == history and second["type"] == "small"      # order kept across the spill
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM live_messages") == 1
    assert len(str(history).encode()) > MAX_PAYLOAD


async def test_the_listener_comes_back_after_its_connection_is_killed(buses, db):
    a, b = buses
    got = []
    b.on_message(lambda topic, message: got.append(message))
    async with db.pool.acquire() as conn:
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid() AND datname = current_database()")
    assert killed == 2
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while b.reconnects == 0:
        assert loop.time() < deadline
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    a.send("wall", {"type": "live"})
    assert await received(got, 1) == [{"type": "live"}]


async def test_shared_hub_delivers_locally_and_to_the_other_process(buses):
    a, b = buses
    here, there = SharedHub(a), SharedHub(b)
    local = here.subscribe("agent:li")
    remote = there.subscribe("agent:li")
    asked = []
    here.on_remote("wall:refresh", asked.append)
    assert here.publish("agent:li", {"type": "screen_pop"}) == 1
    assert local.get_nowait() == {"type": "screen_pop"}
    assert await asyncio.wait_for(remote.get(), 5) == {"type": "screen_pop"}
    there.publish("wall:refresh", {})
    await received(asked, 1)
    assert here.subscribers("wall") == 1          # another process may be watching
