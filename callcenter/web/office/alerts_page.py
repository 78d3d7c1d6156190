"""``/alerts``: 预警 — the bell's list; acknowledge (stops reminders) and close, with who and when.

``/api/alerts/unread`` feeds the bell in the top bar (static/bell.js polls it)
and the dashboard's list of tickets waiting for 签收, so both change without a reload.
"""
from __future__ import annotations

from aiohttp import web

from ...alerts.messages import RULE_LABELS, STATE_LABELS
from ...db import alerts as repo
from ..core import keys
from ..core.access import ALL_STAFF, current_user, require_role
from ..core.plain import plain
from ..core.path_params import path_id
from ..core.render import NavItem, flash, render

routes = web.RouteTableDef()
NAV = [NavItem("预警", "alerts")]
#: Newest tickets waiting for 签收 sent to the dashboard with each bell poll.
NEWEST_SHOWN = 10
_ALERT_ID = {"name": "alert_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
OPENAPI_PATHS = {
    "/api/alerts": {"get": {
        "summary": "预警列表 (state=new,acknowledged,closed 可多选, 默认 new)",
        "parameters": [{"name": "state", "in": "query", "schema": {"type": "string", "default": "new"}}],
        "responses": {"200": {"description": "预警 (规则、标题、内容、工单、状态及确认/关闭人和时间)"},
                      "400": {"description": "state 无效"}}}},
    "/api/alerts/unread": {"get": {
        "summary": "未确认预警数, 以及最新的待签收工单 (铃铛与首页轮询)",
        "responses": {"200": {"description": "unread, awaiting_sign"}}}},
    "/api/alerts/{alert_id}/ack": {"post": {
        "summary": "确认预警 (不再提醒)", "parameters": [_ALERT_ID],
        "responses": {"200": {"description": "已确认"}, "409": {"description": "已确认或已关闭"},
                      "404": {"description": "编号无效"}}}},
}


@routes.get("/alerts", name="alerts")
@require_role(*ALL_STAFF)
async def alerts_page(request: web.Request) -> web.Response:
    show_closed = request.query.get("closed") == "1"
    async with request.app[keys.DB].pool.acquire() as conn:
        items = await repo.alert_list(conn, ("new", "acknowledged", "closed") if show_closed else ("new", "acknowledged"))
    return await render("office/alerts/list.html", request, {
        "items": items, "rules": RULE_LABELS, "states": STATE_LABELS, "show_closed": show_closed})


async def _change(request: web.Request, change) -> bool:
    """Acknowledge or close as the signed-in user; False if the alert was already past that state."""
    alert_id = path_id(request, "alert_id")
    async with request.app[keys.DB].pool.acquire() as conn:
        return await change(conn, alert_id, current_user(request).username)


#: action in the path → (state change, message when done, message when the alert was already past it)
CHANGES = {"ack": (repo.acknowledge, "已确认, 不再提醒", "该预警已确认或已关闭"),
           "close": (repo.close, "已关闭", "该预警已关闭")}


@routes.post("/alerts/{alert_id:[^/]+}/{action:[^/]+}", name="alert_change")
@require_role(*ALL_STAFF)
async def alert_change(request: web.Request) -> web.Response:
    if request.match_info["action"] not in CHANGES:
        raise web.HTTPNotFound()
    change, done, refused = CHANGES[request.match_info["action"]]
    ok = await _change(request, change)
    await flash(request, "ok" if ok else "error", done if ok else refused)
    raise web.HTTPSeeOther("/alerts")


@routes.get("/api/alerts/unread", name="api_alerts_unread")
@require_role(*ALL_STAFF)
async def api_unread(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        count = await repo.unread_count(conn)
        newest = await repo.awaiting_sign(conn, NEWEST_SHOWN)
    return web.json_response({"unread": count, "awaiting_sign": [plain(r) for r in newest]})


@routes.get("/api/alerts", name="api_alerts")
@require_role(*ALL_STAFF)
async def api_alerts(request: web.Request) -> web.Response:
    states = [s for s in request.query.get("state", "new").split(",") if s]
    if not states or set(states) - set(STATE_LABELS):
        return web.json_response({"error": "bad_request", "message": f"state 应为 {', '.join(STATE_LABELS)}"},
                                 status=400)
    async with request.app[keys.DB].pool.acquire() as conn:
        items = await repo.alert_list(conn, states)
    return web.json_response({"items": [plain(i) for i in items]})


@routes.post("/api/alerts/{alert_id:[^/]+}/ack", name="api_alert_ack")
@require_role(*ALL_STAFF)
async def api_alert_ack(request: web.Request) -> web.Response:
    ok = await _change(request, repo.acknowledge)
    return web.json_response({"acknowledged": ok}, status=200 if ok else 409)
