"""城市管理 / 网格 case pages (list, detail with flow steps, photos) and ``POST /api/urban-cases``.

Supervisors and admins only.  The JSON endpoint takes a bearer token (a
supervisor's or admin's; no CSRF needed) or a session with the X-CSRF-Token
header, as all of /api does (callcenter.web.core.api_auth); its payload goes through
the same fields as the import file, so a case is valid by the same rules
whichever way it arrives.
"""
from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web

from ...db import ticket_queries as queries
from ...db import urban as repo
from ...db.appeals import attachment_path, store_attachment
from ...inputs import InputError, parse_json
from ...ledger import ticket_record as tr
from ...ledger import urban as ub
from ...ledger.timezone import OFFICE_TZ
from ...transfer.importer import ImportRejected
from ...transfer.file_errors import FileRejected
from ...transfer.urban_import import import_urban_cases
from ..core import keys
from ..core.access import MANAGERS, current_user, require_role
from ..core.uploads import UploadRejected, clean_filename, sniff_upload
from ..core.params import office_datetime, unit_id
from ..core.path_params import path_id
from ..core.refusals import refusals_shown
from ..core.render import NavItem, render, redirect_with_flash

routes = web.RouteTableDef()
NAV = [NavItem("城市管理", "urban")]
PHOTO_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
MAX_PHOTOS = 6
_JSON_ERROR = {"description": "错误", "content": {"application/json": {"schema": {"type": "object"}}}}
#: Described in /api/openapi.json (callcenter.web.api.openapi collects it).
OPENAPI_PATHS = {"/api/urban-cases": {"post": {
    "summary": "登记一件城市管理 / 网格案件 (待审核)",
    "description": "字段与 `callcenter import urban` 相同; 键可用列名或中文表头。时间无时区按北京时间。",
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["case_no", "case_type", "reported_at"],
        "properties": {f.column: {"type": "string", "description": f.header} for f in ub.FIELDS}}}}},
    "responses": {"201": {"description": "已登记: id, case_no, state, url",
                          "content": {"application/json": {"schema": {"type": "object"}}}},
                  "400": _JSON_ERROR, "401": _JSON_ERROR, "403": _JSON_ERROR, "409": _JSON_ERROR,
                  "422": {"description": "字段错误: problems[] (field, reason, value)",
                          "content": {"application/json": {"schema": {"type": "object"}}}}}}}}
#: Audit trail actions as the page names them.
EVENT_LABELS = {"create": "登记", **{a.value: a.label for a in ub.Action}}
#: Cases due within this are highlighted on the list.
DUE_SOON = timedelta(hours=24)


def _now() -> datetime:
    return datetime.now(OFFICE_TZ)


#: The 新建案件 form's fields (the import file's, minus none): column, header, required.
FORM_FIELDS = [(f.column, f.header, f.required) for f in ub.FIELDS]
UPLOAD_SUFFIXES = (".xlsx", ".csv")


@routes.get("/urban", name="urban")
@require_role(*MANAGERS)
async def case_list(request: web.Request, *, form: dict | None = None, status: int = 200) -> web.Response:
    """The list; ``form`` carries a refused 新建案件 or upload back with what was typed and every error."""
    state = request.query.get("state") or None
    if state is not None:
        try:
            ub.parse_state(state)
        except ub.UrbanFlowError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
    overdue = request.query.get("overdue") == "1"
    now = _now()
    async with request.app[keys.DB].pool.acquire() as conn:
        rows = await repo.list_cases(conn, state=state, overdue_at=now if overdue else None)
    return await render("urban/list.html", request, {
        "rows": rows, "states": list(ub.State), "state": state, "overdue": overdue,
        "is_overdue": lambda r: ub.is_overdue(r["state"], r["deadline_at"], now),
        "due_soon": lambda r: ub.due_soon(r["state"], r["deadline_at"], now, DUE_SOON),
        "state_label": lambda s: ub.parse_state(s).label,
        "form_fields": FORM_FIELDS, "form": form or {"values": {}, "errors": {}, "upload_errors": [],
                                                      "upload_message": ""},
    }, status=status)


