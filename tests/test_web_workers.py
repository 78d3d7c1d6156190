"""`callcenter serve` with two web processes on one port, against the simulator, over real TCP.

Worker 0 runs the whole service (AMI link, dialer, hotline); worker 1 serves
pages only.  The kernel picks the process for each new connection, so each
check opens keep-alive connections until the one it needs answers (the
``X-Callcenter-Worker`` header says which did) and then stays on it:
a session signed in on one process is valid on the other, a CSRF token issued
by one is accepted by the other, and the live feeds of the service's AMI
events (campaign counters, screen-pop, wall) reach clients of worker 1.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

from callcenter.db import campaigns as campaign_repo
from callcenter.netutil import free_port
from callcenter.sim.queues import AgentScript, QueueConfig, QueueEngine
from callcenter.web.app import WORKER_HEADER
from tests import campaign_harness as harness

from .factories import insert_ticket
from .test_web_helpers import PASSWORD, users  # noqa: F401  (fixture)

RETRY = timedelta(seconds=1)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PHONE = "13800000001"


@pytest.fixture
async def two_workers(settings, users, tmp_path):  # noqa: F811
    """The simulator (campaign citizens and one queue) and `serve` with CALLCENTER_WEB_WORKERS=2."""
    agi_port, web_port = free_port(), free_port()
    sim = harness.simulator(agi_port, time_scale=0.02)
    sim.engine.queues = QueueEngine(sim.engine, queues=[QueueConfig(strategy="rrmemory")],
                                    default_agent=AgentScript(ring_seconds=1, talk_seconds=3))
    await sim.start()
    env = dict(os.environ, CALLCENTER_DSN=settings.dsn, CALLCENTER_HOME=str(settings.home),
               CALLCENTER_AMI_PORT=str(sim.port), CALLCENTER_AGI_PORT=str(agi_port),
               CALLCENTER_WEB_PORT=str(web_port), CALLCENTER_WEB_WORKERS="2", CALLCENTER_INSTANCE="workers-1",
               CALLCENTER_SHUTDOWN_GRACE="2")
    env.pop("CALLCENTER_CONFIG", None)
    log_path = tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "callcenter", "serve"], env=env,
                            stdout=log_path.open("ab"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{web_port}"
    try:
        await until_both_answer(base, proc, log_path)
        yield base, sim, proc, log_path
    finally:
        harness.reap(proc)
        await sim.close()


async def until_both_answer(base: str, proc: subprocess.Popen, log_path, timeout: float = 60.0) -> None:
    seen: set[str] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        while seen != {"0", "1"}:
            assert proc.poll() is None, log_path.read_text()
            assert loop.time() < deadline, f"only workers {seen} answered\n{log_path.read_text()}"
            try:
                async with http.get(f"{base}/login") as r:
                    seen.add(r.headers.get(WORKER_HEADER, "?"))
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.2)


@asynccontextmanager
async def on_worker(base: str, worker: str, jar: aiohttp.CookieJar):
    """A client whose one keep-alive connection is answered by ``worker`` (cookies in the shared ``jar``)."""
    for _ in range(100):
        http = aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=1), cookie_jar=jar)
        async with http.get("/login", allow_redirects=False) as r:
            await r.read()
            if r.headers.get(WORKER_HEADER) == worker:
                break
        await http.close()
    else:
        raise AssertionError(f"worker {worker} never answered")
    try:
        yield http
    finally:
        await http.close()


async def answered_by(response: aiohttp.ClientResponse, worker: str) -> aiohttp.ClientResponse:
    assert response.headers.get(WORKER_HEADER) == worker, "the keep-alive connection moved to another process"
    return response


async def sign_in(http: aiohttp.ClientSession, worker: str, username: str) -> None:
    async with http.get("/login") as r:
        token = _CSRF.search(await r.text()).group(1)
    async with http.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD,
                                         "next": "/"}, allow_redirects=False) as r:
        await answered_by(r, worker)
        assert r.status == 303, await r.text()


async def session_token(http: aiohttp.ClientSession, worker: str) -> str:
    async with http.get("/api/me") as r:
        await answered_by(r, worker)
        assert r.status == 200
        return (await r.json())["csrf_token"]


async def draft_campaign(pool) -> int:
    async with pool.acquire() as conn:
        await campaign_repo.upsert_trunk(conn, "sim", "Local/{number}@citizen-sim", 3, 100, "<01082345678>")
        return await campaign_repo.create_campaign(conn, campaign_repo.CampaignSpec(
            name="跨进程", trunk="sim", windows=("00:00-23:59",), max_attempts=1, retry_busy=RETRY,
            retry_no_answer=RETRY, retry_failed=RETRY, retry_partial=RETRY, retry_no_answer_elsewhere=False,
            daily_cap_per_number=20))


async def test_sessions_csrf_and_campaign_counters_cross_workers(two_workers, db):
    base, sim, _, log_path = two_workers
    jar = aiohttp.CookieJar(unsafe=True)
    await harness.seed_tickets(db.pool, 6)
    campaign_id = await draft_campaign(db.pool)      # worker 1 will start it with worker 0's token
    async with on_worker(base, "0", jar) as first, on_worker(base, "1", jar) as second:
        await sign_in(first, "0", "supervisor")
        token = await session_token(first, "0")
        # The session made by worker 0 is valid on worker 1 (it is the same session: same CSRF token).
        assert await session_token(second, "1") == token
        async with second.get("/tickets") as r:
            await answered_by(r, "1")
            assert r.status == 200 and "/login" not in str(r.url)
        # A token worker 0 issued is accepted by worker 1; a wrong one is refused there.
        async with second.post(f"/campaigns/{campaign_id}/state", data={"csrf_token": "forged", "command": "start"},
                               allow_redirects=False) as r:
            assert r.status == 403
        async with second.post(f"/campaigns/{campaign_id}/state", data={"csrf_token": token, "command": "start"},
                               allow_redirects=False) as r:
            await answered_by(r, "1")
            assert r.status == 303
        # The service (worker 0) dials; worker 1's event stream shows the counters moving to the end.
        async with second.get(f"/campaigns/{campaign_id}/events") as stream:
            await answered_by(stream, "1")
            placed = []
            async for line in stream.content:
                if not line.startswith(b"data: "):
                    continue
                snapshot = json.loads(line[6:])
                counters = {c["key"]: c["value"] for c in snapshot["counters"]}
                placed.append(counters["placed"])
                if counters["open_tickets"] == 0 and counters["placed"] >= 6:
                    break
                assert len(placed) < 60, f"counters stuck at {counters}; the service said:\n{log_path.read_text()}"
    assert placed[0] < placed[-1]


async def next_of(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 15.0) -> dict:
    while True:
        message = await ws.receive_json(timeout=timeout)
        if message["type"] == kind:
            return message


async def test_screen_pop_and_wall_reach_the_other_worker_and_sigterm_stops_all(two_workers, db):
    base, sim, proc, _ = two_workers
    now = datetime.now(timezone.utc)
    async with db.pool.acquire() as conn:
        await insert_ticket(conn, "T1", phone=PHONE, called_at=now - timedelta(days=1), title="噪音扰民")
    agent_jar, boss_jar = aiohttp.CookieJar(unsafe=True), aiohttp.CookieJar(unsafe=True)
    async with on_worker(base, "1", agent_jar) as agent, on_worker(base, "1", boss_jar) as boss:
        await sign_in(agent, "1", "agent")
        token = await session_token(agent, "1")
        # Queue sign-in acts on the PBX: worker 1 relays it to worker 0, which holds the AMI link.
        async with agent.post("/console/queue", data={"csrf_token": token, "action": "login"},
                              allow_redirects=False) as r:
            assert (r.status, r.headers.get(WORKER_HEADER)) == (302, "0")
        ws = await agent.ws_connect("/console/ws")
        assert ws._response.headers.get(WORKER_HEADER) == "1"
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        await sign_in(boss, "1", "supervisor")
        wall = await boss.ws_connect("/wall/ws")
        assert wall._response.headers.get(WORKER_HEADER) == "1"
        live = await next_of(wall, "live")          # asked of worker 0, which follows the queue
        while not live["agents"]:                   # (one sent before the QueueMemberAdded arrived)
            live = await next_of(wall, "live")
        assert [a["name"] for a in live["agents"]] == ["agent"]

        sim.engine.queues.inbound(PHONE)            # worker 0 sees AgentCalled on its AMI link
        pop = await next_of(ws, "screen_pop")
        assert pop["phone"] == "138****0001"
        assert [t["title"] for t in pop["tickets"]] == ["噪音扰民"]
        ended = await next_of(ws, "call_ended")
        assert ended["uniqueid"] == pop["uniqueid"]
        stats = await next_of(wall, "stats")
        while stats["answered"] < 1:
            stats = await next_of(wall, "stats")
        await ws.close()
        await wall.close()

    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, 60) == 0
    port = int(base.rsplit(":", 1)[1])
    with pytest.raises(OSError):        # no worker is left holding the port
        await asyncio.open_connection("127.0.0.1", port)
