"""重复诉求人: detection rules, profiles (tickets, calls, counseling, meetings), 见面台账, follow-ups, xlsx export.

Profiles show full numbers to supervisors and admins only; agents see them
masked like everywhere else.  A meeting and its attachments are stored in
one transaction (the whole request body is capped by the app at 1 MB).
"""
from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import quote, unquote

from aiohttp import web

from ...db import campaigns as campaigns_repo
from ...db import hotline as repo
from ...db import users as users_repo
from ...db.ticket_queries import record_audit
from ...hotline.service import caller_phone
from ...inputs import MAX_ID, MAX_INT32, bounded_int, in_bounds
from ...ledger.timezone import OFFICE_TZ, as_local
from ...transfer.writer import TableWriter
from ..core import keys
from ..core.access import ALL_STAFF, MANAGERS, current_user, require_role
from ..core.path_params import path_id
from ..core.render import NavItem, flash, render

routes = web.RouteTableDef()
NAV = [NavItem("重复诉求人", "repeat")]

LEDGER_HEADERS = ("姓名", "联系电话", "住址", "认定依据", "工单数", "见面日期", "见面地点", "社区参与人员",
                  "沟通内容", "约定事项", "附件数")
RULE_LABELS = {"phone": "同一号码", "address_category": "同一地址 + 同一类别", "manual": "人工认定"}
MAX_TEXT = 4000


def _to_profile(request: web.Request, profile_id: int) -> web.HTTPFound:
    """Every action on a profile ends back on its page."""
    return web.HTTPFound(request.app.router["repeat_profile"].url_for(profile_id=str(profile_id)))


def _now() -> datetime:
    return datetime.now(timezone.utc)


