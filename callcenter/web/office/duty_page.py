"""``/duty``: 值班表 — who is on duty now and next; managers add and remove shifts."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from aiohttp import web

from ...db import duty as repo
from ...ledger.duty import ShiftError, make_shift
from ..core import keys
from ..core.access import ALL_STAFF, MANAGERS, current_user, require_role
from ..core.path_params import path_id
from ..core.render import NavItem, render, redirect_with_flash

routes = web.RouteTableDef()
NAV = [NavItem("值班表", "duty")]
FIELDS = ("start", "end", "staff_name", "email", "phone", "note")


@routes.get("/duty", name="duty")
@require_role(*ALL_STAFF)
async def duty_page(request: web.Request) -> web.Response:
    now = datetime.now(timezone.utc)
    async with request.app[keys.DB].pool.acquire() as conn:
        current = await repo.on_duty(conn, now)
        shifts = await repo.shifts_from(conn, now - timedelta(days=1))
    return await render("office/duty/list.html", request, {"current": current, "shifts": shifts, "now": now,
                                                     "may_edit": current_user(request).role in MANAGERS})


@routes.post("/duty", name="duty_add")
@require_role(*MANAGERS)
async def duty_add(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        shift = make_shift(*(str(form.get(name, "")) for name in FIELDS))
    except ShiftError as exc:
        await redirect_with_flash(request, "/duty", "error", str(exc))
    async with request.app[keys.DB].pool.acquire() as conn:
        await repo.add_shift(conn, **asdict(shift), created_by=current_user(request).username)
    await redirect_with_flash(request, "/duty", "ok", f"已添加 {shift.staff_name} 的班次")


@routes.post("/duty/{shift_id:[^/]+}/delete", name="duty_delete")
@require_role(*MANAGERS)
async def duty_delete(request: web.Request) -> web.Response:
    shift_id = path_id(request, "shift_id")
    async with request.app[keys.DB].pool.acquire() as conn:
        removed = await repo.remove_shift(conn, shift_id)
    await redirect_with_flash(request, "/duty", "ok" if removed else "error", "已删除班次" if removed else "班次不存在")
