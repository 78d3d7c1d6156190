"""回访活动 pages: the form, state buttons (audited with the web user), live counters over SSE."""
from __future__ import annotations

import asyncio
import json
import re

from callcenter.db import callbacks, campaigns
from callcenter.web.campaigns.campaign_form import DEFAULT_VALUES, parse_campaign_form
from callcenter.web.campaigns.campaigns_page import commands_for

from .factories import insert_ticket
from .test_web_helpers import client, sign_in, users  # noqa: F401


async def with_trunk(db) -> None:
    async with db.pool.acquire() as conn:
        await campaigns.upsert_trunk(conn, "main", "PJSIP/{number}@trunk", 4, 1.0)


def form(**changes) -> dict:
    return {**DEFAULT_VALUES, "name": "五月回访", "trunk": "main", **changes}


async def test_create_from_the_form_then_start_pause_resume_stop(client, db):
    await with_trunk(db)
    token = await sign_in(client, "supervisor")
    page = await (await client.get("/campaigns/new")).text()
    assert "main（4 路）" in page and "callback_three_rates" in page
    created = await client.post("/campaigns", data={**form(closed_from="2024-05-01", closed_to="2024-05-31",
                                                           windows="09:00-11:30，15:00-19:00"),
                                                    "csrf_token": token}, allow_redirects=False)
    assert created.status == 303, await created.text()
    url = created.headers["Location"]
    campaign_id = int(url.rsplit("/", 1)[1])
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM campaigns WHERE id = $1", campaign_id)
    assert row["state"] == "draft" and row["created_by"] == "supervisor"
    assert row["windows"] == ["09:00-11:30", "15:00-19:00"]
    detail = await (await client.get(url)).text()
    assert "已创建回访活动" in detail and "草稿" in detail and ">开始</button>" in detail
    # Nothing to call: the page warns, and a start without the explicit 仍然开始 is refused.
    assert 'id="no-eligible"' in detail and 'name="confirm_empty"' in detail
    refused = await client.post(f"{url}/state", data={"command": "start", "csrf_token": token})
    assert "没有符合条件的待回访工单（0 件）" in await refused.text()
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT state FROM campaigns WHERE id = $1", campaign_id) == "draft"
    for command, state, label in (("start", "running", "进行中"), ("pause", "paused", "已暂停"),
                                  ("resume", "running", "进行中"), ("stop", "finished", "已结束")):
        response = await client.post(f"{url}/state", data={"command": command, "csrf_token": token,
                                                           "confirm_empty": "1"}, allow_redirects=False)
        assert response.status == 303
        async with db.pool.acquire() as conn:
            assert await conn.fetchval("SELECT state FROM campaigns WHERE id = $1", campaign_id) == state
        assert label in await (await client.get(url)).text()
    async with db.pool.acquire() as conn:
        audit = await conn.fetch("SELECT actor, action FROM audit_log WHERE object_type = 'campaign' ORDER BY id")
    assert [(a["actor"], a["action"]) for a in audit] == [
        ("supervisor", "campaign.create"), ("supervisor", "campaign.start"), ("supervisor", "campaign.pause"),
        ("supervisor", "campaign.resume"), ("supervisor", "campaign.stop")]
    again = await client.post(f"{url}/state", data={"command": "start", "csrf_token": token})
    assert "操作未执行" in await again.text()
    listing = await (await client.get("/campaigns")).text()
    assert "五月回访" in listing and "已结束" in listing


async def test_bad_form_input_is_refused_with_every_reason_and_nothing_written(client, db):
    await with_trunk(db)
    token = await sign_in(client, "admin")
    response = await client.post("/campaigns", data={**form(name="", trunk="nope", windows="25:00-26:00",
                                                            max_attempts="99", retry_busy="-5", department="999",
                                                            closed_from="2024-06-01", closed_to="2024-05-01"),
                                                     "csrf_token": token})
    page = await response.text()
    assert response.status == 400
    for reason in ("请填写活动名称", "请选择中继线路", "呼叫时段无效", "最多拨打次数", "占线后重拨间隔", "科室不存在",
                   "办结截止日期早于起始日期"):
        assert reason in page, reason
    await client.post("/campaigns", data={**form(), "csrf_token": token})
    duplicate = await client.post("/campaigns", data={**form(), "csrf_token": token})
    assert duplicate.status == 400 and "已存在" in await duplicate.text()
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM campaigns") == 1


async def test_campaign_pages_are_for_managers(client, db):
    await with_trunk(db)
    token = await sign_in(client, "agent")
    for path in ("/campaigns", "/campaigns/new", "/campaigns/1", "/campaigns/1/events"):
        assert (await client.get(path)).status == 403, path
    assert (await client.post("/campaigns", data={**form(), "csrf_token": token})).status == 403
    await sign_in(client, "supervisor")
    assert (await client.get("/campaigns/424242")).status == 404
    assert (await client.get("/campaigns/abc")).status == 404


async def read_event(response) -> dict:
    """The next ``data:`` event of an SSE stream (keep-alive comments skipped)."""
    while True:
        line = await asyncio.wait_for(response.content.readline(), 10)
        assert line, "stream ended"
        if line.startswith(b"data: "):
            return json.loads(line[6:])


def counters(event: dict) -> dict:
    return {t["key"]: t["value"] for t in event["counters"]}


