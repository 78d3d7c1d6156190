"""Every page, every role, at phone (390 px) and desktop (1400 px) width in headless Chromium.

One browser for the module; each role signs in once.  Each page is
screenshotted at both widths into tests/artifacts/layout/ and fails the test
if it scrolls sideways at 390 px, or if the header grows taller than one bar
(the menu lives in the ☰ drawer there).  Uses Debian's /usr/bin/chromium.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from callcenter.db import campaigns as campaigns_repo
from callcenter.db import hotline as hotline_repo
from callcenter.db import urban as urban_repo
from callcenter.ledger import urban as ub
from callcenter.web.runner import start_web

from .browser import sign_in
from .factories import insert_ticket
from .test_browser_web import seed
from .test_web_helpers import make_app, users  # noqa: F401

CHROMIUM = Path(os.environ.get("CALLCENTER_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "layout"
playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (apt-get install -y chromium)")
PHONE, DESKTOP = 390, 1400
TIMEOUT_MS = 15_000

#: Pages by role: (name, path); {ticket}, {attempt}, {campaign}, {case}, {profile} are filled from the seed.
COMMON = [("home", "/"), ("tickets", "/tickets"), ("ticket", "/tickets/{ticket}"), ("console", "/console"),
          ("repeat", "/repeat"), ("repeat-profile", "/repeat/{profile}")]
MANAGER = COMMON + [("calls", "/calls"), ("call", "/calls/{attempt}"), ("review", "/review"), ("wall", "/wall"),
                    ("campaigns", "/campaigns"), ("campaign-new", "/campaigns/new"),
                    ("campaign", "/campaigns/{campaign}"), ("appeals", "/appeals"), ("urban", "/urban"),
                    ("urban-case", "/urban/{case}")]
PAGES = {"agent": COMMON, "supervisor": MANAGER, "admin": MANAGER + [("audit", "/audit")]}

SIDEWAYS_JS = """() => {
  const doc = document.documentElement;
  const wide = [...document.querySelectorAll('body *')].filter(el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.right > doc.clientWidth + 1 && !el.closest('table, .table-box, .nav-drawer');
  }).slice(0, 3).map(el => el.tagName + '.' + el.className + ' → ' + Math.round(el.getBoundingClientRect().right));
  return {scroll: doc.scrollWidth, client: doc.clientWidth, wide};
}"""


async def seed_everything(db, settings) -> dict:
    ids = await seed(db, settings)
    now = datetime.now(timezone.utc)
    async with db.pool.acquire() as conn:
        ids["ticket"] = ids["flow_ticket"]
        ids["campaign"] = await campaigns_repo.create_campaign(conn, campaigns_repo.CampaignSpec(
            name="十一月满意度回访（全街道，含社区建设办公室和平安建设办公室）", trunk="main", created_by="supervisor"))
        record = ub.CaseRecord(case_no="G-2024-000123456", case_type="暴露垃圾", reported_at=now - timedelta(hours=3),
                               source="grid", description="育新花园东门垃圾桶满溢，周边有散落垃圾袋" * 3,
                               address="北京市海淀区西三旗街道育新花园小区东门外人行道")
        ids["case"] = await urban_repo.create_case(conn, record, actor="supervisor")
        # The campaign has run a while: the seeded calls are its calls, a few more rang out.
        await conn.execute("UPDATE callback_attempts SET campaign_id = $1, settled = true", ids["campaign"])
        await conn.execute("""UPDATE callback_attempts SET outcome = 'answered-complete'
                               WHERE outcome IS NULL AND state = 'finished'""")
        for n, outcome in enumerate(("busy", "no-answer", "no-answer", "refused")):
            ticket = await insert_ticket(conn, f"T-RING-{n}", status="awaiting_callback", title="路灯不亮")
            await conn.execute(
                """INSERT INTO callback_attempts (id, ticket_id, campaign_id, attempt_no, phone, state, outcome,
                                                  settled, ended_at)
                   VALUES (gen_random_uuid(), $1, $2, 1, $3, 'finished', $4, true, now())""",
                ticket, ids["campaign"], f"1390000{n:04d}", outcome)
        await conn.execute("UPDATE campaigns SET state = 'running', started_at = now() WHERE id = $1",
                           ids["campaign"])
        ids["profile"] = await hotline_repo.add_profile(conn, "13800000009", "王某某", "多次反映楼上噪音")
        for n in range(3):
            await conn.execute(
                """INSERT INTO audit_log (actor, action, object_type, object_id, detail)
                   VALUES ('supervisor', 'recording.listen', 'callback_attempt', $1, $2)""",
                str(ids["attempt"]), {"answer_id": n, "ip": "127.0.0.1"})
    return ids


async def test_every_page_fits_a_phone_and_a_desktop_for_every_role(db, settings, users):
    ids = await seed_everything(db, settings)
    runner = await start_web(make_app(db, settings), "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    sideways: list[str] = []
    errors: list[str] = []
    shots = 0
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                          args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            for role, pages in PAGES.items():
                context = await browser.new_context(viewport={"width": DESKTOP, "height": 900}, locale="zh-CN")
                page = await context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.on("pageerror", lambda e, role=role: errors.append(f"{role}: {e}"))
                await sign_in(page, base, role)
                for name, path in pages:
                    url = base + path.format(**ids)
                    await page.set_viewport_size({"width": DESKTOP, "height": 900})
                    response = await page.goto(url)
                    assert response.status == 200, f"{role} {path}: {response.status}"
                    await page.screenshot(path=str(ARTIFACTS / f"{role}-{name}-{DESKTOP}.png"), full_page=True)
                    await page.set_viewport_size({"width": PHONE, "height": 844})
                    await page.goto(url)
                    fit = await page.evaluate(SIDEWAYS_JS)
                    if fit["scroll"] > fit["client"]:
                        sideways.append(f"{role} {path}: {fit['scroll']} px wide {fit['wide']}")
                    header = await page.locator("header.topbar").bounding_box()
                    if header["height"] > 60:
                        sideways.append(f"{role} {path}: header {header['height']} px tall")
                    await page.screenshot(path=str(ARTIFACTS / f"{role}-{name}-{PHONE}.png"), full_page=True)
                    shots += 2
                # The ☰ drawer: closed at first, opens on a tap, and holds every menu entry.
                await page.goto(f"{base}/tickets")
                menu = page.locator(".topbar nav a").first
                assert not await menu.is_visible()
                await page.click(".nav-burger")
                assert await menu.is_visible()
                assert await page.locator(".topbar nav a:has-text('首页')").is_visible()
                await page.screenshot(path=str(ARTIFACTS / f"{role}-menu-{PHONE}.png"))
                await page.set_viewport_size({"width": DESKTOP, "height": 900})
                assert await page.locator(".topbar nav a:has-text('首页')").is_visible()
                assert not await page.locator(".nav-burger").is_visible()
                await context.close()
        finally:
            await browser.close()
            await runner.cleanup()
    assert not sideways, "\n".join(sideways)
    assert not errors, errors
    assert shots == 2 * sum(len(p) for p in PAGES.values())
