"""``/reports``: 报表 — every generated daily / weekly / monthly / special report, for download, with
who generated it and when; managers generate a 专报 (special report) here."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from ...db import report_queries as queries
from ...reports.produce import SERVICE, produce
from ...reports.windows import KIND_LABELS, WindowError
from ..core import keys
from ..core.access import ALL_STAFF, MANAGERS, current_user, require_role
from ..core.path_params import path_id
from ..core.render import NavItem, render, redirect_with_flash

routes = web.RouteTableDef()
NAV = [NavItem("报表", "reports")]
MEDIA = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def reports_folder(request: web.Request) -> Path:
    return request.app[keys.SETTINGS].home / "reports"


@routes.get("/reports", name="reports")
@require_role(*ALL_STAFF)
async def reports_page(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        items = await queries.report_list(conn)
    return await render("office/reports/list.html", request, {
        "items": items, "kinds": KIND_LABELS, "service": SERVICE,
        "may_generate": current_user(request).role in MANAGERS})


@routes.post("/reports", name="reports_generate")
@require_role(*MANAGERS)
async def reports_generate(request: web.Request) -> web.Response:
    form = await request.post()
    kind = str(form.get("kind", ""))
    try:
        if kind not in KIND_LABELS:
            raise WindowError("请选择报表类型")
        days = {}
        for name in ("start_day", "end_day"):
            text = str(form.get(name, "")).strip()
            days[name] = date.fromisoformat(text) if text else None
        async with request.app[keys.DB].pool.acquire() as conn:
            written = await produce(conn, kind, reports_folder(request), created_by=current_user(request).username,
                                    label=str(form.get("period", "")).strip() or None,
                                    category=str(form.get("category", "")).strip() or None,
                                    community=str(form.get("community", "")).strip() or None, **days)
    except (WindowError, ValueError) as exc:
        await redirect_with_flash(request, "/reports", "error", f"未生成: {exc}")
    await redirect_with_flash(request, "/reports", "ok", f"已生成 {written.report.window.title}")


@routes.get("/reports/{report_id:[^/]+}/{fmt:[^/]+}", name="report_file")
@require_role(*ALL_STAFF)
async def report_file(request: web.Request) -> web.StreamResponse:
    report_id = path_id(request, "report_id")
    fmt = request.match_info["fmt"]
    if fmt not in MEDIA:
        raise web.HTTPNotFound()
    async with request.app[keys.DB].pool.acquire() as conn:
        row = await queries.report_row(conn, report_id)
    path = Path(row[f"{fmt}_path"]) if row else None
    if path is None or not path.is_file():
        raise web.HTTPNotFound(text="报表不存在或文件已被移走")
    return web.FileResponse(path, headers={
        "Content-Type": MEDIA[fmt],
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(path.name)}"})
