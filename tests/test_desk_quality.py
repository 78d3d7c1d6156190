"""质检 and 坐席统计: immutable grades with corrections as versions, the weekly sample, per-agent figures."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import asyncpg
import pytest

from callcenter.db import desk, quality
from callcenter.desk.quality import GradeError, weekly_sample
from callcenter.ledger.timezone import OFFICE_TZ

from .factories import insert_ticket

DAY = datetime(2024, 5, 6, tzinfo=OFFICE_TZ)       # a Monday
SCORES = {"script": "30", "courtesy": "18", "faithful": "25", "privacy": "10", "closing": "7"}


async def _desk_call(conn, agent, no, *, start, talk_s, outcome="answered-complete"):
    """A desk call placed at ``start`` (Beijing) lasting ``talk_s`` seconds, stored as the desk stores it."""
    tid = await insert_ticket(conn, no)
    item = await desk.enqueue(conn, tid, "manual", by="test")
    await conn.execute("UPDATE desk_items SET held_by = $2, lease_until = $3, call_live = true, "
                       "call_started_at = $4, call_ended_at = $5 WHERE id = $1",
                       item, agent, start + timedelta(hours=1), start, start + timedelta(seconds=talk_s))
    answers = {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"} \
        if outcome == "answered-complete" else {}
    return await desk.record_call(conn, item, agent, outcome=outcome, answers=answers, now=start)


async def test_a_grade_cannot_be_edited_and_a_correction_is_a_new_version(db):
    async with db.pool.acquire() as conn:
        attempt = str(await _desk_call(conn, "a", "T1", start=DAY.replace(hour=10), talk_s=60))
        assert await quality.save_grade(conn, "desk", attempt, SCORES, by="王主任") == 1
        with pytest.raises(asyncpg.PostgresError, match="不可修改"):
            await conn.execute("UPDATE qa_grades SET total = 100")
        with pytest.raises(asyncpg.PostgresError, match="不可修改"):
            await conn.execute("DELETE FROM qa_grades")
        with pytest.raises(GradeError, match="更正须说明原因"):
            await quality.save_grade(conn, "desk", attempt, SCORES, by="王主任")
        with pytest.raises(GradeError, match="最高 30 分"):
            await quality.save_grade(conn, "desk", attempt, {**SCORES, "script": "31"}, by="王主任", reason="x")
        assert await quality.save_grade(conn, "desk", attempt, {**SCORES, "courtesy": "20"}, by="王主任",
                                        reason="复听后确认语气良好") == 2
        versions = await quality.grade_versions(conn, "desk", attempt)
    assert [(v["version"], v["total"]) for v in versions] == [(1, Decimal("90")), (2, Decimal("92"))]
    assert versions[1]["reason"] == "复听后确认语气良好"


def test_weekly_sample_is_reproducible_and_at_least_one_per_agent():
    calls = {"a": [f"desk/{i}" for i in range(40)], "b": ["desk/x"], "c": []}
    week = date(2024, 5, 6)
    first = weekly_sample(calls, 0.1, week)
    assert first == weekly_sample(calls, 0.1, week)
    assert len(first["a"]) == 4 and first["b"] == ["desk/x"] and "c" not in first
    assert set(first["a"]) <= set(calls["a"])
    assert weekly_sample(calls, 0.1, date(2024, 5, 13))["a"] != first["a"]     # a new week, a new draw


async def test_per_agent_figures_match_a_hand_count_on_a_seeded_day(db):
    async with db.pool.acquire() as conn:
        # Agent a: 3 calls in 2 clock hours (10:05, 10:40, 14:10), talk 60 + 120 + 0 s, 2 complete of 3.
        a1 = await _desk_call(conn, "a", "A1", start=DAY.replace(hour=10, minute=5), talk_s=60)
        await _desk_call(conn, "a", "A2", start=DAY.replace(hour=10, minute=40), talk_s=120)
        await _desk_call(conn, "a", "A3", start=DAY.replace(hour=14, minute=10), talk_s=30, outcome="busy")
        # Agent b: 1 call, 300 s, complete.
        b1 = await _desk_call(conn, "b", "B1", start=DAY.replace(hour=9, minute=0), talk_s=300)
        # Outside the day: not counted.
        await _desk_call(conn, "b", "B2", start=DAY + timedelta(days=1, hours=9), talk_s=300)
        from callcenter.db.callbacks import correct_answer
        await correct_answer(conn, a1, "solved", intent="partly", reason="复听", by="王主任")
        await quality.save_grade(conn, "desk", str(a1), SCORES, by="王主任")                      # 90
        await quality.save_grade(conn, "desk", str(a1), {**SCORES, "closing": "10"}, by="王主任",
                                 reason="更正")                                                  # 93 wins
        await quality.save_grade(conn, "desk", str(b1), {**SCORES, "script": "20"}, by="王主任")  # 80
        start, end = DAY, DAY + timedelta(days=1)
        figures = {f.agent: f for f in await quality.agent_statistics(conn, start, end)}
    a, b = figures["a"], figures["b"]
    assert (a.calls, a.hours, a.calls_per_hour, a.talk_seconds) == (3, 2, Fraction(3, 2), 180)
    assert (a.completion_rate, a.qa_score, a.corrections) == (Fraction(2, 3), Decimal("93.00"), 1)
    assert (b.calls, b.talk_seconds, b.completion_rate, b.qa_score, b.corrections) == \
        (1, 300, Fraction(1), Decimal("80.00"), 0)


async def test_the_weekly_sample_is_drawn_once(db):
    async with db.pool.acquire() as conn:
        for i in range(5):
            await _desk_call(conn, "a", f"S{i}", start=DAY.replace(hour=10, minute=i), talk_s=10)
        week_end = DAY + timedelta(days=7)
        assert await quality.draw_weekly_sample(conn, DAY.date(), DAY, week_end, 0.5) == 3
        assert await quality.draw_weekly_sample(conn, DAY.date(), DAY, week_end, 0.5) == 0
        assert len(await quality.samples(conn, DAY.date())) == 3


async def test_grade_and_stats_pages(db, settings):
    from aiohttp.test_utils import TestClient, TestServer

    from .factories import insert_user
    from .test_web_helpers import PASSWORD, make_app, sign_in
    async with db.pool.acquire() as conn:
        await insert_user(conn, "supervisor", "supervisor", PASSWORD)
        await insert_user(conn, "agent", "agent", PASSWORD)
        attempt = str(await _desk_call(conn, "a", "W1", start=DAY.replace(hour=10), talk_s=90))
    async with TestClient(TestServer(make_app(db, settings))) as client:
        token = await sign_in(client, "agent")
        assert (await client.get(f"/desk/qa/desk/{attempt}", allow_redirects=False)).status in (302, 303, 403)
        await client.post("/logout", data={"csrf_token": token})
        token = await sign_in(client, "supervisor")
        page = await (await client.get(f"/desk/qa/desk/{attempt}")).text()
        assert "按脚本准确读题" in page and "尚未评分" in page
        response = await client.post(f"/desk/qa/desk/{attempt}", data={**SCORES, "script": "九十",
                                                                       "csrf_token": token})
        bad = await response.text()
        assert "须填写 0–30 的整数" in bad, (response.status, response.url, bad[bad.find("<main"):][:400])
        saved = await (await client.post(f"/desk/qa/desk/{attempt}", data={**SCORES, "csrf_token": token})).text()
        assert "已保存第 1 版评分" in saved
        refused = await (await client.post(f"/desk/qa/desk/{attempt}", data={**SCORES, "csrf_token": token})).text()
        assert "更正须说明原因" in refused
        fixed = await (await client.post(f"/desk/qa/desk/{attempt}", data={**SCORES, "privacy": "5", "reason": "复核",
                                                                           "csrf_token": token})).text()
        assert "已保存第 2 版评分" in fixed and ">85.00<" in fixed and ">90.00<" in fixed
        assert (await client.get("/desk/qa/desk/nonexistent")).status == 404
        stats = await (await client.get("/desk/stats?from=2024-05-06&to=2024-05-06")).text()
        row = stats.split('id="agent-stats"')[1].split("</tr>")[1]
        assert "<td>a</td><td>1</td><td>1.00</td><td>1.5</td><td>100.00</td><td>85.00</td><td>0</td>" in \
            row.replace("\n", "").replace("        ", "")
        assert (await client.get("/desk/stats?from=2024-13-01")).status == 400
        assert (await client.get("/desk/qa?week=2024-05-06")).status == 200
