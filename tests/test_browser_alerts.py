"""Headless Chromium: a new ticket appears on the dashboard, and the bell counts its alert, without a reload."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from callcenter.alerts.engine import AlertOptions, alert_pass
from callcenter.web.runner import start_web

from .browser import chromium, needs_chromium, new_page
from .factories import insert_ticket
from .test_web_helpers import PASSWORD, make_app, users  # noqa: F401

pytestmark = needs_chromium


async def test_new_ticket_and_its_alert_show_up_without_a_reload(db, settings, users):
    runner = await start_web(make_app(db, settings), "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    problems: list[str] = []
    try:
        async with chromium() as browser:
            page = await new_page(browser)
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.clock.install()                    # the 15 s poll runs on a clock the test moves
            await page.goto(f"{base}/login")
            await page.fill("input[name=username]", "agent")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/console")     # an agent lands on 坐席台
            await page.goto(f"{base}/")
            assert await page.locator("#awaiting-sign li").count() == 0
            async with db.pool.acquire() as conn:
                now = datetime.now(timezone.utc)
                await insert_ticket(conn, "NEW-1", title="小区停水", called_at=now, dispatched_at=now)
                await alert_pass(conn, now + timedelta(seconds=1), AlertOptions(email=False))
            await page.clock.run_for(16_000)
            await page.wait_for_selector("#awaiting-sign li >> text=NEW-1")
            await page.wait_for_function("document.querySelector('#bell .bell-count').textContent === '1'")
            await page.click("#bell")
            await page.wait_for_url(f"{base}/alerts")
            assert "新工单待签收 NEW-1" in await page.inner_text("#alerts")
    finally:
        await runner.cleanup()
    assert problems == []
