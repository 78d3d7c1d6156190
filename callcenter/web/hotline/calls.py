"""专线通话: one day's hotline calls for supervisors, each answered call linked to its 质检 grading form.

Grading lives with the desk's 质检 (``/desk/qa/hotline/{uniqueid}``, callcenter/web/desk/quality.py);
this page is where a supervisor finds a hotline call to grade beyond the weekly sample.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from aiohttp import web

from ...db import hotline as repo
from ...inputs import InputError, bounded_day, clean_text
from ...ledger.timezone import OFFICE_TZ
from ..core import keys
from ..core.access import MANAGERS, require_role
from ..core.render import NavItem, render

routes = web.RouteTableDef()
NAV = [NavItem("专线通话", "hotline_calls")]
OUTCOME_LABELS = {"answered": "接通", "abandoned": "放弃", "callback_requested": "请求回拨"}


@routes.get("/hotline/calls", name="hotline_calls")
@require_role(*MANAGERS)
async def calls_page(request: web.Request) -> web.Response:
    today = datetime.now(timezone.utc).astimezone(OFFICE_TZ).date()
    try:
        day = bounded_day(request.query.get("day", "") or today.isoformat(), "日期")
        agent = clean_text(request.query.get("agent", ""), "坐席", max_len=64).strip() or None
    except InputError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    start = datetime.combine(day, time.min, OFFICE_TZ)
    async with request.app[keys.DB].pool.acquire() as conn:
        calls = await repo.calls_between(conn, start, start + timedelta(days=1), agent=agent)
    return await render("hotline/calls.html", request, {
        "calls": calls, "day": day, "agent": agent or "", "outcomes": OUTCOME_LABELS,
        "prev": day - timedelta(days=1), "next": day + timedelta(days=1)})
