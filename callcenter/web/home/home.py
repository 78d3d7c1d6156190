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

from ...ledger.timezone import OFFICE_TZ
from ...db import dashboard_queries, office_settings
from ...db import duty as duty_repo
from ...recording_space import recording_space
from ...reports import scorecard
from ...scoring.periods import PeriodError, period_containing, previous
from ...scoring.rates import BASIS_LABELS, RATE_LABELS
from ..core import keys
from ..core.access import ALL_STAFF, MANAGERS, current_user, require_role
from ..core.components import speech_view
from .dashboard import (CAMPAIGN_STATE_LABELS, DEADLINE_LABELS, cached_month_figures, cached_work_waiting,
                        calendar, choose_period)
from ..core.render import NavItem, flash, render

routes = web.RouteTableDef()
NAV = [NavItem("首页", "home")]


def rank_change_text(change: int | None) -> str:
    """名次变化 in words: ↑2 / ↓1 / 持平, or 首次上榜 when last month had no rank to compare with."""
    if change is None:
        return "首次上榜"
    if change == 0:
        return "持平"
    return f"{'↑' if change > 0 else '↓'}{abs(change)}"


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
        on_duty = await duty_repo.on_duty(conn, now)
        agents_see_ranking = bool(await office_settings.get(conn, office_settings.AGENTS_SEE_RANKING, False))
        latest = None
        if figures.counts["effective"] == 0:          # e.g. a demo on last year's data: say where data is
            scored = await dashboard_queries.latest_effective_callback(conn)
            latest = period_containing(scored, cal).label if scored else None
    this_month = choose_period(None, now, cal)
    role = current_user(request).role
    show_ranking = role in MANAGERS or agents_see_ranking
    return await render("home/home.html", request, {
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
        "on_duty": on_duty,
        "is_manager": role in MANAGERS,
        "is_admin": role == "admin",
        "show_ranking": show_ranking,
        "agents_see_ranking": agents_see_ranking,
        "rank_change_text": rank_change_text,
        "chart_data": {"ranking": figures.ranking if show_ranking else [], "trend": figures.trend},
    }, status=400 if error else 200)


@routes.post("/settings/agents-ranking", name="agents_ranking")
@require_role("admin")
async def set_agents_ranking(request: web.Request) -> web.StreamResponse:
    """The admin's switch: may hotline agents see the department ranking on 首页 (audited)."""
    form = await request.post()
    allowed = form.get("allow") == "1"
    async with request.app[keys.DB].pool.acquire() as conn:
        await office_settings.put(conn, office_settings.AGENTS_SEE_RANKING, allowed,
                                  actor=current_user(request).username)
    await flash(request, "ok", "坐席现在可以查看科室排名" if allowed else "坐席不再显示科室排名")
    raise web.HTTPSeeOther("/")
