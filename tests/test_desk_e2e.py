"""The human desk end to end on the simulator: a robot campaign leaves a dissatisfied and an unreachable
citizen; both tickets reach the desk; two agent consoles (websockets) take different tickets; one 拨打 rings
the agent, bridges the citizen and records; the agent's answers move the three rates exactly as the pure
scoring core computes them."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from callcenter.db import scoring as scoring_repo
from callcenter.scoring.answers import resolve
from callcenter.scoring.rates import rates, tally
from callcenter.scoring.rules import DEFAULT_RULE_SET
from callcenter.sim.citizens import CitizenBook, CitizenScript, Pickup
from tests import campaign_harness as h

from .factories import insert_user
from .test_web_helpers import PASSWORD, make_app, sign_in

EVER = (datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))
SCRIPTED = {
    h.phone(0): CitizenScript.keys("1", "1", "1", ring_seconds=1),                       # satisfied
    h.phone(1): CitizenScript.keys("1", "1", "3", "#", ring_seconds=1),                  # dissatisfied
    h.phone(2): CitizenScript(pickup=Pickup.NO_ANSWER, ring_seconds=1),                  # never reached
}


async def _rates_sql_and_pure(conn):
    """The street's rates from the SQL path and from the pure core over the same tickets' facts."""
    now = datetime.now(timezone.utc)
    sql = (await scoring_repo.group_counts(conn, *EVER, "street", DEFAULT_RULE_SET, as_of=now))[None].all
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM tickets ORDER BY id")]
    pure = tally([resolve(f) for f in await scoring_repo.ticket_facts(conn, ids)], DEFAULT_RULE_SET)
    return rates(sql, DEFAULT_RULE_SET), rates(pure, DEFAULT_RULE_SET)


async def _console(app, username):
    client = TestClient(TestServer(app))
    await client.start_server()
    token = await sign_in(client, username)
    ws = await client.ws_connect("/desk/ws")
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    return client, token, ws


async def test_robot_leftovers_are_called_back_by_people(db, settings, tmp_path):
    settings = replace(settings, recordings_dir=tmp_path / "rec", agent_interface="Local/{username}@agents")
    agi_port = h.free_port()
    sim = h.simulator(agi_port, book=CitizenBook(by_number=SCRIPTED, seed=3))
    sim_port = await sim.start()
    tickets = await h.seed_tickets(db.pool, 3)
    campaign = await h.start_campaign(db.pool, channels=3, max_attempts=1)
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE campaigns SET desk_unreached_after = 1 WHERE id = $1", campaign)
        for name in ("agent", "agent2"):
            await insert_user(conn, name, "agent", PASSWORD)
    clients = []
    try:
        async with h.service(settings, sim_port, agi_port, "desk-e2e") as svc:
            await h.wait_until_all_final(db.pool, timeout=60)
            async with db.pool.acquire() as conn:
                queued = dict(await conn.fetch("SELECT ticket_id, reason FROM desk_items WHERE state = 'open'"))
                before_sql, before_pure = await _rates_sql_and_pure(conn)
            assert queued == {tickets[1]: "dissatisfied", tickets[2]: "unreached"}
            assert before_sql == before_pure

            app = make_app(db, settings, dialer=svc.dialer)
            consoles = [await _console(app, name) for name in ("agent", "agent2")]
            clients = [c for c, _, _ in consoles]
            held = {}
            for (client, token, ws), name in zip(consoles, ("agent", "agent2")):
                await ws.send_json({"op": "claim"})
                reply = await ws.receive_json(timeout=5)
                held[name] = reply["item"]
                assert reply["item"]["phone"].count("*") == 4          # masked for agents
            assert {held["agent"]["ticket_id"], held["agent2"]["ticket_id"]} == {tickets[1], tickets[2]}

            caller = next(n for n in held if held[n]["ticket_id"] == tickets[1])
            client, token, ws = consoles[("agent", "agent2").index(caller)]
            item_id = held[caller]["item_id"]
            page = await (await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})).text()
            assert "正在呼叫" in page, page
            for _ in range(200):
                async with db.pool.acquire() as conn:
                    row = await conn.fetchrow("SELECT call_live, call_recording FROM desk_items WHERE id = $1",
                                              item_id)
                if not row["call_live"] and sim.engine.desk_bridges:
                    break
                await asyncio.sleep(0.05)
            bridge = sim.engine.desk_bridges[0]
            assert bridge.citizen_number == h.phone(1) and bridge.agent_channel.startswith(f"Local/{caller}@agents")
            assert bridge.recording == row["call_recording"] and Path(bridge.recording).is_absolute()
            assert Path(bridge.recording).stat().st_size > 44                   # a WAV with audio in it
            assert bridge.recording.startswith(str(settings.recordings.resolve()))

            done = await client.post(f"/desk/{item_id}/record", data={
                "csrf_token": token, "outcome": "answered-complete", "contacted": "yes", "solved": "solved",
                "satisfaction": "satisfied", "note": "已上门解决"})
            assert "回访结果已保存" in await done.text()
            async with db.pool.acquire() as conn:
                sources = {r["source"] for r in await conn.fetch(
                    "SELECT x.source FROM callback_answers x JOIN callback_attempts a ON a.id = x.attempt_id "
                    "WHERE a.desk_kind = 'agent'")}
                recorded = await conn.fetchval("SELECT recording_path FROM callback_attempts "
                                               "WHERE desk_kind = 'agent'")
                after_sql, after_pure = await _rates_sql_and_pure(conn)
            assert sources == {"agent"} and recorded == bridge.recording
            assert after_sql == after_pure
            # By hand: two effective callbacks, both contacted and solved; satisfaction went 1/2 → 2/2.
            assert (before_sql.satisfied, after_sql.satisfied) == (0.5, 1)
            assert after_sql.counts.n == before_sql.counts.n == 2
            for _, _, ws in consoles:
                await ws.close()
    finally:
        for client in clients:
            await client.close()
        await sim.close()
