"""Headless Chromium drives the admin app: sign in, work a ticket, correct a scored answer, start a campaign.

Uses Debian's chromium (/usr/bin/chromium) through Playwright, never a
downloaded browser; skipped with the reason when either is missing.  Saves
screenshots of the dashboard and the call review page to tests/artifacts/.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from callcenter.db import callbacks, campaigns
from callcenter.web.runner import start_web

from . import scoring_factories as sf
from .factories import insert_ticket, insert_unit
from .test_web_helpers import PASSWORD, make_app, users  # noqa: F401

CHROMIUM = Path(os.environ.get("CALLCENTER_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (apt-get install -y chromium)")
TIMEOUT_MS = 15_000


async def seed(db, settings) -> dict:
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    async with db.pool.acquire() as conn:
        depts = [await sf.unit(conn, name) for name in ("城市管理办公室", "社区建设办公室", "平安建设办公室")]
        for n, (dept, answers) in enumerate([(0, ("yes", "solved", "satisfied"))] * 3
                                            + [(1, ("yes", "partly", "basic"))] * 2 + [(2, ("no", "unsolved",
                                                                                          "dissatisfied"))]):
            ticket_id = await sf.ticket(conn, called_at=now - timedelta(days=n % 4 + 1), closed_at=now,
                                        department_id=depts[dept])
            await sf.attempt(conn, ticket_id, 1, answered_at=now - timedelta(days=n % 3),
                             answers=sf.own(*answers), phone=f"1380000{n:04d}")
        flow_ticket = await insert_ticket(conn, "T-FLOW", title="楼道堆物影响通行")
        unit = await insert_unit(conn, "城管执法队")
        called = await insert_ticket(conn, "T-CALL", status="awaiting_callback", phone="13900000001",
                                     title="夜间施工噪音")
        attempt = await callbacks.create_attempt(conn, called, phone="13900000001", state="answered")
        folder = settings.recordings / str(attempt)
        folder.mkdir(parents=True)
        wav = folder / "satisfaction-1.wav"
        wav.write_bytes(_silent_wav())
        await callbacks.record_answer(conn, attempt, "contacted", intent="yes", source="dtmf", digits="1")
        await callbacks.record_answer(conn, attempt, "solved", intent="solved", source="dtmf", digits="1")
        await callbacks.record_answer(conn, attempt, "satisfaction", intent="basic", source="speech",
                                      transcript="嗯还行吧就是基本满意", confidence=0.41, recording_path=str(wav),
                                      needs_review=True)
        await callbacks.finish_attempt(conn, attempt, "answered-complete")
        await campaigns.upsert_trunk(conn, "main", "PJSIP/{number}@trunk", 4, 1.0)
    return {"flow_ticket": flow_ticket, "unit": unit, "attempt": attempt}


def _silent_wav(seconds: float = 0.5, rate: int = 8000) -> bytes:
    import io
    import wave
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


async def test_supervisor_works_the_day_in_a_real_browser(db, settings, users):
    ids = await seed(db, settings)
    runner = await start_web(make_app(db, settings), "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                          args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = await browser.new_page(viewport={"width": 1360, "height": 900}, locale="zh-CN")
            page.set_default_timeout(TIMEOUT_MS)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))

            # Sign in; the dashboard comes first, charts drawn by the vendored ECharts.
            await page.goto(f"{base}/login")
            await page.fill("input[name=username]", "supervisor")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/review")           # a supervisor with answers waiting starts on the queue
            await page.goto(f"{base}/")
            assert "首页" in await page.title()
            await page.wait_for_selector("#ranking-chart canvas")
            await page.wait_for_selector("#trend-chart canvas")
            assert (await page.inner_text("#kpi-response .value")).endswith("%")
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            trend_type = "() => echarts.getInstanceByDom(document.getElementById('trend-chart')).getOption().series[0].type"
            assert await page.evaluate(trend_type) == "line"                 # several days: lines
            # A month with one day of data: bars, not a lone dot per rate.
            await page.evaluate("""() => {
              const block = document.getElementById('dashboard-data');
              const data = JSON.parse(block.textContent);
              data.trend = data.trend.slice(0, 1);
              block.textContent = JSON.stringify(data);
              echarts.dispose(document.getElementById('trend-chart'));
              echarts.dispose(document.getElementById('ranking-chart'));
              const again = document.createElement('script');
              again.src = '/static/dashboard.js?again';
              document.body.appendChild(again);
            }""")
            await page.wait_for_function("() => { const c = echarts.getInstanceByDom("
                                         "document.getElementById('trend-chart')); return c && c.getOption(); }")
            assert await page.evaluate(trend_type) == "bar"

            # Work a ticket through the flow: 签收 → 派单 → 接单办理 → 反馈 → 结案审核通过.
            await page.goto(f"{base}/tickets/{ids['flow_ticket']}")
            await page.click("form:has(input[value=sign]) button")
            await page.wait_for_selector("text=已签收")
            dispatch = page.locator("form:has(input[value=dispatch])")
            await dispatch.locator("select[name=unit_id]").select_option(str(ids["unit"]))
            await dispatch.locator("button").click()
            await page.wait_for_selector("text=已派单")
            await page.click("form:has(input[value=accept]) button")
            await page.wait_for_selector("text=已接单办理")
            feedback = page.locator("form:has(input[value=feedback])")
            await feedback.locator("input[name=reason]").fill("已联系物业清理楼道, 现场复查通畅")
            await feedback.locator("button").click()
            await page.wait_for_selector("text=已反馈")
            await page.click("form:has(input[value=review_pass]) button")
            await page.wait_for_selector("text=已结案审核通过")
            async with db.pool.acquire() as conn:
                assert await conn.fetchval("SELECT status FROM tickets WHERE id = $1",
                                           ids["flow_ticket"]) == "awaiting_callback"

            # Correct a scored answer from the review queue with the keyboard: 3 = 不满意, reason, Ctrl+Enter.
            await page.goto(f"{base}/review")
            await page.wait_for_selector(".review-item.selected")
            await page.screenshot(path=str(ARTIFACTS / "review_queue.png"), full_page=True)
            await page.keyboard.press("Enter")                 # a bare Enter does nothing
            await page.keyboard.press("Control+Enter")         # unchanged, unheard: asks to play or say why not
            why = page.locator(".review-item.selected input[name=no_listen_reason]")
            assert await why.evaluate("el => el === document.activeElement")
            await why.press("Enter")                           # Enter inside a field submits nothing either
            assert page.url.endswith("/review")
            async with db.pool.acquire() as conn:
                assert (await callbacks.current_answers(conn, ids["attempt"]))["satisfaction"]["version"] == 1
            await page.keyboard.press("Escape")
            await page.keyboard.press("3")
            await page.keyboard.press("Control+Enter")         # changed answer: the reason field takes focus
            reason = page.locator(".review-item.selected input[name=reason]")
            await reason.wait_for()
            assert await reason.evaluate("el => el === document.activeElement")
            await reason.fill("录音中市民说“不满意, 还是很吵”")
            await reason.press("Control+Enter")
            await page.wait_for_selector("text=审核队列已清空")
            async with db.pool.acquire() as conn:
                current = await callbacks.current_answers(conn, ids["attempt"])
            assert current["satisfaction"]["intent"] == "dissatisfied" and current["satisfaction"]["version"] == 2
            await page.goto(f"{base}/calls/{ids['attempt']}")
            await page.wait_for_selector("audio")
            assert await page.locator("audio").first.evaluate(
                "a => fetch(a.src, {headers: {Range: 'bytes=0-43'}}).then(r => r.status)") == 206
            await page.screenshot(path=str(ARTIFACTS / "call_review.png"), full_page=True)

            # Create a campaign from the form and start it; the live counters arrive by SSE.
            await page.goto(f"{base}/campaigns/new")
            await page.fill("input[name=name]", "十一月满意度回访")
            await page.select_option("select[name=trunk]", "main")
            await page.click("button:has-text('创建（草稿）')")
            await page.wait_for_selector("text=已创建回访活动")
            assert "开始后将回访 1 件" in await page.inner_text("#eligible")   # the ticket worked above
            await page.click("form:has(input[value=start]) button")
            await page.wait_for_selector("#campaign-state:has-text('进行中')")
            await page.wait_for_selector("#live-status:has-text('实时')")
            await page.screenshot(path=str(ARTIFACTS / "campaign.png"), full_page=True)
            async with db.pool.acquire() as conn:
                assert await conn.fetchval("SELECT state FROM campaigns WHERE name = '十一月满意度回访'") == "running"
        finally:
            await browser.close()
            await runner.cleanup()
    assert not [m for m in problems if "Content Security Policy" in m or "Refused" in m], problems
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    assert (ARTIFACTS / "call_review.png").stat().st_size > 10_000