@routes.post("/urban/new", name="urban_new")
@require_role(*MANAGERS)
async def case_new(request: web.Request) -> web.StreamResponse:
    """新建案件 from the page: the same fields and rules as the import file and the API."""
    posted = await request.post()
    values = {column: str(posted.get(column, "")).strip()[:4000] for column, _, _ in FORM_FIELDS}
    values["source"] = values["source"] or "grid"
    parsed = ub.parse_mapping({k: v for k, v in values.items() if v}, now=_now()) \
        if all(values[c] for c, _, required in FORM_FIELDS if required) else None
    errors: dict[str, str] = {}
    if parsed is None:
        errors = {c: "必填" for c, _, required in FORM_FIELDS if required and not values[c]}
    elif isinstance(parsed, list):
        by_header = {h: c for c, h, _ in FORM_FIELDS}
        errors = {by_header.get(e.column, e.column): e.reason for e in parsed}
    else:
        try:
            async with request.app[keys.DB].pool.acquire() as conn:
                case_id = await repo.create_case(conn, parsed, actor=current_user(request).username)
        except repo.CaseExists as exc:
            errors = {"case_no": str(exc)}
    if errors:
        return await case_list(request, form={"values": values, "errors": errors, "upload_errors": [],
                                              "upload_message": ""}, status=400)
    await redirect_with_flash(request, f"/urban/{case_id}", "ok", f"已登记案件 {parsed.case_no}（待审核）")


@routes.post("/urban/import", name="urban_import")
@require_role(*MANAGERS)
async def case_import(request: web.Request) -> web.StreamResponse:
    """An xlsx/csv from the platform, through the same importer as ``callcenter import urban`` (all or nothing)."""
    posted = await request.post()
    item = posted.get("file")
    message, row_errors = "", []
    suffix = Path(getattr(item, "filename", "") or "").suffix.lower()
    if item is None or isinstance(item, str) or not getattr(item, "filename", ""):
        message = "请选择要导入的文件"
    elif suffix not in UPLOAD_SUFFIXES:
        message = "只接受 .xlsx 或 .csv 文件"
    else:
        with tempfile.TemporaryDirectory(prefix="urban-import-") as folder:
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(item.file.read())
            try:
                report = await import_urban_cases(request.app[keys.DB].pool, path,
                                                  actor=current_user(request).username)
            except ImportRejected as exc:
                message, row_errors = f"未导入: {exc}", exc.errors
            except FileRejected as exc:
                message = f"未导入: 文件无法读取（{str(exc).replace(path.name, clean_filename(item.filename))}）"
    if message:
        return await case_list(request, form={"values": {}, "errors": {}, "upload_errors": row_errors,
                                              "upload_message": message}, status=400)
    await redirect_with_flash(request, "/urban", "ok",
                              f"已导入 {report.inserted} 件新案件（{report.existing} 件已存在, 未改动）")


@routes.get("/urban/{case_id:[^/]+}", name="urban_case")
@require_role(*MANAGERS)
async def case_detail(request: web.Request) -> web.Response:
    case_id = path_id(request, "case_id")
    async with request.app[keys.DB].pool.acquire() as conn:
        try:
            case = await repo.get_case(conn, case_id)
        except repo.CaseNotFound:
            raise web.HTTPNotFound(text=f"案件 {case_id} 不存在") from None
        events = await repo.history(conn, case_id)
        photos = await repo.photos(conn, case_id)
        units = await queries.active_units(conn)
    state = ub.parse_state(case["state"])
    now = _now()
    return await render("urban/detail.html", request, {
        "c": case, "state": state, "events": events, "photos": photos, "units": units,
        "actions": [(a, ub.RULES[a]) for a in ub.allowed_actions(state)],
        "overdue": ub.is_overdue(state, case["deadline_at"], now),
        "state_label": lambda s: ub.parse_state(s).label if s else "",
        "action_label": lambda a: EVENT_LABELS.get(a, a),
        "sources": ub.SOURCES, "max_photos": MAX_PHOTOS,
    })


