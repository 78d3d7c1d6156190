"""``/imports``: upload the city's ticket file by hand (admin, supervisor); ``POST /api/imports`` (token).

Both go the inbox's way (callcenter.intake.take): the same importer, all or
nothing, imported once, filed under the inbox's ``done/`` or ``rejected/``
with a report, and listed here with who brought it in.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from aiohttp import web

from ...db import intake as intake_repo
from ...intake.take import REJECTED, SUFFIXES, IntakeResult, take_file
from ..core import keys
from ..core.access import MANAGERS, current_user, require_role
from ..core.uploads import read_upload
from ..core.limits import MAX_UPLOAD
from ..core.render import NavItem, flash, render, redirect_with_flash

routes = web.RouteTableDef()
NAV = [NavItem("工单导入", "imports")]
_RESULT = {"type": "object", "properties": {
    "file": {"type": "string"}, "outcome": {"type": "string", "enum": ["done", "rejected"]},
    "message": {"type": "string"}, "rows": {"type": "integer"}, "inserted": {"type": "integer"},
    "updated": {"type": "integer"}, "unchanged": {"type": "integer"},
    "duplicate": {"type": "boolean", "description": "内容与已导入的文件相同, 未重复导入"},
    "errors": {"type": "array", "items": {"type": "object", "properties": {
        "line": {"type": "integer"}, "column": {"type": "string"}, "reason": {"type": "string"},
        "value": {"type": "string"}}}}}}
OPENAPI_PATHS = {"/api/imports": {"post": {
    "summary": "导入市热线工单文件 (.csv/.xlsx; 全部正确才导入; 同一内容只导入一次; 主管、管理员)",
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}},
    "responses": {"200": {"description": "已导入", "content": {"application/json": {"schema": _RESULT}}},
                  "422": {"description": "已拒收, 列出每一处错误", "content": {"application/json": {"schema": _RESULT}}},
                  "400": {"description": "不是可用的上传"}, "401": {"description": "未认证"},
                  "403": {"description": "无权限"}}}}}


async def _take_upload(request: web.Request, name: str, data: bytes, source: str) -> IntakeResult | str:
    """Write the upload beside the inbox and take it in; a string is a reason to refuse it outright."""
    if not data:
        return "文件是空的"
    if len(data) > MAX_UPLOAD:
        return f"文件过大, 最大 {MAX_UPLOAD // 1024 // 1024} MB"
    if Path(name).suffix.lower() not in SUFFIXES:
        return "只接收 .csv 或 .xlsx 文件"
    inbox = request.app[keys.SETTINGS].inbox
    staging = inbox / ".uploads"
    staging.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=staging, suffix=Path(name).suffix.lower(), delete=False) as f:
        f.write(data)
    return await take_file(request.app[keys.DB].pool, Path(f.name), inbox, name=name, source=source,
                           actor=current_user(request).username)


@routes.get("/imports", name="imports")
@require_role(*MANAGERS)
async def imports_page(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        recent = await intake_repo.recent(conn)
    return await render("office/intake/list.html", request, {
        "recent": recent, "inbox": str(request.app[keys.SETTINGS].inbox),
        "max_mb": MAX_UPLOAD // 1024 // 1024})


@routes.post("/imports", name="imports_upload")
@require_role(*MANAGERS)
async def imports_upload(request: web.Request) -> web.Response:
    upload = await read_upload(await request.post(), "file")
    if upload is None:
        await redirect_with_flash(request, "/imports", "error", "请选择要导入的文件")
    result = await _take_upload(request, *upload, source="web")
    if isinstance(result, str):
        await flash(request, "error", result)
    elif result.outcome == REJECTED:
        shown = "；".join(f"第 {e['line']} 行 {e['column']}: {e['reason']}" for e in result.errors[:5])
        await flash(request, "error", f"{result.file_name} 未导入: {result.message}" + (f"。{shown}" if shown else ""))
    else:
        await flash(request, "ok", f"{result.file_name}: {result.message}, 新增 {result.inserted}, 更新 {result.updated}")
    raise web.HTTPSeeOther("/imports")


@routes.post("/api/imports", name="api_imports")
@require_role(*MANAGERS)
async def api_imports(request: web.Request) -> web.Response:
    """multipart/form-data with a ``file`` field; 200 imported, 422 rejected (with every row error), 400 unusable."""
    if not request.content_type.startswith("multipart/"):
        return web.json_response({"error": "bad_request", "message": "请以 multipart/form-data 上传 file 字段"},
                                 status=400)
    upload = await read_upload(await request.post(), "file")
    if upload is None:
        return web.json_response({"error": "bad_request", "message": "缺少 file 字段"}, status=400)
    result = await _take_upload(request, *upload, source="api")
    if isinstance(result, str):
        return web.json_response({"error": "bad_request", "message": result}, status=400)
    return web.json_response(result.as_json(), status=422 if result.outcome == REJECTED else 200)
