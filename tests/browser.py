"""The suite's headless browser: Debian's chromium driven by playwright, started one way for every browser test."""
from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import pytest

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed (pip install playwright)")

CHROMIUM = Path(os.environ.get("CALLCENTER_CHROMIUM", "/usr/bin/chromium"))
TIMEOUT_MS = 15_000
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (apt-get install -y chromium)")


@asynccontextmanager
async def chromium() -> AsyncIterator[playwright_api.Browser]:
    """A headless chromium for one test, closed however the test ends (no sandbox: CI runs as root)."""
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                          args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(browser: playwright_api.Browser, **options) -> playwright_api.Page:
    """A Chinese-locale page that gives up after the suite's timeout rather than hanging the run."""
    page = await browser.new_page(locale="zh-CN", **options)
    page.set_default_timeout(TIMEOUT_MS)
    return page


@asynccontextmanager
async def served_page(app) -> AsyncIterator[tuple[playwright_api.Page, str, list[str]]]:
    """``app`` served on a free port, and a page of a fresh chromium: (page, base URL, problems — the page's
    script errors so far, for the test to find empty; it may listen for more)."""
    from callcenter.web.runner import start_web
    runner = await start_web(app, "127.0.0.1", 0)
    problems: list[str] = []
    try:
        async with chromium() as browser:
            page = await new_page(browser)
            page.on("pageerror", lambda e: problems.append(str(e)))
            yield page, "http://%s:%s" % runner.addresses[0][:2], problems
    finally:
        await runner.cleanup()


async def sign_in(page: playwright_api.Page, base: str, username: str, *, then: str | None = None) -> None:
    """Sign in through the login form as ``username`` (the suite's password).  ``then``: the page asked for
    (``?next=``), waited for; without it, whatever page the user lands on."""
    from .test_web_helpers import PASSWORD
    await page.goto(f"{base}/login" + (f"?next={then}" if then else ""))
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{then}" if then else (lambda url: "/login" not in url))
