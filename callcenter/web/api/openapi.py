"""The OpenAPI 3 description of /api, written by hand so it says what the district platform needs to know.

Other page areas add their own hand-written entries as ``OPENAPI_PATHS`` (same
shape as ``paths`` below).  Any /api route still undescribed gets a minimal
entry from its handler's docstring, marked ``x-generated``, so the document
never omits a route; tests/test_web2_api.py checks that every /api route of
the app appears here with its method.
"""
from __future__ import annotations

import inspect
from typing import Any

from aiohttp import web

_ERROR = {"description": "错误 (JSON: error, message)",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_TICKET_ID = {"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_FILTERS = [
    {"name": "status", "in": "query", "schema": {"type": "string"}, "description": "工单状态 (流转状态值)"},
    {"name": "department", "in": "query", "schema": {"type": "integer"}, "description": "承办科室 id"},
    {"name": "community", "in": "query", "schema": {"type": "integer"}, "description": "社区 id"},
    {"name": "category", "in": "query", "schema": {"type": "string"}, "description": "一级分类"},
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "来电日期起 (北京时间)"},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "来电日期止 (含)"},
    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}, "description": "关键词"},
    {"name": "after", "in": "query", "schema": {"type": "string"}, "description": "上一页返回的 next"},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
]


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": schema or {"type": "object"}}}}


def _responses(ok: dict[str, Any], *codes: int) -> dict[str, Any]:
    out = {"200": ok, "401": _ERROR, "403": _ERROR}
    out.update({str(code): _ERROR for code in codes})
    return out


def openapi_document(app: web.Application | None = None) -> dict[str, Any]:
    """The description; given the app, also every page area's OPENAPI_PATHS and any route left over."""
    document = _core()
    if app is not None:
        _add_modules(document["paths"])
        _add_undescribed(document["paths"], app)
    return document


def _add_modules(paths: dict[str, Any]) -> None:
    from ..app import PAGE_MODULES               # late: app imports the api module that imports this one
    for module in PAGE_MODULES:
        for path, operations in getattr(module, "OPENAPI_PATHS", {}).items():
            for method, operation in operations.items():
                paths.setdefault(path, {}).setdefault(method, operation)


def _add_undescribed(paths: dict[str, Any], app: web.Application) -> None:
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path") or ""
        if route.method == "HEAD" or not path.startswith("/api/"):
            continue
        method = route.method.lower()
        if method in paths.get(path, {}):
            continue
        doc = inspect.getdoc(route.handler) or route.name or path
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _path_params(path)]
        operation = {"summary": doc.splitlines()[0], "x-generated": True,
                     "responses": _responses(_ok("见说明"), 400, 404)}
        if params:
            operation["parameters"] = params
        paths.setdefault(path, {})[method] = operation


def _path_params(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def _core() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "接诉即办管理台 API", "version": "1",
                 "description": "工单台账、三率与回访活动的只读接口, 以及工单流转操作。"
                                "认证: Authorization: Bearer <令牌> (callcenter user token 用户名 生成), "
                                "或已登录会话 (会话的 POST 需带 X-CSRF-Token)。"},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/me": {"get": {"summary": "当前账号与 CSRF 令牌", "responses": _responses(_ok("账号"))}},
            "/api/tickets": {"get": {
                "summary": "工单列表 (按来电时间倒序, keyset 分页)", "parameters": _FILTERS,
                "responses": _responses(_ok("一页工单", {"$ref": "#/components/schemas/TicketPage"}), 400)}},
            "/api/tickets/{ticket_id}": {"get": {
                "summary": "工单详情: 全部字段、流转记录、期限、可执行的操作", "parameters": [_TICKET_ID],
                "responses": _responses(_ok("工单"), 404)}},
            "/api/tickets/{ticket_id}/step": {"post": {
                "summary": "执行一个流转操作 (签收/退回/派单/结案审核…)", "parameters": [_TICKET_ID],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Step"}}}},
                "responses": _responses(_ok("新状态"), 400, 404, 422)}},
            "/api/rates": {"get": {
                "summary": "考核月三率 (全口径与剔除后)",
                "parameters": [
                    {"name": "period", "in": "query", "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
                     "description": "考核月 YYYY-MM (默认本月)"},
                    {"name": "grouping", "in": "query",
                     "schema": {"type": "string", "enum": ["street", "department", "community", "category", "day"],
                                "default": "street"}}],
                "responses": _responses(_ok("三率"), 400)}},
            "/api/campaigns": {"get": {"summary": "回访活动及进度 (主管、管理员)",
                                       "responses": _responses(_ok("活动列表"))}},
            "/api/openapi.json": {"get": {"summary": "本描述", "responses": _responses(_ok("OpenAPI 3"))}},
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "cc_ 开头的 API 令牌"},
                "session": {"type": "apiKey", "in": "cookie", "name": "cc_session"},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"],
                          "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
                "TicketPage": {"type": "object", "properties": {
                    "items": {"type": "array", "items": {"type": "object"}},
                    "next": {"type": "string", "nullable": True, "description": "下一页的 after; 最后一页为 null"}}},
                "Step": {"type": "object", "required": ["action"], "properties": {
                    "action": {"type": "string", "description": "sign, return, dispatch, review_pass …"},
                    "reason": {"type": "string", "maxLength": 2000},
                    "unit_id": {"type": "integer", "description": "派单的承办单位"},
                    "new_deadline": {"type": "string", "description": "延期的新期限, 北京时间 YYYY-MM-DDTHH:MM"}}},
            },
        },
    }
