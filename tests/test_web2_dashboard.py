"""首页: the month's three rates, ranking and trend data, the work waiting, the DTMF-only banner."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from callcenter.asr.factory import SpeechStatus
from callcenter.db import callbacks, campaigns
from callcenter.ledger.timezone import OFFICE_TZ
from callcenter.scoring.periods import period_containing

from . import scoring_factories as sf
from .factories import insert_ticket
from .test_web_helpers import client, make_app, open_client, sign_in, users  # noqa: F401

_DATA = re.compile(r'<script type="application/json" id="dashboard-data">(.*?)</script>', re.S)


def chart_data(page: str) -> dict:
    return json.loads(_DATA.search(page).group(1))


def kpi(page: str, key: str) -> str:
    block = re.search(rf'id="kpi-{key}">.*?<div class="value">([^<]*)</div>', page, re.S)
    return block.group(1).strip()


async def seed_month(conn) -> None:
    """Department 甲: two fully satisfied callbacks; 乙: one contacted but unsolved and dissatisfied."""
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    a = await sf.unit(conn, "甲科室")
    b = await sf.unit(conn, "乙科室")
    for dept, answers in ((a, sf.own("yes", "solved", "satisfied")), (a, sf.own("yes", "solved", "satisfied")),
                          (b, sf.own("yes", "unsolved", "dissatisfied"))):
        ticket_id = await sf.ticket(conn, called_at=now - timedelta(days=1), closed_at=now, department_id=dept)
        await sf.attempt(conn, ticket_id, 1, answered_at=now, answers=answers)


async def test_dashboard_shows_the_months_rates_ranking_and_trend(client, db):
    async with db.pool.acquire() as conn:
        await seed_month(conn)
    await sign_in(client, "supervisor")
    response = await client.get("/")
    page = await response.text()
    assert response.status == 200
    # n = 3: 响应 3/3, 解决 2/3, 满意 2/3 → (0.1×100 + 0.5×66.67 + 0.4×66.67) = 70.00 points.
    assert kpi(page, "response") == "100.00%"
    assert kpi(page, "solved") == "66.67%"
    assert kpi(page, "satisfied") == "66.67%"
    assert kpi(page, "composite") == "70.00"
    data = chart_data(page)
    assert [u["name"] for u in data["ranking"]] == ["甲科室", "乙科室"]
    assert [u["composite"] for u in data["ranking"]] == [100.0, 10.0]
    assert len(data["trend"]) == 1 and data["trend"][0]["composite"] == 70.0
    label = period_containing(datetime.now(OFFICE_TZ)).label
    assert label in page and "有效回访 3 件" in page
    assert '<script src="/static/vendor/echarts.min.js"></script>' in page
    vendored = await client.get("/static/vendor/echarts.min.js")
    assert vendored.status == 200 and b"echarts" in (await vendored.read())[:2000]


async def test_an_empty_or_other_month_and_a_bad_label(client, db):
    async with db.pool.acquire() as conn:
        await seed_month(conn)
    await sign_in(client, "supervisor")
    empty = await (await client.get("/?period=2022-01")).text()
    assert kpi(empty, "composite") == "—" and chart_data(empty) == {"ranking": [], "trend": []}
    assert "2022-01 考核月" in empty
    unruled = await client.get("/?period=2019-01")
    assert unruled.status == 400 and "没有适用的评分规则" in await unruled.text()
    bad = await client.get("/?period=2024-13")
    assert bad.status == 400 and "考核月格式" in await bad.text()
    injected = await client.get("/?period=%27%3B%20DROP%20TABLE%20tickets%3B--")
    assert injected.status == 400
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM tickets") == 3


async def test_work_waiting_deadlines_review_queue_and_campaigns(client, db):
    async with db.pool.acquire() as conn:
        late = await insert_ticket(conn, "T-LATE", status="received",
                                   called_at=datetime.now(timezone.utc) - timedelta(days=3))
        await insert_ticket(conn, "T-CALM", status="received", called_at=datetime.now(timezone.utc))
        waiting = await insert_ticket(conn, "T-ASK", status="awaiting_callback", phone="13800000009")
        attempt = await callbacks.create_attempt(conn, waiting, phone="13800000009", state="answered")
        await callbacks.record_answer(conn, attempt, "solved", intent=None, source="speech", transcript="嗯……",
                                      confidence=0.2, needs_review=True)
        await campaigns.upsert_trunk(conn, "main", "PJSIP/{number}@trunk", 4, 1.0)
        await campaigns.create_campaign(conn, campaigns.CampaignSpec(name="五月回访", trunk="main"))
        done = await campaigns.create_campaign(conn, campaigns.CampaignSpec(name="旧活动", trunk="main"))
        await campaigns.change_state(conn, done, "stop", actor="test")
    await sign_in(client, "supervisor")
    page = await (await client.get("/")).text()
    assert f'<a href="/tickets/{late}">T-LATE</a>' in page and "已超期" in page
    assert "T-CALM" in page          # due within the warning window: listed, not yet overdue
    assert re.search(r'id="review-queue-size">语音待审核: <strong>1</strong>', page)
    assert "五月回访" in page and "旧活动" not in page


async def test_dtmf_only_banner_follows_the_speech_status(db, settings, users):
    plain = await open_client(make_app(db, settings))
    spoken = await open_client(make_app(db, settings, asr=SpeechStatus("speech", "/models/vosk-cn", "vosk")))
    try:
        await sign_in(plain, "agent")
        await sign_in(spoken, "agent")
        page = await (await plain.get("/")).text()
        assert 'id="dtmf-only-banner"' in page and "仅支持按键应答" in page
        # Said once, in Chinese: no environment variable names, no English aside, no repeat.
        banner = re.search(r'id="dtmf-only-banner">(.*?)</div>', page, re.S).group(1)
        assert "CALLCENTER_" not in banner and not re.search(r"[A-Za-z]{4,}", banner.replace("DTMF", ""))
        assert banner.count("语音识别未启用") == 1 and banner.count("仅支持按键应答") == 1
        page = await (await spoken.get("/")).text()
        assert 'id="dtmf-only-banner"' not in page
    finally:
        await plain.close()
        await spoken.close()


async def test_cache_reuses_refreshes_once_and_serves_stale_meanwhile(monkeypatch):
    import asyncio

    from callcenter.web.core import cache
    clock = [1000.0]
    monkeypatch.setattr(cache.time, "monotonic", lambda: clock[0])
    app = {cache.CACHE: {}}
    calls = []
    release = asyncio.Event()

    async def compute():
        calls.append(clock[0])
        if len(calls) == 2:
            await release.wait()           # the refresh is slow
        return len(calls)

    assert await cache.cached(app, "k", 10, compute) == 1
    clock[0] += 5
    assert await cache.cached(app, "k", 10, compute) == 1          # fresh: reused
    clock[0] += 6
    refreshing = asyncio.create_task(cache.cached(app, "k", 10, compute))
    await asyncio.sleep(0)
    assert await cache.cached(app, "k", 10, compute) == 1          # stale served while one refreshes
    release.set()
    assert await refreshing == 2 and len(calls) == 2
    assert await cache.cached(app, "k", 10, compute) == 2
    assert await cache.cached({}, "k", 10, compute) == 3           # no cache on this app: always computed


async def test_an_empty_month_points_to_the_latest_month_with_callbacks(client, db):
    async with db.pool.acquire() as conn:
        unit = await sf.unit(conn, "甲科室")
        answered = datetime(2024, 5, 10, 3, tzinfo=timezone.utc)
        ticket_id = await sf.ticket(conn, called_at=answered - timedelta(days=2), closed_at=answered,
                                    department_id=unit)
        await sf.attempt(conn, ticket_id, 1, answered_at=answered, answers=sf.own("yes", "solved", "satisfied"))
    await sign_in(client, "agent")
    page = await (await client.get("/")).text()
    assert '<a href="/?period=2024-05">' in page and 'id="latest-data"' in page
    month = await (await client.get("/?period=2024-05")).text()
    assert kpi(month, "composite") == "100.00" and 'id="latest-data"' not in month


async def test_agents_see_no_ranking_unless_an_admin_allows_it(db, settings, users):
    async with db.pool.acquire() as conn:
        await seed_month(conn)
    agent = await open_client(make_app(db, settings))
    admin = await open_client(make_app(db, settings))
    try:
        await sign_in(agent, "agent")
        token = await sign_in(admin, "admin")
        page = await (await agent.get("/")).text()
        assert "科室排名" not in page and "甲科室" not in page and chart_data(page)["ranking"] == []
        page = await (await admin.get("/")).text()
        assert "甲科室" in page and 'id="agents-ranking-form"' in page
        assert "首次上榜" in page                    # 名次变化 is never a blank cell
        assert (await agent.post("/settings/agents-ranking", data={"csrf_token": "x", "allow": "1"},
                                 allow_redirects=False)).status in (403, 400)
        response = await admin.post("/settings/agents-ranking", data={"csrf_token": token, "allow": "1"},
                                    allow_redirects=False)
        assert response.status == 303
        page = await (await agent.get("/")).text()
        assert "科室排名" in page and [u["name"] for u in chart_data(page)["ranking"]] == ["甲科室", "乙科室"]
        audit = await (await admin.get("/audit")).text()
        assert "修改了 设置 “坐席可见科室排名”" in " ".join(audit.split())
    finally:
        await agent.close()
        await admin.close()


def test_rank_change_reads_as_words():
    from callcenter.web.home.home import rank_change_text
    assert [rank_change_text(c) for c in (2, -1, 0, None)] == ["↑2", "↓1", "持平", "首次上榜"]
