"""办理期限规则 (admin): the dated deadline policies, and a form to add the next one.

The same rules as ``callcenter deadlines add``: never edited in place, a new
policy takes effect on its date, limits left blank are copied from the newest.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date

from aiohttp import web

from ...db import deadline_policies as repo
from ...db.tickets import load_policies
from ...inputs import ascii_digits
from ...ledger.deadlines import DEFAULT_POLICY, POLICY_FIELDS
from ..core import keys
from ..core.access import current_user, require_role
from ..core.render import NavItem, flash, render

routes = web.RouteTableDef()
NAV = [NavItem("办理期限", "deadline_policies")]      # admins only: the route allows no one else
MAX_NOTE = 500


@routes.get("/deadlines", name="deadline_policies")
@require_role("admin")
async def policy_list(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        rows = await repo.list_policies(conn)
    return await render("tickets/deadlines/policies.html", request, {"rows": rows, "fields": POLICY_FIELDS})


def _form_int(form, name: str, label: str) -> int | None:
    raw = str(form.get(name, "")).strip()
    if not raw:
        return None
    if not ascii_digits(raw) or len(raw) > 6:
        raise repo.PolicyRejected(f"{label} 须为正整数: {raw[:20]}")
    return int(raw)


@routes.post("/deadlines", name="deadline_policy_add")
@require_role("admin")
async def policy_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        try:
            day = date.fromisoformat(str(form.get("effective_from", "")).strip())
        except ValueError:
            raise repo.PolicyRejected("生效日期格式应为 YYYY-MM-DD") from None
        given = {name: value for name, label in POLICY_FIELDS
                 if (value := _form_int(form, name, label)) is not None}
        async with request.app[keys.DB].pool.acquire() as conn:
            policies = await load_policies(conn)
            base = max(policies, key=lambda p: p.effective_from) if policies else DEFAULT_POLICY
            policy = replace(base, effective_from=day, **given)
            await repo.add_policy(conn, policy, note=str(form.get("note", "")).strip()[:MAX_NOTE],
                                  actor=current_user(request).username)
    except repo.PolicyRejected as exc:
        await flash(request, "error", f"未保存: {exc}")
    else:
        await flash(request, "ok", f"已添加自 {day.isoformat()} 起的办理期限规则")
    raise web.HTTPSeeOther("/deadlines")
