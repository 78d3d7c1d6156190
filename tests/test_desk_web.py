"""人工回访 pages: an agent takes a ticket, reads the script, records the call; a supervisor checks manual entries."""
from __future__ import annotations

from callcenter.db import desk

from .factories import insert_ticket
from .test_web_helpers import client, sign_in, users  # noqa: F401


async def _queued(db, no="T1", phone="13812345678") -> int:
    async with db.pool.acquire() as conn:
        tid = await insert_ticket(conn, no, status="callback_failed", phone=phone, title="楼道堆物")
        await desk.enqueue(conn, tid, "dissatisfied")
    return tid


async def test_agent_takes_a_ticket_and_records_the_call(client, db):
    tid = await _queued(db)
    token = await sign_in(client, "agent")
    page = await (await client.get("/desk")).text()
    assert "待领取: <strong id=\"desk-waiting\">1</strong>" in page
    assert (await client.post("/desk/claim", data={"csrf_token": token}, allow_redirects=False)).status == 303
    page = await (await client.get("/desk")).text()
    assert "楼道堆物" in page and "不满意" in page
    assert "工作人员是否与您联系过？" in page and "请按" not in page      # the wording, without the keypad part
    assert "13812345678" not in page and "138****5678" in page          # masked for an agent
    item_id = int(page.split('data-item="')[1].split('"')[0])
    refused = await client.post(f"/desk/{item_id}/record", data={"csrf_token": token, "outcome": "answered-complete",
                                                                  "contacted": "yes"})
    assert refused.status == 200 and "回访完成须填写三个问题的答案" in await refused.text()
    done = await client.post(f"/desk/{item_id}/record", data={
        "csrf_token": token, "outcome": "answered-complete", "contacted": "yes", "solved": "solved",
        "satisfaction": "basic", "note": "已修好"})
    assert "回访结果已保存" in await done.text()
    async with db.pool.acquire() as conn:
        score = await conn.fetchrow("SELECT source, satisfaction FROM ticket_scores WHERE ticket_id = $1", tid)
        sources = await conn.fetch("SELECT DISTINCT source, created_by FROM callback_answers")
    assert tuple(score) == ("own", "basic")
    assert [tuple(r) for r in sources] == [("agent", "agent")]


async def test_bad_input_is_refused_in_words(client, db):
    await _queued(db)
    token = await sign_in(client, "agent")
    await client.post("/desk/claim", data={"csrf_token": token})
    page = await (await client.get("/desk")).text()
    item_id = int(page.split('data-item="')[1].split('"')[0])
    for data, message in (({"outcome": "nonsense"}, "请选择回访结果"),
                          ({"outcome": "callback-requested", "callback_at": "明天"}, "回拨时间格式"),
                          ({"outcome": "answered-partial", "solved": "maybe"}, "无效")):
        response = await client.post(f"/desk/{item_id}/record", data={"csrf_token": token, **data})
        assert response.status == 200 and message in await response.text()
    other = await client.post("/desk/999999/record", data={"csrf_token": token, "outcome": "busy"})
    assert other.status == 200 and "已不由您处理" in await other.text()


async def test_supervisor_sees_the_full_number(client, db):
    await _queued(db)
    token = await sign_in(client, "supervisor")
    await client.post("/desk/claim", data={"csrf_token": token})
    assert "13812345678" in await (await client.get("/desk")).text()


async def test_manual_entry_then_a_supervisor_rejects_it(client, db):
    async with db.pool.acquire() as conn:
        tid = await insert_ticket(conn, "T9", status="callback_failed")
    token = await sign_in(client, "agent")
    form = {"csrf_token": token, "ticket_no": "T9", "called_at": "2024-05-02T10:00", "outcome": "answered-complete",
            "contacted": "yes", "solved": "solved", "satisfaction": "satisfied"}
    refused = await client.post("/desk/manual", data={**form, "note": ""})
    assert "手工录入必须填写说明" in await refused.text()
    assert "不存在" in await (await client.post("/desk/manual", data={**form, "ticket_no": "X", "note": "座机"})).text()
    saved = await client.post("/desk/manual", data={**form, "note": "用办公座机回访"})
    assert "等待主管核查" in await saved.text()
    async with db.pool.acquire() as conn:
        attempt = await conn.fetchval("SELECT id FROM callback_attempts WHERE desk_kind = 'manual'")
        assert await conn.fetchval("SELECT source FROM ticket_scores WHERE ticket_id = $1", tid) == "own"
    agent_reject = await client.post(f"/desk/manual/{attempt}/reject", data={"csrf_token": token, "reason": "x"},
                                     allow_redirects=False)
    assert agent_reject.status == 403
    await client.post("/logout", data={"csrf_token": token})
    token = await sign_in(client, "supervisor")
    page = await (await client.post(f"/desk/manual/{attempt}/reject", data={"csrf_token": token,
                                                                           "reason": "查无通话记录"})).text()
    assert "已驳回该手工录入" in page and "查无通话记录" in page
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT source FROM ticket_scores WHERE ticket_id = $1", tid) == "failed"


