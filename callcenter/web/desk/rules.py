"""``/desk/rules``: per campaign, which robot results go to the human desk (转人工规则)."""
from __future__ import annotations

from aiohttp import web

from ...db import desk as repo
from ...desk.escalation import SWITCH_LABELS, UNREACHED_RANGE, EscalationRules
from ...inputs import InputError, bounded_int
from ..core import keys
from ..core.access import MANAGERS, current_user, require_role
from ..core.path_params import path_id
from ..core.render import NavItem, flash, render

routes = web.RouteTableDef()
NAV = [NavItem("转人工规则", "desk_rules")]
SWITCHES = tuple(SWITCH_LABELS.items())


def rules_from_form(form) -> EscalationRules:
    raw = str(form.get("unreached_after", "")).strip()
    unreached = bounded_int(raw, "未接通次数", low=UNREACHED_RANGE[0], high=UNREACHED_RANGE[1]) if raw else None
    return EscalationRules(form.get("enabled") == "on", unreached,
                           *(form.get(key) == "on" for key, _ in SWITCHES))


@routes.get("/desk/rules", name="desk_rules")
@require_role(*MANAGERS)
async def rules_page(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        campaigns = await repo.campaign_rules(conn)
    return await render("desk/rules.html", request, {"campaigns": campaigns, "switches": SWITCHES})


@routes.post("/desk/rules/{campaign_id:[^/]+}", name="desk_rules_save")
@require_role(*MANAGERS)
async def rules_save(request: web.Request) -> web.Response:
    campaign_id = path_id(request, "campaign_id")
    try:
        rules = rules_from_form(await request.post())
    except InputError as exc:
        await flash(request, "error", f"未保存: {exc}")
        raise web.HTTPSeeOther("/desk/rules") from None
    async with request.app[keys.DB].pool.acquire() as conn:
        saved = await repo.set_campaign_rules(conn, campaign_id, rules, by=current_user(request).username)
    if not saved:
        raise web.HTTPNotFound(text="回访活动不存在")
    await flash(request, "ok", "转人工规则已保存")
    raise web.HTTPSeeOther("/desk/rules")
