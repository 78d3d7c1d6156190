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