async def test_campaign_page_reads_in_the_order_of_a_call_with_bars_rates_and_done(client, db):
    from .scoring_factories import own
    await with_trunk(db)
    async with db.pool.acquire() as conn:
        campaign_id = await campaigns.create_campaign(conn, campaigns.CampaignSpec(name="十二月回访", trunk="main"))
        for n, (outcome, answers) in enumerate((("answered-complete", own("yes", "solved", "satisfied")),
                                                ("answered-complete", own("yes", "unsolved", "dissatisfied")),
                                                ("busy", None), ("no-answer", None))):
            ticket = await insert_ticket(conn, f"T-C{n}", status="awaiting_callback")
            attempt = await callbacks.create_attempt(conn, ticket, phone=f"1380000000{n}", state="answered")
            await conn.execute("UPDATE callback_attempts SET campaign_id = $1, settled = true WHERE id = $2",
                               campaign_id, attempt)
            for question, intent in (answers or {}).items():
                await callbacks.record_answer(conn, attempt, question, intent=intent, source="dtmf", digits="1")
            await conn.execute("UPDATE callback_attempts SET state = 'finished', outcome = $2 WHERE id = $1",
                               attempt, outcome)
        await campaigns.change_state(conn, campaign_id, "start", actor="test")
    await sign_in(client, "supervisor")
    page = await (await client.get(f"/campaigns/{campaign_id}")).text()
    labels = re.findall(r'<div class="counter" data-key="([^"]+)">', page.split('id="campaign-counters"')[1]
                        .split("</section>")[0].split('id="campaign-rates"')[0])
    assert labels[:2] == ["tickets", "placed"] and labels[-1] == "open_tickets"
    assert labels.index("answered-complete") < labels.index("busy") < labels.index("no-answer")
    assert '<progress id="campaign-progress" max="100" value="100">' in page
    assert re.search(r'<rect data-key="answered-complete" x="0.0%" y="0" width="50.0%"', page)
    assert "完成回访 2（50%）" in page and "占线 1（25%）" in page
    assert 'data-key="response"><div class="value">100.00%' in page          # 2 of 2 contacted
    assert 'data-key="solved"><div class="value">50.00%' in page
    assert 'id="campaign-state">已完成<' in page                            # nothing left: not 进行中
    assert "callback_three_rates" not in page and "三率回访" in page


async def test_live_counters_are_pushed_as_server_sent_events(client, db):
    await with_trunk(db)
    async with db.pool.acquire() as conn:
        campaign_id = await campaigns.create_campaign(conn, campaigns.CampaignSpec(name="直播", trunk="main"))
        ticket_id = await insert_ticket(conn, "T-LIVE")
        await conn.execute("UPDATE callback_attempts SET campaign_id = $1", campaign_id)
    await sign_in(client, "supervisor")
    response = await client.get(f"/campaigns/{campaign_id}/events")
    try:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
        first = await read_event(response)
        assert first["state"] == "draft" and counters(first)["placed"] == 0
        again = await read_event(response)          # nothing changed, yet the check is reported (the stamp moves)
        assert again["checked_at"] and again["counters"] == first["counters"]
        async with db.pool.acquire() as conn:
            attempt = await callbacks.create_attempt(conn, ticket_id, phone="13800000001")
            await conn.execute("UPDATE callback_attempts SET campaign_id = $1 WHERE id = $2", campaign_id, attempt)
            await campaigns.change_state(conn, campaign_id, "start", actor="test")
        for _ in range(5):
            second = await read_event(response)
            if second["state"] == "running":
                break
        assert second["state"] == "running" and second["state_label"] == "进行中"
        assert counters(second)["pending"] == 1 and counters(second)["tickets"] == 1
    finally:
        response.close()


def test_form_parsing_and_buttons():
    parsed = parse_campaign_form(form(standing="on", category="供暖"), trunks=["main"], departments={},
                                 communities={}, categories=["供暖"], scripts=["callback_three_rates"],
                                 created_by="u")
    assert not parsed.errors and parsed.spec.standing and parsed.spec.category_l1 == "供暖"
    bad = parse_campaign_form(form(script="../../etc/passwd", category="不存在"), trunks=["main"], departments={},
                              communities={}, categories=["供暖"], scripts=["callback_three_rates"], created_by="u")
    assert bad.spec is None and "回访脚本不存在" in bad.errors and "一级分类不存在" in bad.errors
    assert [c for c, _ in commands_for("draft")] == ["start", "stop"]
    assert [c for c, _ in commands_for("running")] == ["pause", "stop"]
    assert [c for c, _ in commands_for("paused")] == ["resume", "stop"]
    assert commands_for("finished") == []


async def test_open_streams_end_when_the_service_stops(client, db):
    from callcenter.web.campaigns.campaigns_page import STOPPING
    await with_trunk(db)
    async with db.pool.acquire() as conn:
        campaign_id = await campaigns.create_campaign(conn, campaigns.CampaignSpec(name="停机", trunk="main"))
    await sign_in(client, "supervisor")
    response = await client.get(f"/campaigns/{campaign_id}/events")
    try:
        await read_event(response)
        client.server.app[STOPPING].set()          # what on_shutdown does
        rest = await asyncio.wait_for(response.content.read(), 5)
        assert b"data:" not in rest                 # ended without another event
    finally:
        response.close()
