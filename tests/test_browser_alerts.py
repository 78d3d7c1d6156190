"""Headless Chromium: a new ticket appears on the dashboard, and the bell counts its alert, without a reload."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from callcenter.alerts.engine import AlertOptions, alert_pass
from callcenter.web.runner import start_web

from .factories import insert_ticket
from .test_browser_web import CHROMIUM, TIMEOUT_MS
from .test_web_helpers import PASSWORD, make_app, users  # noqa: F401

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (apt-get install -y chromium)")


async def test_new_ticket_and_its_alert_show_up_without_a_reload(db, settings, users):
    runner = await start_web(make_app(db, settings), "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    problems: list[str] = []
    try:
        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            try:
                page = await browser.new_page(locale="zh-CN")
                page.set_default_timeout(TIMEOUT_MS)
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
                await browser.close()
    finally:
        await runner.cleanup()
    assert problems == []
