"""Keep-alive connections spread evenly over web processes sharing a port (callcenter.web.core.balance).

Two aiohttp apps in this process stand for two web processes: both listen on one
port with SO_REUSEPORT, each counts its connections in its slot of one
connection table, as `serve` runs them.  The kernel hashes each new connection
to one of the two listening sockets just as it does across processes.
"""
from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from callcenter.cli.serve import connection_table
from callcenter.netutil import free_port
from callcenter.web.core.balance import FEW, Balancer, ConnectionTable, fair_share
from callcenter.web.runner import start_web

CLIENTS = 20


def test_the_table_starts_with_no_process_started(tmp_path):
    table = ConnectionTable.create(tmp_path / "t", 3)
    assert table.counts() == (-1, -1, -1)
    other = ConnectionTable(tmp_path / "t")           # another process's mapping of the same file
    table.publish(1, 7)
    assert other.counts() == (-1, 7, -1) and other.slots == 3
    with pytest.raises(ValueError):
        Balancer(other, 3)


def test_serve_makes_a_table_only_for_several_processes():
    assert connection_table(1) is None
    path = connection_table(2)
    try:
        assert ConnectionTable(path).counts() == (-1, -1)
    finally:
        import os
        os.unlink(path)


@pytest.mark.parametrize("counts, share", [
    ((30, 20), 25), ((25, 26), 26), ((0, 0), 0), ((10, -1), 10), ((9, 0, 0), 3), ((-1, -1), 0),
])
def test_fair_share_counts_only_started_processes(counts, share):
    assert fair_share(counts) == share


def app_of(index: int) -> web.Application:
    async def who(request: web.Request) -> web.Response:
        return web.Response(text=str(index))

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        await sock.send_str(str(index))
        async for _ in sock:
            pass
        return sock
    app = web.Application()
    app.router.add_get("/who", who)
    app.router.add_get("/ws", ws)
    return app


async def start(port: int, table: ConnectionTable, index: int) -> tuple[web.AppRunner, Balancer]:
    balance = Balancer(table, index)
    runner = await start_web(app_of(index), "127.0.0.1", port, reuse_port=True, balance=balance)
    return runner, balance


async def ask(http: aiohttp.ClientSession, port: int) -> str:
    async with http.get(f"http://127.0.0.1:{port}/who") as r:
        assert r.status == 200
        return await r.text()


async def test_connections_first_held_by_one_process_spread_over_both(tmp_path):
    """Process 0 takes every connection before process 1 starts; requests then move them until even."""
    port = free_port()
    table = ConnectionTable.create(tmp_path / "connections", 2)
    first, balance0 = await start(port, table, 0)
    second = None
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) for _ in range(CLIENTS)]
    try:
        assert set(await asyncio.gather(*(ask(s, port) for s in sessions))) == {"0"}
        assert len(balance0.held) == CLIENTS
        second, balance1 = await start(port, table, 1)
        for _ in range(200):
            answers = await asyncio.gather(*(ask(s, port) for s in sessions))      # every one answered
            if table.counts() == (CLIENTS // 2, CLIENTS // 2):
                break
        else:
            raise AssertionError(f"still {table.counts()} after 200 rounds")
        assert (len(balance0.held), len(balance1.held)) == table.counts()
        assert balance0.shed >= CLIENTS // 2         # (process 1 may shed a few too while they settle)
        # Balanced, nobody sheds any more: every client keeps its connection and its process.
        shed = balance0.shed + balance1.shed
        again = await asyncio.gather(*(ask(s, port) for s in sessions))
        assert again == answers and balance0.shed + balance1.shed == shed
    finally:
        for s in sessions:
            await s.close()
        await first.cleanup()
        if second is not None:
            await second.cleanup()


async def test_a_few_connections_and_websockets_are_never_shed(tmp_path):
    """Two clients on one process and none on the other stay put (the multi-worker tests pin clients so);
    a websocket opened on a process far over its share is upgraded, not closed."""
    port = free_port()
    table = ConnectionTable.create(tmp_path / "connections", 2)
    first, balance0 = await start(port, table, 0)
    table.publish(1, 0)                                  # process 1 started and holds nothing
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) for _ in range(FEW)]
    try:
        for _ in range(5):
            assert await asyncio.gather(*(ask(s, port) for s in sessions)) == ["0"] * FEW
        assert balance0.shed == 0 and len(balance0.held) == FEW
        sockets = [await s.ws_connect(f"http://127.0.0.1:{port}/ws") for s in sessions]
        extra = aiohttp.ClientSession()
        sockets.append(await extra.ws_connect(f"http://127.0.0.1:{port}/ws"))
        for sock in sockets:
            assert (await sock.receive_str(timeout=5)) == "0"
        assert balance0.shed == 0 and table.counts() == (FEW + 1, 0)
        for sock in sockets:
            await sock.close()
        await extra.close()
    finally:
        for s in sessions:
            await s.close()
        await first.cleanup()


async def test_connections_to_the_private_port_are_not_counted(tmp_path):
    """Worker 0's private loopback port (pages relayed by the other processes) is not the shared one."""
    port = free_port()
    table = ConnectionTable.create(tmp_path / "connections", 2)
    balance = Balancer(table, 0)
    runner = await start_web(app_of(0), "127.0.0.1", port, reuse_port=True, private=True, balance=balance)
    try:
        private = runner.addresses[-1][1]
        async with aiohttp.ClientSession() as http:
            await ask(http, private)
            assert len(balance.held) == 0
            await ask(http, port)
            assert len(balance.held) == 1 and table.counts()[0] == 1
        for _ in range(100):                    # the client closed: the count follows
            if table.counts()[0] == 0:
                break
            await asyncio.sleep(0.02)
        assert table.counts()[0] == 0
    finally:
        await runner.cleanup()


async def test_serve_hands_its_web_workers_the_table():
    from callcenter.cli.web_workers import WebWorkers
    workers = WebWorkers(2, env={}, telephony_url="http://127.0.0.1:1", connection_table="/run/t")
    argv = workers.argv(1)
    assert argv[argv.index("--connection-table") + 1] == "/run/t"
    assert "--connection-table" not in WebWorkers(2, env={}, telephony_url="http://127.0.0.1:1").argv(1)