async def test_supervisor_sends_a_ticket_to_the_desk_from_its_page(client, db):
    async with db.pool.acquire() as conn:
        tid = await insert_ticket(conn, "T5", status="called_back")
    token = await sign_in(client, "supervisor")
    assert 'action="/tickets/%d/desk"' % tid in await (await client.get(f"/tickets/{tid}")).text()
    page = await (await client.post(f"/tickets/{tid}/desk", data={"csrf_token": token, "note": "市民来电要求"})).text()
    assert "已转人工回访" in page
    again = await (await client.post(f"/tickets/{tid}/desk", data={"csrf_token": token})).text()
    assert "已在人工回访队列中" in again
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT reason, note, created_by FROM desk_items WHERE ticket_id = $1", tid)
        audited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'desk_enqueue'")
    assert tuple(row) == ("manual", "市民来电要求", "supervisor") and audited == 1


async def test_a_ticket_no_robot_called_is_sent_under_a_chosen_campaign_so_the_agent_can_dial(client, db):
    from datetime import datetime, timezone

    from callcenter.db import campaigns as camp
    async with db.pool.acquire() as conn:
        tid = await insert_ticket(conn, "T6", status="called_back")
        await camp.upsert_trunk(conn, "sim", "Local/{number}@citizen-sim", 4, 10, "01062000000")
        old = await camp.create_campaign(conn, camp.CampaignSpec(name="四月回访", trunk="sim"))
        new = await camp.create_campaign(conn, camp.CampaignSpec(name="五月回访", trunk="sim"))
    token = await sign_in(client, "supervisor")
    page = await (await client.get(f"/tickets/{tid}")).text()
    assert 'name="campaign_id"' in page and "四月回访" in page and f'<option value="{new}">五月回访' in page
    refused = await (await client.post(f"/tickets/{tid}/desk", data={"csrf_token": token, "campaign_id": "999"})).text()
    assert "所选回访活动不存在" in refused
    bad = await (await client.post(f"/tickets/{tid}/desk", data={"csrf_token": token, "campaign_id": "x"})).text()
    assert "回访活动" in bad and "已转人工回访" not in bad
    done = await (await client.post(f"/tickets/{tid}/desk", data={"csrf_token": token, "campaign_id": str(old)})).text()
    assert "已转人工回访" in done
    async with db.pool.acquire() as conn:
        item = await conn.fetchrow("SELECT id, campaign_id FROM desk_items WHERE ticket_id = $1", tid)
        assert item["campaign_id"] == old
        claimed = await desk.claim_next(conn, "agent", now=datetime.now(timezone.utc))
        facts = await desk.dial_facts(conn, claimed.id, "agent", now=datetime.now(timezone.utc))
    assert claimed.id == item["id"] and (facts.trunk_name, facts.caller_id) == ("sim", "01062000000")


async def test_the_page_and_the_websocket_renew_only_the_holders_lease(client, db):
    await _queued(db)
    token = await sign_in(client, "agent")
    ws = await client.ws_connect("/desk/ws")
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await ws.send_json({"op": "renew"})
    assert await ws.receive_json(timeout=5) == {"type": "lease", "held": False}      # nothing held yet
    await ws.send_json({"op": "claim"})
    item = (await ws.receive_json(timeout=5))["item"]
    await ws.send_json({"op": "renew"})
    assert await ws.receive_json(timeout=5) == {"type": "lease", "held": True}
    await ws.send_str("not json")
    assert (await ws.receive_json(timeout=5))["type"] == "error"
    await ws.close()
    ok = await client.post(f"/desk/{item['item_id']}/renew", headers={"X-CSRF-Token": token})
    assert ok.status == 200 and (await ok.json()) == {"held": True, "call_live": False, "call_status": ""}
    await client.post("/logout", data={"csrf_token": token})
    token = await sign_in(client, "supervisor")
    other = await client.post(f"/desk/{item['item_id']}/renew", headers={"X-CSRF-Token": token})
    assert other.status == 409 and (await other.json())["held"] is False


async def test_a_supervisor_sets_a_campaigns_escalation_rules(client, db):
    from callcenter.db import campaigns as camp
    async with db.pool.acquire() as conn:
        await camp.upsert_trunk(conn, "main", "PJSIP/{number}@trunk", 4, 1.0)
        cid = await camp.create_campaign(conn, camp.CampaignSpec(name="五月", trunk="main"))
    token = await sign_in(client, "supervisor")
    page = await (await client.get("/desk/rules")).text()
    assert "五月" in page and 'value="3"' in page                       # the office's default: 3 attempts
    bad = await client.post(f"/desk/rules/{cid}", data={"csrf_token": token, "unreached_after": "99"})
    assert "未接通次数应为 1–10 的整数" in await bad.text()
    await client.post(f"/desk/rules/{cid}", data={"csrf_token": token, "enabled": "on", "unreached_after": "",
                                                  "dissatisfied": "on"})
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT desk_enabled, desk_unreached_after, desk_partial, desk_refused, "
                                  "desk_dissatisfied, desk_low_confidence FROM campaigns WHERE id = $1", cid)
        audited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'desk_rules'")
    assert tuple(row) == (True, None, False, False, True, False) and audited == 1
    assert (await client.post("/desk/rules/999999", data={"csrf_token": token})).status == 404
