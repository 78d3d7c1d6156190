"""Headless Chromium: while a desk call is up the console asks every few seconds, and once the call is over
it says what became of it without reloading (what the agent typed in the form during the call stays)."""
from __future__ import annotations

from callcenter.campaigns.ports import OriginateResult

from .browser import needs_chromium, served_page, sign_in
from .test_desk_dial import FakeDialer, _setup
from .test_web_helpers import make_app, users  # noqa: F401

pytestmark = needs_chromium


async def test_the_console_says_the_call_is_over_and_keeps_the_form(db, settings, users):  # noqa: F811
    await _setup(db)
    dialer = FakeDialer()
    async with served_page(make_app(db, settings, dialer=dialer)) as (page, base, problems):
        await sign_in(page, base, "agent", then="/desk")
        await page.click("#desk-claim")
        await page.click("#desk-dial")
        await page.wait_for_selector("#desk-in-call")
        await page.fill("textarea[name=note]", "通话中记下的")
        dialer.pbx.calls[0].result.set_result(OriginateResult(False, 5))      # the agent's phone was busy
        await page.wait_for_selector("#desk-in-call:has-text('通话已结束')", timeout=8000)
        assert "您的电话占线" in await page.inner_text("#desk-in-call")
        assert await page.input_value("textarea[name=note]") == "通话中记下的"
    assert problems == []
