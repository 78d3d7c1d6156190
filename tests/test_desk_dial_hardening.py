"""拨打 when things go wrong, without a PBX: a double click, a call made and never recorded (the daily cap, the
next agent), a service that stops or crashed mid-call, and an agent's phone that never answered."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from aiohttp.test_utils import TestClient, TestServer

from callcenter.campaigns.ports import LinkLost, OriginateResult
from callcenter.db import desk

from .factories import insert_ticket
from .test_desk_dial import FakeDialer, _claimed_item, _client, _setup, agent_holding_an_item
from .test_web_helpers import make_app, sign_in, users  # noqa: F401


class FollowingPbx:
    """A PBX that knows which channels are up, and lets the test hang one up."""
    connected = True

    def __init__(self, live: set[str]):
        self.live = live
        self.waiters: dict[str, asyncio.Future] = {}

    async def originate(self, request):
        raise AssertionError("no call is made here")

    async def live_channel_ids(self) -> set[str]:
        return set(self.live)

    async def wait_hangup(self, channel_id: str) -> asyncio.Future:
        if channel_id not in self.waiters or self.waiters[channel_id].done():      # as AmiPbx: a new watch
            self.waiters[channel_id] = asyncio.get_running_loop().create_future()
        return self.waiters[channel_id]


class Owner:
    def __init__(self, pbx):
        self.pbx = pbx


async def _live(db, item_id: int) -> bool:
    async with db.pool.acquire() as conn:
        return await conn.fetchval("SELECT call_live FROM desk_items WHERE id = $1", item_id)


async def _until(predicate, what: str, within: float = 3.0) -> None:
    for _ in range(int(within / 0.02)):
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(what)


async def test_two_quick_presses_of_dial_make_one_call(db, settings, users):  # noqa: F811
    await _setup(db)
    async with agent_holding_an_item(db, settings) as (client, dialer, token, item_id):
        pages = await asyncio.gather(*(client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})
                                       for _ in range(2)))
        texts = [await p.text() for p in pages]
        assert len(dialer.pbx.requests) == 1
        # (the two redirects share the session's flashes, so either page may show either message)
        assert any("正在通话中" in t for t in texts)


async def test_a_dialled_call_is_recorded_before_the_next_and_counts_against_the_cap(db, settings, users):  # noqa: F811
    await _setup(db)
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE campaigns SET daily_cap_per_number = 1")
    async with agent_holding_an_item(db, settings) as (client, dialer, token, item_id):
        await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})
        call = dialer.pbx.calls[0]
        call.result.set_result(OriginateResult(True, 4))       # the agent answered: the citizen was called
        call.hangup.set_result(17)
        await _until(lambda: _not(_live(db, item_id)), "the hang-up did not free the item")
        again = await (await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})).text()
        assert "请先登记" in again and len(dialer.pbx.requests) == 1
        await client.post(f"/desk/{item_id}/record", data={"csrf_token": token, "outcome": "busy", "note": ""})
        async with db.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM callback_attempts WHERE desk_kind = 'agent'") == 1
            await conn.execute("UPDATE desk_items SET due_at = now() - interval '1 minute'")
        item_id = await _claimed_item(client, token)
        capped = await (await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})).text()
        assert "每日上限" in capped and len(dialer.pbx.requests) == 1


async def _not(awaitable) -> bool:
    return not await awaitable


async def test_the_daily_cap_counts_a_call_made_but_not_yet_recorded(db):
    await _setup(db, phone="13800000077")
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE campaigns SET daily_cap_per_number = 1")
        second = await insert_ticket(conn, "T2", phone="13800000077")
        cid = await conn.fetchval("SELECT id FROM campaigns LIMIT 1")
        await desk.enqueue(conn, second, "unreached", campaign_id=cid)
        now = datetime.now(timezone.utc)
        first = await desk.claim_next(conn, "a", now=now)
        assert await desk.start_call(conn, first.id, "a", now=now)
        assert await desk.end_call(conn, first.id, "a", now=now)
        later = await desk.claim_next(conn, "b", now=now)
        facts = await desk.dial_facts(conn, later.id, "b", now=now)
    assert facts.dialed_today == 1                # a's call, not yet recorded, to the same number


async def test_a_call_left_unrecorded_counts_as_the_last_holders_failed_attempt(db):
    tid = await _setup(db)
    async with db.pool.acquire() as conn:
        T0 = datetime.now(timezone.utc) + timedelta(minutes=1)       # noqa: N806  (the test's clock)
        item = await desk.claim_next(conn, "a", now=T0)
        assert await desk.start_call(conn, item.id, "a", now=T0)
        assert await desk.end_call(conn, item.id, "a", now=T0 + timedelta(seconds=40))
        assert not await desk.start_call(conn, item.id, "a", now=T0 + timedelta(seconds=41))
        # "a" walks away without the form; after the lease "b" takes the ticket and may call at once
        taken = await desk.claim_next(conn, "b", now=T0 + timedelta(hours=1))
        assert taken.id == item.id
        attempt = await conn.fetchrow("SELECT agent, outcome, dialed_at, ended_at FROM callback_attempts "
                                      "WHERE ticket_id = $1", tid)
        assert tuple(attempt) == ("a", "failed", T0, T0 + timedelta(seconds=40))
        assert await desk.start_call(conn, item.id, "b", now=T0 + timedelta(hours=1, seconds=1))


async def test_an_agent_phone_that_never_answered_leaves_no_call_to_record(db, settings, users):  # noqa: F811
    await _setup(db)
    async with agent_holding_an_item(db, settings) as (client, dialer, token, item_id):
        await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})
        during = await (await client.post(f"/desk/{item_id}/renew", headers={"X-CSRF-Token": token})).json()
        assert during["call_live"] is True
        dialer.pbx.calls[0].result.set_result(OriginateResult(False, 3))
        await _until(lambda: _not(_live(db, item_id)), "the unanswered call did not free the item")
        after = await (await client.post(f"/desk/{item_id}/renew", headers={"X-CSRF-Token": token})).json()
        assert after["call_live"] is False and after["call_status"] == "您的电话未接听, 没有呼叫市民"
        assert "您的电话未接听" in await (await client.get("/desk")).text()
        page = await (await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})).text()
        assert "正在呼叫" in page and len(dialer.pbx.requests) == 2


async def _app_with(db, settings, pbx) -> TestClient:
    client = TestClient(TestServer(make_app(db, settings, dialer=Owner(pbx))))
    await client.start_server()
    return client


async def _live_call(db) -> tuple[int, str]:
    await _setup(db)
    async with db.pool.acquire() as conn:
        now = datetime.now(timezone.utc)
        item = await desk.claim_next(conn, "agent", now=now)
        assert await desk.start_call(conn, item.id, "agent", now=now)
        return item.id, str(await conn.fetchval("SELECT call_id FROM desk_items WHERE id = $1", item.id))


async def test_after_a_crash_a_call_the_pbx_no_longer_has_is_over(db, settings):
    item_id, _ = await _live_call(db)
    client = await _app_with(db, settings, FollowingPbx(live=set()))
    try:
        await _until(lambda: _not(_live(db, item_id)), "a call the PBX does not have stayed live after a start")
    finally:
        await client.close()


async def test_after_a_restart_a_call_still_up_is_followed_to_its_hang_up(db, settings):
    item_id, channel = await _live_call(db)
    pbx = FollowingPbx(live={channel})
    client = await _app_with(db, settings, pbx)
    try:
        await _until(lambda: _has(pbx, channel), "the call still up was not followed")
        await asyncio.sleep(0.2)
        assert await _live(db, item_id), "freed while the call is still up"
        await client.close()                                      # a stop: the call goes on
        assert await _live(db, item_id)
        client = await _app_with(db, settings, pbx)
        await _until(lambda: _watched(pbx, channel), "the call still up was not followed after the restart")
        pbx.waiters[channel].set_result(16)
        await _until(lambda: _not(_live(db, item_id)), "the hang-up did not free the item")
    finally:
        await client.close()


async def _has(pbx, channel) -> bool:
    return channel in pbx.waiters


async def _watched(pbx, channel) -> bool:
    return channel in pbx.waiters and not pbx.waiters[channel].done()


async def test_a_lost_link_mid_call_does_not_free_the_item_while_the_call_is_up(db, settings, users):  # noqa: F811
    await _setup(db)
    dialer = FakeDialer()
    follow = FollowingPbx(live=set())
    dialer.pbx.live_channel_ids, dialer.pbx.wait_hangup = follow.live_channel_ids, follow.wait_hangup
    async with agent_holding_an_item(db, settings, dialer) as (client, dialer, token, item_id):
        await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})
        channel = dialer.pbx.requests[0].channel_id
        follow.live.add(channel)
        call = dialer.pbx.calls[0]
        call.result.set_result(OriginateResult(True, 4))
        call.hangup.set_exception(LinkLost("link dropped"))
        await _until(lambda: _has(follow, channel), "the call was not followed after the link came back")
        await asyncio.sleep(0.2)
        assert await _live(db, item_id), "a lost link freed the item of a call still up"
        follow.waiters[channel].set_result(16)
        await _until(lambda: _not(_live(db, item_id)), "the hang-up did not free the item")


async def test_an_originate_that_fails_in_the_adapter_does_not_strand_the_item(db, settings, users):  # noqa: F811
    await _setup(db)
    dialer = FakeDialer()

    async def broken(request):
        raise RuntimeError("adapter bug")
    dialer.pbx.originate = broken
    async with agent_holding_an_item(db, settings, dialer) as (client, dialer, token, item_id):
        page = await (await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})).text()
        assert "呼叫没有发出: 系统错误" in page and not await _live(db, item_id)
        async with db.pool.acquire() as conn:
            assert await conn.fetchval("SELECT call_started_at FROM desk_items WHERE id = $1", item_id) is None


async def test_outside_the_calling_windows_or_on_a_holiday_the_dial_is_refused_in_words(db, settings, users):  # noqa: F811
    from callcenter.db import campaigns as camp
    from callcenter.ledger.timezone import OFFICE_TZ
    local = datetime.now(timezone.utc).astimezone(OFFICE_TZ)
    closed = (local + timedelta(hours=6)).strftime("%H:00")
    await _setup(db, windows=[f"{closed}-{closed[:2]}:30"])              # half an hour, six hours from now
    async with agent_holding_an_item(db, settings) as (client, dialer, token, item_id):
        page = await (await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})).text()
        assert "不在回访时段内" in page and dialer.pbx.requests == []
        async with db.pool.acquire() as conn:
            await conn.execute("UPDATE campaigns SET windows = ARRAY['00:00-23:59']")
            await camp.add_holiday(conn, local.date(), "测试假日")
        page = await (await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})).text()
        assert "节假日" in page and dialer.pbx.requests == []
        assert not await _live(db, item_id)


async def test_a_lease_that_lapses_during_the_call_keeps_the_ticket_for_its_form(db, settings, users):  # noqa: F811
    await _setup(db)
    dialer = FakeDialer()
    client = await _client(db, settings, dialer)
    other = await _client(db, settings, dialer)
    try:
        token = await sign_in(client, "agent")
        item_id = await _claimed_item(client, token)
        await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})
        call = dialer.pbx.calls[0]
        call.result.set_result(OriginateResult(True, 4))
        async with db.pool.acquire() as conn:         # the console was closed mid-call: no renewals for long
            await conn.execute("UPDATE desk_items SET lease_until = now() - interval '1 hour'")
        other_token = await sign_in(other, "supervisor")
        await other.post("/desk/claim", data={"csrf_token": other_token})
        assert "data-item=" not in await (await other.get("/desk")).text()      # nobody takes a ticket in a call
        call.hangup.set_result(16)
        await _until(lambda: _not(_live(db, item_id)), "the hang-up did not free the item")
        saved = await client.post(f"/desk/{item_id}/record", data={"csrf_token": token, "outcome": "refused",
                                                                   "note": "市民拒绝"})
        assert "回访结果已保存" in await saved.text()
    finally:
        await client.close()
        await other.close()


async def test_the_start_pass_leaves_alone_a_call_this_run_just_began(db, settings):
    """The start's pass over marked calls may run while an agent's 拨打 has marked its call and not yet
    made the task that follows it: that call is this run's, not a previous run's."""
    older, _ = await _live_call(db)
    pbx = FollowingPbx(live=set())
    pbx.connected = False                               # the AMI link is still coming up
    client = await _app_with(db, settings, pbx)
    try:
        async with db.pool.acquire() as conn:
            tid = await insert_ticket(conn, "T9", phone="13800000099")
            await desk.enqueue(conn, tid, "manual", by="test")
            now = datetime.now(timezone.utc)
            item = await desk.claim_next(conn, "supervisor", now=now)
            assert await desk.start_call(conn, item.id, "supervisor", now=now)
        pbx.connected = True
        await _until(lambda: _not(_live(db, older)), "the previous run's call was not settled")
        assert await _live(db, item.id), "the pass freed a call this run had just begun"
    finally:
        await client.close()
