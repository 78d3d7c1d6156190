"""In a real browser: one appeal from candidate to submitted, one urban case from 审核 to 结案.

Skipped cleanly when Playwright or /usr/bin/chromium is not installed.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp.test_utils import TestServer

from callcenter.db import appeals as repo
from callcenter.db import urban as urban_repo

from . import scoring_factories as f
from .factories import insert_unit
from .test_urban_db import record
from .test_web_helpers import PASSWORD, make_app, users  # noqa: F401

playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = os.environ.get("CALLCENTER_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no chromium at {CHROMIUM}")
BJ = timezone(timedelta(hours=8))


@pytest.fixture
async def browser_page(db, settings, users):
    server = TestServer(make_app(db, settings), host="127.0.0.1")
    await server.start_server()
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page()
        page.set_default_timeout(15_000)
        base = str(server.make_url("")).rstrip("/")
        await page.goto(f"{base}/login")
        await page.fill("input[name=username]", "supervisor")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(lambda url: "/login" not in url)
        yield page, base
        await browser.close()
    await server.close()


async def test_an_appeal_from_candidate_to_submitted(browser_page, db):
    page, base = browser_page
    async with db.pool.acquire() as conn:
        await repo.save_rules(conn, repo.ap.AppealRules(keywords=("退还定金",)), actor="admin")
        await f.ticket(conn, ticket_no="B-1", called_at=datetime(2024, 5, 19, 15, tzinfo=BJ), title="要求退还定金")
    await page.goto(f"{base}/appeals?day=2024-05-20")
    await page.click("#run-candidates")
    row = page.locator("tr[data-ticket='B-1']")
    await row.get_by_text("退还定金").first.wait_for()
    await row.locator("button[value=confirm]").click()
    await page.wait_for_url("**/appeals/*")
    await page.select_option("#appeal-edit select[name=grounds]", "超职责范围")
    await page.fill("#appeal-edit textarea[name=statement]", "属商业纠纷, 不属街道职责。")
    await page.click("#appeal-edit button[type=submit]")
    await page.get_by_text("申诉材料已保存").wait_for()
    await page.click("#step-submit")                   # no evidence, no reason: refused
    await page.get_by_text("至少一项证据").wait_for()
    await page.fill("form:has(#step-submit) input[name=reason]", "商业合同纠纷, 合同由诉求人自行提供, 无需另附证据")
    await page.click("#step-submit")
    await page.get_by_text("已提交: 现为已提交").wait_for()
    assert await page.text_content("#appeal-state") == "已提交"
    async with db.pool.acquire() as conn:
        [appeal] = await repo.list_appeals(conn)
    assert appeal["state"] == "submitted" and appeal["grounds"] == "超职责范围"


async def test_an_urban_case_from_review_to_closed(browser_page, db, tmp_path):
    page, base = browser_page
    async with db.pool.acquire() as conn:
        await insert_unit(conn, "城管科")
        case_id = await urban_repo.create_case(conn, record("B-URBAN"), actor="import")
    photo = tmp_path / "after.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 256)
    await page.goto(f"{base}/urban/{case_id}")
    await page.click("#step-accept")
    await page.get_by_text("已审核通过").wait_for()
    dispatch = page.locator("form:has(#step-dispatch)")
    await dispatch.locator("select[name=unit_id]").select_option(label="科室 · 城管科")
    await dispatch.locator("input[name=deadline]").fill("2099-06-05T18:00")
    await page.click("#step-dispatch")
    await page.get_by_text("已派发: 现为已派发").wait_for()
    handle = page.locator("form:has(#step-handle)")
    await handle.locator("textarea[name=result]").fill("已清运完毕")
    await handle.locator("input[name=photos]").set_input_files(str(photo))
    await page.click("#step-handle")
    await page.get_by_text("已处置反馈").wait_for()
    await page.click("#step-close")
    await page.get_by_text("已结案: 现为已结案").wait_for()
    assert await page.text_content("#case-state") == "已结案"
    assert await page.locator("img[alt='after.jpg']").count() == 1
