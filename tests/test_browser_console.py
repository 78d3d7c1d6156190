"""Headless Chromium on the agent console through one hotline call: sign in, join the queue,
the screen-pop appears by itself (websocket), the call ends, the counseling record is saved.

Debian's chromium through Playwright; skipped with the reason when either is missing.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .browser import needs_chromium, served_page, sign_in
from .factories import insert_ticket
from .test_hotline_e2e import running_hotline
from .test_web_helpers import make_app, users  # noqa: F401

pytestmark = needs_chromium


async def agent_in_the_queue(page, base: str) -> None:
    """The agent signs in, joins the queue, and the console's live link is up (pops can arrive)."""
    await sign_in(page, base, "agent", then="/console")
    await page.click("#queue-login")
    await page.wait_for_selector("#queue-logout")
    await page.wait_for_selector("body[data-console-ready='1']")


async def test_agent_takes_one_call_in_a_real_browser(db, settings, users):  # noqa: F811
    async with db.pool.acquire() as conn:
        await insert_ticket(conn, "T-HL", phone="13800000001", title="楼上漏水多次反映",
                            called_at=datetime.now(timezone.utc) - timedelta(days=3))
    async with running_hotline(db, settings, time_scale=0.2, talk_seconds=5) as (sim, link, service):
        async with served_page(make_app(db, settings, hotline=service, ami=link)) as (page, base, problems):
            page.on("console", lambda m: problems.append(f"{m.text} {m.location.get('url')}")
                    if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico") else None)
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            await agent_in_the_queue(page, base)

            sim.engine.queues.inbound("13800000001")
            await page.wait_for_selector("#pop:not([hidden])")
            assert await page.inner_text("#pop-phone") == "138****0001"
            assert "楼上漏水多次反映" in await page.inner_text("#pop-tickets")
            await page.wait_for_selector("#pop-state:has-text('通话已结束')")

            await page.fill("#record-topic", "漏水纠纷引发失眠")
            await page.select_option("#record-emotion", "焦虑")
            await page.select_option("#record-risk", "medium")
            await page.fill("#record-next", "联系物业上门查看")
            await page.click("#record-save")
            await page.wait_for_selector("text=情绪疏导记录已保存")
    assert problems == []
    async with db.pool.acquire() as conn:
        record = await conn.fetchrow("SELECT r.topic, c.outcome, c.agent FROM counseling_records r "
                                     "JOIN hotline_calls c ON c.id = r.call_id")
    assert tuple(record) == ("漏水纠纷引发失眠", "answered", "agent")


async def test_a_ring_the_agent_did_not_take_leaves_no_pop_behind(db, settings, users):  # noqa: F811
    """The caller gives up while this agent's phone rings: the pop goes away (ring_ended), no stale caller."""
    from callcenter.sim.queues import AgentScript, CallerScript
    async with running_hotline(db, settings, time_scale=0.2, talk_seconds=5) as (sim, link, service):
        sim.engine.queues.agents["agent"] = AgentScript(answers=False)
        sim.engine.queues.callers["13800000002"] = CallerScript(patience=5)
        async with served_page(make_app(db, settings, hotline=service, ami=link)) as (page, base, problems):
            await agent_in_the_queue(page, base)

            sim.engine.queues.inbound("13800000002")
            await page.wait_for_selector("#pop:not([hidden])")
            await page.wait_for_selector("#pop", state="hidden", timeout=10000)
            assert await page.input_value("#record-uniqueid") == ""
    assert problems == []
