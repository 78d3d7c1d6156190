"""``/``: 首页, the dashboard every role starts on.

The month's 响应率 / 解决率 / 满意率 and 综合成绩 (剔除后, with 全口径 beside
them), the department ranking and daily trend as ECharts charts (vendored
under static/vendor, no CDN: the office network may be offline), and the work
waiting: deadlines, the speech review queue, campaigns.  Chart data travels
as a JSON data block, because the CSP allows no inline script.
"""
from __future__ import annotations

from datetime import datetime

from aiohttp import web

from ..ledger.timezone import OFFICE_TZ
from ..db import dashboard_queries
from ..recording_space import recording_space
from ..reports import scorecard
from ..scoring.periods import PeriodError, period_containing, previous
from ..scoring.rates import BASIS_LABELS, RATE_LABELS
from . import keys
from .access import ALL_STAFF, MANAGERS, current_user, require_role
from .components import speech_view
from .dashboard import (CAMPAIGN_STATE_LABELS, DEADLINE_LABELS, cached_month_figures, cached_work_waiting,
                        calendar, choose_period)
from .render import render

routes = web.RouteTableDef()


@routes.get("/", name="home")
@require_role(*ALL_STAFF)
async def home(request: web.Request) -> web.Response:
    now = datetime.now(OFFICE_TZ)
    error = None
    async with request.app[keys.DB].pool.acquire() as conn:
        cal = await calendar(conn)
        try:
            chosen = choose_period(request.query.get("period", "").strip() or None, now, cal)
        except PeriodError:
            error = "考核月格式应为 YYYY-MM, 已显示本月"
            chosen = choose_period(None, now, cal)
        try:
            figures = await cached_month_figures(request.app, conn, chosen.label)
        except LookupError:               # before the first rule set: nothing can be scored
            error = f"{chosen.label} 考核月没有适用的评分规则, 已显示本月"
            chosen = choose_period(None, now, cal)
            figures = await cached_month_figures(request.app, conn, chosen.label)
        waiting = await cached_work_waiting(request.app, conn, now)
        latest = None
        if figures.counts["effective"] == 0:          # e.g. a demo on last year's data: say where data is
            scored = await dashboard_queries.latest_effective_callback(conn)
            latest = period_containing(scored, cal).label if scored else None
    this_month = choose_period(None, now, cal)
    return await render("home.html", request, {
        "f": figures,
        "w": waiting,
        "error": error,
        "now": now,
        "speech": speech_view(request.app),
        "disk_alarm": recording_space(request.app[keys.SETTINGS]).alarm,
        "is_current": chosen.label == this_month.label,
        "previous_label": previous(chosen, cal).label,
        "latest_label": latest if latest != chosen.label else None,
        "this_label": this_month.label,
        "rate_labels": RATE_LABELS,
        "compliance_headers": scorecard.COMPLIANCE_HEADERS,
        "basis_labels": BASIS_LABELS,
        "deadline_labels": DEADLINE_LABELS,
        "campaign_state_labels": CAMPAIGN_STATE_LABELS,
        "is_manager": current_user(request).role in MANAGERS,
        "chart_data": {"ranking": figures.ranking, "trend": figures.trend},
    }, status=400 if error else 200)
