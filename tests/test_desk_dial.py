"""拨打 from the desk: the robot's limits apply, the agent is rung first, the call is recorded and followed."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta, timezone

from aiohttp.test_utils import TestClient, TestServer

from callcenter.campaigns.ports import OriginateResult
from callcenter.campaigns.windows import CallingWindows
from callcenter.db import campaigns as camp
from callcenter.db import desk
from callcenter.desk.dialing import DialFacts, dial_refusal
from callcenter.ledger.timezone import OFFICE_TZ

from .factories import insert_ticket
from .test_web_helpers import make_app, sign_in, users  # noqa: F401

ALL_DAY = ["00:00-23:59"]


class FakeCall:
    def __init__(self):
        loop = asyncio.get_running_loop()
        self.sent, self.result, self.hangup = loop.create_future(), loop.create_future(), loop.create_future()
        self.sent.set_result(True)


class FakePbx:
    connected = True

    def __init__(self):
        self.requests, self.calls = [], []

    async def originate(self, request):
        self.requests.append(request)
        self.calls.append(FakeCall())
        return self.calls[-1]


class FakeDialer:
    def __init__(self):
        self.pbx = FakePbx()


def facts(**changes) -> DialFacts:
    base = dict(item_id=1, ticket_id=1, phone="13800000001", on_dnc=False, dialed_today=0, daily_cap=2,
                windows=CallingWindows.parse(["09:00-12:00"]), caller_id="", trunk_name="t",
                trunk_dial="PJSIP/{number}@t", trunk_max_channels=4)
    return DialFacts(**{**base, **changes})


def test_the_robots_limits_apply():
    morning = datetime(2024, 5, 6, 10, tzinfo=OFFICE_TZ)
    assert dial_refusal(facts(), morning) is None
    assert "免打扰" in dial_refusal(facts(on_dnc=True), morning)
    assert "每日上限" in dial_refusal(facts(dialed_today=2), morning)
    assert "回访时段" in dial_refusal(facts(), morning.replace(hour=21))
    holiday = facts(windows=CallingWindows.parse(["09:00-12:00"], [date(2024, 5, 6)]))
    assert "节假日" in dial_refusal(holiday, morning)


async def _setup(db, *, windows=ALL_DAY, phone="13812345678"):
    async with db.pool.acquire() as conn:
        await camp.upsert_trunk(conn, "main", "PJSIP/{number}@trunk", 4, 1.0, "01082345678")
        cid = await camp.create_campaign(conn, camp.CampaignSpec(name="c", trunk="main", windows=tuple(windows)))
        tid = await insert_ticket(conn, status="callback_failed", phone=phone)
        await desk.enqueue(conn, tid, "unreached", campaign_id=cid)
    return tid


async def _client(db, settings, dialer):
    settings = settings.__class__(**{**settings.__dict__, "agent_interface": "Local/{username}@agents"})
    client = TestClient(TestServer(make_app(db, settings, dialer=dialer)))
    await client.start_server()
    return client


@asynccontextmanager
async def agent_holding_an_item(db, settings, dialer: "FakeDialer | None" = None):
    """The agent signed in at the desk, holding the claimed item: (client, dialer, CSRF token, item id)."""
    dialer = dialer or FakeDialer()
    client = await _client(db, settings, dialer)
    try:
        token = await sign_in(client, "agent")
        yield client, dialer, token, await _claimed_item(client, token)
    finally:
        await client.close()


async def _claimed_item(client, token) -> int:
    await client.post("/desk/claim", data={"csrf_token": token})
    page = await (await client.get("/desk")).text()
    return int(page.split('data-item="')[1].split('"')[0])


async def test_dial_rings_the_agent_first_and_records(db, settings, users):
    tid = await _setup(db)
    async with agent_holding_an_item(db, settings) as (client, dialer, token, item_id):
        page = await (await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})).text()
        assert "正在呼叫" in page and "通话中" in page
        request = dialer.pbx.requests[0]
        assert request.dial_string == "Local/agent@agents" and request.context == "desk-callback"
        assert request.exten == "13812345678" and request.caller_id == "01082345678"
        recording = request.variables["DESK_RECORDING"]
        assert recording.startswith(str(settings.recordings.resolve()) + "/desk/") and recording.endswith(".wav")
        assert request.variables["TRUNK_DIAL"] == "PJSIP/13812345678@trunk"
        again = await (await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})).text()
        assert "正在通话中" in again and len(dialer.pbx.requests) == 1          # one call at a time
        call = dialer.pbx.calls[0]
        call.result.set_result(OriginateResult(True, 4))
        call.hangup.set_result(16)
        for _ in range(100):
            async with db.pool.acquire() as conn:
                if not await conn.fetchval("SELECT call_live FROM desk_items WHERE id = $1", item_id):
                    break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the hang-up did not free the desk item")
        await client.post(f"/desk/{item_id}/record", data={
            "csrf_token": token, "outcome": "answered-complete", "contacted": "yes", "solved": "unsolved",
            "satisfaction": "dissatisfied", "note": "仍未修"})
        async with db.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT recording_path, agent, dialed_at FROM callback_attempts "
                                      "WHERE desk_kind = 'agent'")
            score = await conn.fetchrow("SELECT source, solved FROM ticket_scores WHERE ticket_id = $1", tid)
        assert row["recording_path"] == recording and row["agent"] == "agent" and row["dialed_at"] is not None
        assert tuple(score) == ("own", "unsolved")


async def test_dnc_and_windows_refuse_the_dial(db, settings, users):
    await _setup(db, phone="13900000009")
    async with db.pool.acquire() as conn:
        await conn.execute("INSERT INTO do_not_call (phone, reason) VALUES ('13900000009', '市民要求')")
    async with agent_holding_an_item(db, settings) as (client, dialer, token, item_id):
        page = await (await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})).text()
        assert "免打扰名单" in page and dialer.pbx.requests == []
        dialer.pbx.connected = False
        page = await (await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})).text()
        assert "电话系统未连接" in page
