"""Headless Chromium on the 人工回访 console: an agent signs in, takes a ticket, calls (拨打), fills the
script form and submits; the ticket's page then shows the agent's answers as its scored callback.

The PBX is the recording double of tests/test_desk_dial.py (the simulator's bridge is covered by
tests/test_desk_e2e.py).  Debian's chromium through Playwright; skipped with the reason when either is missing.
"""
from __future__ import annotations

from callcenter.campaigns.ports import OriginateResult

from .browser import needs_chromium, served_page, sign_in
from .test_desk_dial import FakeDialer, _setup
from .test_web_helpers import make_app, users  # noqa: F401

pytestmark = needs_chromium


async def test_agent_calls_back_in_a_real_browser(db, settings, users):  # noqa: F811
    tid = await _setup(db)
    dialer = FakeDialer()
    async with served_page(make_app(db, settings, dialer=dialer)) as (page, base, problems):
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        await sign_in(page, base, "agent", then="/desk")
        await page.click("#desk-claim")
        await page.wait_for_selector("#desk-ticket")
        assert "多次未接通" in await page.inner_text("#desk-ticket")
        await page.click("#desk-dial")
        await page.wait_for_selector("#desk-in-call")
        assert dialer.pbx.requests[0].context == "desk-callback"
        call = dialer.pbx.calls[0]
        call.result.set_result(OriginateResult(True, 4))
        call.hangup.set_result(16)
        await page.check("input[name=contacted][value=yes]")
        await page.check("input[name=solved][value=partly]")
        await page.check("input[name=satisfaction][value=basic]")
        await page.select_option("select[name=outcome]", "answered-complete")
        await page.fill("textarea[name=note]", "维修还差一项")
        await page.click("#desk-submit")
        await page.wait_for_selector("text=回访结果已保存")
        await page.goto(f"{base}/tickets/{tid}")
        scored = await page.locator(".scored-answer").all_inner_texts()
        assert scored == ["是（本街道回访）", "部分解决（本街道回访）", "基本满意（本街道回访）"]
    assert problems == []