async def _photos(request: web.Request, form) -> list[repo.Photo]:
    items = [f for f in form.getall("photos", []) if not isinstance(f, str) and getattr(f, "filename", "")]
    if len(items) > MAX_PHOTOS:
        raise UploadRejected(f"一次最多上传 {MAX_PHOTOS} 张照片")
    photos = []
    for item in items:
        data = item.file.read()
        kind = sniff_upload(data, PHOTO_TYPES)
        sha = await asyncio.to_thread(store_attachment, request.app[keys.SETTINGS].home, data)
        photos.append(repo.Photo(sha, clean_filename(item.filename), kind, len(data)))
    return photos


@routes.post("/urban/{case_id:[^/]+}/step", name="urban_step")
@require_role(*MANAGERS)
async def case_step(request: web.Request) -> web.StreamResponse:
    case_id = path_id(request, "case_id")
    form = await request.post()
    back = f"/urban/{case_id}"
    async with refusals_shown(request, back, "操作未执行", missing=repo.CaseNotFound,
                              refused=(ub.UrbanFlowError, UploadRejected)):
        action = ub.parse_action(str(form.get("action", "")))
        rule = ub.RULES[action]
        text = lambda name: str(form.get(name, "")).strip()[:4000]  # noqa: E731
        step = ub.Step(action, reason=text("reason"),
                       unit_id=unit_id(text("unit_id"), ub.UrbanFlowError) if rule.needs_unit else None,
                       deadline=office_datetime(text("deadline"), ub.UrbanFlowError, "处置期限")
                       if rule.needs_deadline else None,
                       result=text("result") if rule.needs_result else "")
        photos = await _photos(request, form) if rule.needs_result else []
        async with request.app[keys.DB].pool.acquire() as conn:
            state = await repo.apply_step(conn, case_id, step, actor=current_user(request).username, photos=photos)
    await redirect_with_flash(request, back, "ok", f"已{action.label}: 现为{state.label}")


@routes.get("/urban/{case_id:[^/]+}/photos/{photo_id:[^/]+}", name="urban_photo")
@require_role(*MANAGERS)
async def case_photo(request: web.Request) -> web.StreamResponse:
    case_id, photo_id = path_id(request, "case_id"), path_id(request, "photo_id")
    async with request.app[keys.DB].pool.acquire() as conn:
        row = await repo.photo(conn, case_id, photo_id)
    if row is None:
        raise web.HTTPNotFound()
    path = attachment_path(request.app[keys.SETTINGS].home, row["sha256"])
    if not path.is_file():
        raise web.HTTPNotFound(text="照片文件缺失")
    return web.Response(body=path.read_bytes(), content_type=row["content_type"],
                        headers={"Cache-Control": "private, max-age=3600"})


@routes.post("/api/urban-cases", name="api_urban_create")
@require_role(*MANAGERS)
async def api_create(request: web.Request) -> web.Response:
    """JSON in, JSON out: 201 with the case id, 400/422 with every problem, 409 for a known 案件编号."""
    try:
        payload = parse_json(await request.read())
    except InputError as exc:
        return web.json_response({"error": "bad_json", "message": str(exc)}, status=400)
    if not isinstance(payload, dict):
        return web.json_response({"error": "bad_json", "message": "请求体须为 JSON 对象"}, status=400)
    try:
        parsed = ub.parse_mapping(payload, now=_now())
    except tr.HeaderError as exc:
        return web.json_response({"error": "invalid", "message": str(exc)}, status=422)
    if isinstance(parsed, list):
        return web.json_response({"error": "invalid", "problems": [
            {"field": e.column, "reason": e.reason, "value": e.value} for e in parsed]}, status=422)
    try:
        async with request.app[keys.DB].pool.acquire() as conn:
            named = any(k in payload for k in ("source", "案件来源"))
            case_id = await repo.create_case(conn, parsed, actor=current_user(request).username,
                                             source=None if named else "api")
    except repo.CaseExists as exc:
        return web.json_response({"error": "exists", "message": str(exc)}, status=409)
    return web.json_response({"id": case_id, "case_no": parsed.case_no, "state": ub.State.REVIEW.value,
                              "url": f"/urban/{case_id}"}, status=201)
