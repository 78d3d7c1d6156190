"""Repeat complainants: configurable detection, profiles, the meeting ledger with attachments, follow-ups, export."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest
from aiohttp import FormData

from callcenter.db import campaigns as campaigns_repo
from callcenter.db import hotline as repo
from callcenter.ivr.loader import load_script

from .factories import insert_ticket
from .test_web_helpers import client, sign_in, users  # noqa: F401  (fixtures)

NOW = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)


async def tickets(conn, phone: str, days_ago: list[int], *, prefix: str, address: str = "", category="物业管理"):
    for i, ago in enumerate(days_ago):
        tid = await insert_ticket(conn, f"{prefix}{i}", phone=phone, called_at=NOW - timedelta(days=ago),
                                  category_l1=category)
        if address:
            await conn.execute("UPDATE tickets SET address = $2 WHERE id = $1", tid, address)


async def test_phone_rule_counts_tickets_inside_the_window_only(db):
    async with db.pool.acquire() as conn:
        await tickets(conn, "13800000001", [1, 5, 29], prefix="A")        # 3 in 30 days
        await tickets(conn, "13800000002", [1, 5, 31], prefix="B")        # the third is outside
        await tickets(conn, "13800000003", [1, 2], prefix="C")            # only 2
        assert await repo.detect(conn, NOW) == {"13800000001": "phone"}
        await repo.set_rule(conn, "phone", 2, 30, True)
        assert set(await repo.detect(conn, NOW)) == {"13800000001", "13800000002", "13800000003"}
        await repo.set_rule(conn, "phone", 2, 30, False)
        assert await repo.detect(conn, NOW) == {}


async def test_address_and_category_rule_flags_every_phone_on_those_tickets(db):
    async with db.pool.acquire() as conn:
        await tickets(conn, "13900000001", [1], prefix="D", address="朱房村3号楼")
        await tickets(conn, "13900000002", [2, 3], prefix="E", address="朱房村3号楼")
        await tickets(conn, "13900000003", [2, 3], prefix="F", address="朱房村3号楼", category="环境保护")
        assert await repo.detect(conn, NOW) == {"13900000001": "address_category",
                                                "13900000002": "address_category"}
        assert await repo.refresh_profiles(conn, NOW) == 2
        assert await repo.refresh_profiles(conn, NOW) == 0                 # idempotent
        assert (await repo.repeat_status(conn, "13900000003", NOW))["is_repeat"] is False


async def test_rules_refuse_nonsense(db):
    async with db.pool.acquire() as conn:
        with pytest.raises(repo.HotlineInputError):
            await repo.set_rule(conn, "phone", 1, 30, True)
        with pytest.raises(repo.HotlineInputError):
            await repo.set_rule(conn, "phone", 3, 0, True)
        assert (await repo.rules(conn))[0]["min_tickets"] == 3


async def test_meeting_with_attachment_lands_in_the_profile_and_the_xlsx_ledger(client, db, tmp_path):  # noqa: F811
    async with db.pool.acquire() as conn:
        profile_id = await repo.add_profile(conn, "13800000009", "王某")
    token = await sign_in(client, "supervisor")
    form = FormData()
    for name, value in (("csrf_token", token), ("met_on", "2026-11-18"), ("place", "社区议事厅"),
                        ("participants", "社区书记 李某; 网格员 张某"), ("discussion", "噪音问题已协调物业"),
                        ("follow_up", "两周后回访")):
        form.add_field(name, value)
    form.add_field("attachments", b"%PDF-1.4 minutes", filename="会议纪要.pdf", content_type="application/pdf")
    response = await client.post(f"/repeat/{profile_id}/meetings", data=form, allow_redirects=False)
    assert response.status == 302
    page = await (await client.get(f"/repeat/{profile_id}")).text()
    assert "见面记录已保存" in page, page[page.find("flash"):][:300]
    assert "社区议事厅" in page and "会议纪要.pdf" in page and "13800000009" in page     # managers see the number
    async with db.pool.acquire() as conn:
        attachment_id = await conn.fetchval("SELECT id FROM repeat_meeting_attachments")
    download = await client.get(f"/repeat/attachments/{attachment_id}")
    assert await download.read() == b"%PDF-1.4 minutes"

    export = await client.get("/repeat/ledger.xlsx")
    assert export.status == 200
    sheet = openpyxl.load_workbook(io.BytesIO(await export.read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("姓名", "联系电话", "住址")
    assert rows[1][0:2] == ("王某", "13800000009") and rows[1][6] == "社区议事厅" and rows[1][10] == 1


async def test_incomplete_meeting_is_refused_and_nothing_is_stored(client, db):  # noqa: F811
    async with db.pool.acquire() as conn:
        profile_id = await repo.add_profile(conn, "13800000010")
    token = await sign_in(client, "agent")
    response = await client.post(f"/repeat/{profile_id}/meetings", allow_redirects=False, data={
        "csrf_token": token, "met_on": "2026-11-18", "place": "", "participants": "", "discussion": "x"})
    assert response.status == 302
    page = await (await client.get(f"/repeat/{profile_id}")).text()
    assert "请填写: 地点、参与人员" in page
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM repeat_meetings") == 0


async def test_agents_may_not_change_rules_or_export(client, db):  # noqa: F811
    token = await sign_in(client, "agent")
    response = await client.post("/repeat/rules", data={"csrf_token": token, "phone_min": "2", "phone_days": "5"},
                                 allow_redirects=False)
    assert response.status == 403
    assert (await client.get("/repeat/ledger.xlsx")).status == 403


async def test_supervisor_changes_a_rule_from_the_page(client, db):  # noqa: F811
    token = await sign_in(client, "supervisor")
    response = await client.post("/repeat/rules", allow_redirects=False, data={
        "csrf_token": token, "phone_min": "4", "phone_days": "60", "phone_enabled": "on",
        "address_category_min": "5", "address_category_days": "90"})
    assert response.status == 302
    async with db.pool.acquire() as conn:
        rules = {r["kind"]: r for r in await repo.rules(conn)}
    assert (rules["phone"]["min_tickets"], rules["phone"]["window_days"], rules["phone"]["enabled"]) == (4, 60, True)
    assert rules["address_category"]["enabled"] is False


async def test_followups_by_agent_task_and_by_campaign_attempt(db, users):  # noqa: F811
    due = NOW + timedelta(days=14)
    async with db.pool.acquire() as conn:
        await insert_ticket(conn, "G1", phone="13800000011")
        profile_id = await repo.add_profile(conn, "13800000011")
        trunk = await campaigns_repo.upsert_trunk(conn, "t", "PJSIP/{number}@trunk", 2, 1.0)
        campaign = await conn.fetchval("INSERT INTO campaigns (name, script, trunk_id) "
                                       "VALUES ('重复诉求人回访', 'repeat_followup', $1) RETURNING id", trunk)
        await repo.schedule_followup(conn, profile_id, due, via="agent", created_by=None,
                                     agent_user_id=users["agent"])
        await repo.schedule_followup(conn, profile_id, due, via="campaign", created_by=None, campaign_id=campaign)
        task = await conn.fetchrow("SELECT * FROM callback_tasks")
        attempt = await conn.fetchrow("SELECT * FROM callback_attempts")
        with pytest.raises(repo.HotlineInputError):
            await repo.schedule_followup(conn, profile_id, due, via="campaign", created_by=None, campaign_id=None)
        assert await conn.fetchval("SELECT count(*) FROM repeat_followups") == 2     # the refused one left nothing
        listed = await repo.followups_of(conn, profile_id)
    assert (task["reason"], task["assigned_to"], task["due_at"]) == ("repeat_followup", users["agent"], due)
    assert (attempt["script"], attempt["campaign_id"], attempt["due_at"], attempt["state"]) == (
        "repeat_followup", campaign, due, "pending")
    assert sorted(f["via"] for f in listed) == ["agent", "campaign"]


def test_followup_ivr_script_passes_the_loader():
    script = load_script(Path(__file__).resolve().parents[1] / "ivr_scripts" / "repeat_followup.toml")
    assert set(script.complete_when) == {"wellbeing", "progress", "want_contact"}