@routes.get("/repeat", name="repeat")
@require_role(*ALL_STAFF)
async def profile_list(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        people = await repo.profiles(conn)
        rules = await repo.rules(conn)
    return await render("hotline/repeat_list.html", request, {
        "people": people, "rules": rules, "rule_labels": RULE_LABELS,
        "full": current_user(request).role in MANAGERS})


@routes.post("/repeat/rules", name="repeat_rules")
@require_role(*MANAGERS)
async def save_rules(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        async with request.app[keys.DB].pool.acquire() as conn:
            async with conn.transaction():
                for kind in repo.RULE_KINDS:
                    await repo.set_rule(conn, kind, int(form.get(f"{kind}_min", "")), int(form.get(f"{kind}_days", "")),
                                        form.get(f"{kind}_enabled") == "on")
                await record_audit(conn, current_user(request).username, "repeat_rules", object_type="repeat_rules",
                                   detail={k: v for k, v in form.items() if k != "csrf_token"})
    except ValueError as exc:          # int() or the repository's HotlineInputError: nothing was saved
        await flash(request, "error", f"规则未保存: {exc}")
    else:
        await flash(request, "ok", "认定规则已保存")
    raise web.HTTPFound(request.app.router["repeat"].url_for())


@routes.post("/repeat/detect", name="repeat_detect")
@require_role(*MANAGERS)
async def detect(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        added = await repo.refresh_profiles(conn, _now())
    await flash(request, "ok", f"按规则新认定 {added} 人")
    raise web.HTTPFound(request.app.router["repeat"].url_for())


@routes.post("/repeat/profiles", name="repeat_add")
@require_role(*MANAGERS)
async def add_profile(request: web.Request) -> web.Response:
    form = await request.post()
    phone = caller_phone(_text(form, "phone"))
    if not phone:
        await flash(request, "error", "请填写电话号码")
        raise web.HTTPFound(request.app.router["repeat"].url_for())
    async with request.app[keys.DB].pool.acquire() as conn:
        profile_id = await repo.add_profile(conn, phone, _text(form, "name"), _text(form, "note"))
    raise _to_profile(request, profile_id)


def ledger_cells(row) -> list:
    return [row["name"], row["phone"], row["address"], RULE_LABELS.get(row["flagged_by"], row["flagged_by"]),
            row["tickets"], row["met_on"], row["place"], row["participants"], row["discussion"], row["follow_up"],
            row["files"]]


@routes.get("/repeat/ledger.xlsx", name="repeat_ledger")
@require_role(*MANAGERS)
async def ledger_xlsx(request: web.Request) -> web.Response:
    """The 见面台账 in the street's upward-report columns (full numbers: managers only, audited)."""
    async with request.app[keys.DB].pool.acquire() as conn:
        rows = await repo.ledger_rows(conn)
        await record_audit(conn, current_user(request).username, "export_repeat_ledger",
                           object_type="repeat_meetings", detail={"rows": len(rows)})
    with tempfile.TemporaryDirectory(prefix="cc-repeat-") as tmp:
        path = Path(tmp) / "ledger.xlsx"

        def write() -> bytes:
            with TableWriter(path, LEDGER_HEADERS, "xlsx") as writer:
                writer.write_all(ledger_cells(r) for r in rows)
            return path.read_bytes()
        body = await asyncio.to_thread(write)
    stamp = datetime.now(OFFICE_TZ).strftime("%Y%m%d")
    return web.Response(body=body, headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Content-Disposition": f'attachment; filename="repeat-ledger-{stamp}.xlsx"', "Cache-Control": "no-store"})


@routes.get("/repeat/{profile_id:[^/]+}", name="repeat_profile")
@require_role(*ALL_STAFF)
async def profile_page(request: web.Request) -> web.Response:
    profile_id = path_id(request, "profile_id")
    async with request.app[keys.DB].pool.acquire() as conn:
        person = await repo.profile(conn, profile_id)
        if person is None:
            raise web.HTTPNotFound()
        context = {
            "person": person,
            "tickets": await repo.tickets_of(conn, person["phone"]),
            "calls": await repo.calls_of(conn, person["phone"]),
            "records": await repo.records_of(conn, person["phone"]),
            "meetings": await repo.meetings_of(conn, profile_id),
            "followups": await repo.followups_of(conn, profile_id),
            "campaigns": [c for c in await campaigns_repo.list_campaigns(conn)],
            "agents": [u for u in await users_repo.list_users(conn) if u["active"]],
        }
    for m in context["meetings"]:
        m["files"] = json.loads(m["files"])
    context.update(rule_labels=RULE_LABELS, full=current_user(request).role in MANAGERS,
                   today=datetime.now(OFFICE_TZ).date().isoformat())
    return await render("hotline/repeat_profile.html", request, context)


def _text(form, name: str) -> str:
    value = form.get(name, "")
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""


@routes.post("/repeat/{profile_id:[^/]+}/meetings", name="repeat_meeting")
@require_role(*ALL_STAFF)
async def add_meeting(request: web.Request) -> web.Response:
    profile_id = path_id(request, "profile_id")
    form = await request.post()
    back = _to_profile(request, profile_id)
    try:
        met_on = date.fromisoformat(_text(form, "met_on"))
    except ValueError:
        await flash(request, "error", "见面日期格式应为 YYYY-MM-DD")
        raise back
    # aiohttp's own client percent-encodes non-ASCII names; browsers send them raw: accept both.
    files = [repo.Attachment(Path(unquote(f.filename)).name or "附件", f.content_type or "application/octet-stream",
                             f.file.read())
             for f in form.getall("attachments", []) if isinstance(f, web.FileField) and f.filename]
    try:
        async with request.app[keys.DB].pool.acquire() as conn:
            await repo.add_meeting(conn, profile_id, met_on=met_on, place=_text(form, "place"),
                                   participants=_text(form, "participants"), discussion=_text(form, "discussion"),
                                   follow_up=_text(form, "follow_up"), created_by=current_user(request).user_id,
                                   attachments=files)
    except repo.HotlineInputError as exc:
        await flash(request, "error", str(exc))
        raise back
    await flash(request, "ok", "见面记录已保存")
    raise back


@routes.get("/repeat/attachments/{attachment_id:[^/]+}", name="repeat_attachment")
@require_role(*ALL_STAFF)
async def attachment(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        found = await repo.attachment(conn, path_id(request, "attachment_id"))
    if found is None:
        raise web.HTTPNotFound()
    return web.Response(body=found.data, content_type="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.filename)}", "Cache-Control": "no-store"})


@routes.post("/repeat/{profile_id:[^/]+}/followups", name="repeat_followup")
@require_role(*MANAGERS)
async def schedule(request: web.Request) -> web.Response:
    profile_id = path_id(request, "profile_id")
    form = await request.post()
    back = _to_profile(request, profile_id)
    try:
        due = as_local(datetime.fromisoformat(_text(form, "due_at")))
        if not in_bounds(due):
            raise ValueError("回访时间超出范围")
        target = _text(form, "target")            # "campaign:<id>" or "agent:<user id>"
        via, _, raw_id = target.partition(":")
        target_id = bounded_int(raw_id, "回访对象", high=MAX_INT32 if via == "agent" else MAX_ID)
        async with request.app[keys.DB].pool.acquire() as conn:
            await repo.schedule_followup(
                conn, profile_id, due, via=via, created_by=current_user(request).user_id,
                campaign_id=target_id if via == "campaign" else None,
                agent_user_id=target_id if via == "agent" else None)
    except (ValueError, OverflowError) as exc:
        await flash(request, "error", f"回访未安排: {exc}")
        raise back
    await flash(request, "ok", "回访已安排")
    raise back
