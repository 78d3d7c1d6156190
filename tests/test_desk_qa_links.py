"""质检 is reachable: a ticket's page links its human callbacks to the grading form, and /desk/qa opens on
the last whole week, whose random sample it offers without anyone choosing a week."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from callcenter.desk.quality import last_finished_week
from callcenter.ledger.timezone import OFFICE_TZ

from .test_desk_quality import _desk_call
from .test_web_helpers import client, sign_in, users  # noqa: F401


async def test_ticket_page_and_weekly_sample_lead_to_the_grading_form(client, db):
    monday = last_finished_week(datetime.now(timezone.utc))
    at = datetime.combine(monday + timedelta(days=1), datetime.min.time(), OFFICE_TZ) + timedelta(hours=10)
    async with db.pool.acquire() as conn:
        attempt = await _desk_call(conn, "agent", "Q1", start=at, talk_s=60)
        tid = await conn.fetchval("SELECT ticket_id FROM callback_attempts WHERE id = $1", attempt)
    link = f'href="/desk/qa/desk/{attempt}"'

    token = await sign_in(client, "agent")
    page = await (await client.get(f"/tickets/{tid}")).text()
    assert "(坐席 agent)" in page and link not in page                 # agents see who called, do not grade
    await client.post("/logout", data={"csrf_token": token})

    await sign_in(client, "supervisor")
    assert link in await (await client.get(f"/tickets/{tid}")).text()
    qa = await (await client.get("/desk/qa")).text()
    assert f"质检 · {monday.isoformat()} 当周抽样" in qa
    assert f'href="/desk/qa/desk/{attempt}"' in qa and "待评分" in qa   # one call: the sample is that call
    assert 'href="/hotline/calls"' in qa
    form = await (await client.get(f"/desk/qa/desk/{attempt}")).text()
    assert "人工回访" in form and "尚未评分" in form and "该通话没有录音" in form
    assert (await client.get(f"/desk/qa/desk/{attempt}/recording")).status == 404


async def test_the_service_offers_last_weeks_sample_by_itself(db, settings):
    import asyncio
    from dataclasses import replace

    from callcenter.db import quality
    from callcenter.service import Service
    monday = last_finished_week(datetime.now(timezone.utc))
    at = datetime.combine(monday + timedelta(days=2), datetime.min.time(), OFFICE_TZ) + timedelta(hours=9)
    async with db.pool.acquire() as conn:
        for i in range(4):
            await _desk_call(conn, "a", f"S{i}", start=at + timedelta(minutes=i), talk_s=30)
    service = Service(replace(settings, qa_sample_rate=0.5))
    service.db = db
    task = asyncio.create_task(service._sample_weekly(tick=0.05))
    try:
        for _ in range(100):
            async with db.pool.acquire() as conn:
                drawn = await quality.samples(conn, monday)
            if drawn:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert len(drawn) == 2 and {s["agent"] for s in drawn} == {"a"}       # half of four, at the setting's rate
