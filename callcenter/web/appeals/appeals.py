"""考核申诉 pages: the daily candidate list, appeal records, evidence uploads, the .docx statement.

Supervisors and admins only: an appeal speaks for the street to the 分中心.
Every refusal (illegal step, bad upload) comes back as a message on the page,
never a 500; uploads are checked by content, not by the name the browser sends.
"""
from __future__ import annotations

import asyncio
from datetime import date, datetime
from urllib.parse import quote

from aiohttp import web

from ...appeals_templates.docx import statement_docx
from ...db import appeals as repo
from ...db import scoring as scoring_repo
from ...db import tickets as tickets_repo
from ...ledger import appeals as ap
from ...ledger.timezone import OFFICE_TZ
from ...scoring.periods import day_window, period_containing, report_day
from ...scoring.rates import display
from ..core import keys
from ..core.access import MANAGERS, current_user, require_role
from ..core.labels import ATTEMPT_STATE_NAMES as STATE_LABELS
from ..core.limits import MAX_UPLOAD
from ..core.path_params import path_id
from ..core.refusals import refusals_shown
from ..core.render import NavItem, render, redirect_with_flash
from ..core.uploads import UploadRejected, read_upload, sniff_upload

routes = web.RouteTableDef()
NAV = [NavItem("考核申诉", "appeals")]
MAX_TEXT = 10_000

#: Appeal history actions as the page names them.
EVENT_LABELS = {"create": "建立申诉", "edit": "修改材料", "evidence": "添加证据", **{a.value: a.label for a in ap.Action}}


def _text(form, name: str, limit: int = MAX_TEXT) -> str:
    value = str(form.get(name, "")).strip()
    if len(value) > limit:
        raise ap.AppealError(f"内容过长 (最多 {limit} 字)")
    return value


def _today() -> datetime:
    return datetime.now(OFFICE_TZ)


def _refusals_shown(request: web.Request, back: str, prefix: str):
    """An unknown appeal is a 404; a refused step or upload a message on the page."""
    return refusals_shown(request, back, prefix, missing=repo.AppealNotFound, refused=(ap.AppealError, UploadRejected))


# --- the daily candidate list -----------------------------------------------------------------

@routes.get("/appeals", name="appeals")
@require_role(*MANAGERS)
async def appeal_index(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        cal = await scoring_repo.load_calendar(conn)
        raw = request.query.get("day", "")
        try:
            day = date.fromisoformat(raw) if raw else report_day(_today(), cal)
        except ValueError:
            raise web.HTTPBadRequest(text=f"日期格式无效: {raw[:20]} (应为 YYYY-MM-DD)") from None
        candidates = await repo.list_candidates(conn, day)
        days = await repo.candidate_days(conn)
        appeals = await repo.list_appeals(conn)
        rules = await repo.load_rules(conn)
        now = _today()
        current = period_containing(now, cal)
        points = await repo.appeal_points(conn, current.start, current.end,
                                          await scoring_repo.rule_set_for(conn, current), as_of=now)
    return await render("appeals/index.html", request, {
        "day": day, "candidates": candidates, "days": days, "appeals": appeals, "rule_labels": ap.RULE_LABELS,
        "state_label": lambda s: ap.parse_state(s).label,
        "deadline": lambda due: ap.deadline_view(due, now, rules) if due else None,
        "window": day_window(day, cal),
        "period": current, "points": points, "shown": lambda x: "—" if x is None else display(x, percent=False),
    })


@routes.post("/appeals/candidates/run", name="appeal_candidates_run")
@require_role(*MANAGERS)
async def run_candidates(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    raw = str(form.get("day", ""))
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"日期格式无效: {raw[:20]}") from None
    async with request.app[keys.DB].pool.acquire() as conn:
        start, end = day_window(day, await scoring_repo.load_calendar(conn))
        added = await repo.generate_candidates(conn, day, start, end)
    await redirect_with_flash(request, f"/appeals?day={day.isoformat()}", "ok", f"已生成 {day} 的候选清单: 新增 {added} 条")


@routes.post("/appeals/candidates/{candidate_id:[^/]+}/decide", name="appeal_candidate_decide")
@require_role(*MANAGERS)
async def decide_candidate(request: web.Request) -> web.StreamResponse:
    candidate_id = path_id(request, "candidate_id")
    form = await request.post()
    user = current_user(request)
    back = f"/appeals?day={quote(str(form.get('day', '')))}"
    decision = str(form.get("decision", ""))
    async with _refusals_shown(request, back, "未处理"):
        if decision not in ("confirm", "dismiss"):
            raise ap.AppealError("请选择确认或排除")
        note = _text(form, "note", 2000)
        async with request.app[keys.DB].pool.acquire() as conn:
            appeal_id = await repo.decide_candidate(conn, candidate_id, confirm=decision == "confirm",
                                                    actor=user.username, note=note)
    if appeal_id is None:
        await redirect_with_flash(request, back, "ok", "已排除该候选")
    await redirect_with_flash(request, f"/appeals/{appeal_id}", "ok", "已确认, 申诉草稿已建立")


@routes.post("/appeals/new", name="appeal_new")
@require_role(*MANAGERS)
async def new_appeal(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        ticket_no = _text(form, "ticket_no", 64)
        async with request.app[keys.DB].pool.acquire() as conn:
            ticket_id = await tickets_repo.ticket_id_by_no(conn, ticket_no)
            appeal_id = await repo.create_appeal(conn, ticket_id, actor=current_user(request).username)
    except (tickets_repo.TicketNotFound, ap.AppealError) as exc:
        await redirect_with_flash(request, "/appeals", "error", f"未建立申诉: {exc}")
    raise web.HTTPSeeOther(f"/appeals/{appeal_id}")


# --- one appeal ---------------------------------------------------------------------------

@routes.get("/appeals/{appeal_id:[^/]+}", name="appeal")
@require_role(*MANAGERS)
async def appeal_page(request: web.Request) -> web.Response:
    appeal_id = path_id(request, "appeal_id")
    async with request.app[keys.DB].pool.acquire() as conn:
        try:
            d = await repo.dossier(conn, appeal_id)
        except repo.AppealNotFound:
            raise web.HTTPNotFound(text=f"申诉 {appeal_id} 不存在") from None
        events = await repo.appeal_history(conn, appeal_id)
        rules = await repo.load_rules(conn)
    state = ap.parse_state(d.appeal["state"])
    linked = {str(e["attempt_id"]) for e in d.evidence if e["attempt_id"]}
    return await render("appeals/detail.html", request, {
        "a": d.appeal, "t": d.ticket, "state": state, "grounds": ap.GROUNDS, "evidence": d.evidence,
        "attempts": [x for x in d.attempts if str(x["id"]) not in linked], "events": events,
        "actions": [(a, ap.RULES[a].needs_reason) for a in ap.allowed_actions(state)],
        "deadline": ap.deadline_view(d.appeal["due_at"], _today(), rules)
        if d.appeal["due_at"] and state is ap.State.DRAFT else None,
        "state_label": lambda s: ap.parse_state(s).label if s else "",
        "event_label": lambda a: EVENT_LABELS.get(a, a),
        "max_upload": MAX_UPLOAD,
        "state_labels": STATE_LABELS,
    })


async def _back_with(request: web.Request, appeal_id: int, kind: str, message: str) -> web.StreamResponse:
    await redirect_with_flash(request, f"/appeals/{appeal_id}", kind, message)


@routes.post("/appeals/{appeal_id:[^/]+}/edit", name="appeal_edit")
@require_role(*MANAGERS)
async def edit_appeal(request: web.Request) -> web.StreamResponse:
    appeal_id = path_id(request, "appeal_id")
    form = await request.post()
    async with _refusals_shown(request, f"/appeals/{appeal_id}", "未保存"):
        async with request.app[keys.DB].pool.acquire() as conn:
            await repo.update_draft(conn, appeal_id, grounds=_text(form, "grounds", 20),
                                    statement=_text(form, "statement"), handling_record=_text(form, "handling_record"),
                                    actor=current_user(request).username)
    return await _back_with(request, appeal_id, "ok", "申诉材料已保存")


@routes.post("/appeals/{appeal_id:[^/]+}/step", name="appeal_step")
@require_role(*MANAGERS)
async def appeal_step(request: web.Request) -> web.StreamResponse:
    appeal_id = path_id(request, "appeal_id")
    form = await request.post()
    async with _refusals_shown(request, f"/appeals/{appeal_id}", "操作未执行"):
        action = ap.parse_action(str(form.get("action", "")))
        async with request.app[keys.DB].pool.acquire() as conn:
            state = await repo.apply_action(conn, appeal_id, action, actor=current_user(request).username,
                                            reason=_text(form, "reason", 2000))
    return await _back_with(request, appeal_id, "ok", f"已{action.label}: 现为{state.label}")


@routes.post("/appeals/{appeal_id:[^/]+}/evidence", name="appeal_evidence")
@require_role(*MANAGERS)
async def add_evidence(request: web.Request) -> web.StreamResponse:
    appeal_id = path_id(request, "appeal_id")
    form = await request.post()
    user = current_user(request)
    async with _refusals_shown(request, f"/appeals/{appeal_id}", "未添加证据"):
        async with request.app[keys.DB].pool.acquire() as conn:
            await repo.get_appeal(conn, appeal_id)
            attempt = str(form.get("attempt_id", "")).strip()
            if attempt:
                await repo.link_recording(conn, appeal_id, attempt, actor=user.username, note=_text(form, "note", 500))
                return await _back_with(request, appeal_id, "ok", "已关联回访录音")
            upload = await read_upload(form, "file")
            if upload is None:
                raise UploadRejected("请选择要上传的文件")
            name, data = upload
            kind = sniff_upload(data)
            sha = await asyncio.to_thread(repo.store_attachment, request.app[keys.SETTINGS].home, data)
            await repo.add_file_evidence(conn, appeal_id, sha256=sha, filename=name, content_type=kind, size=len(data),
                                         actor=user.username, note=_text(form, "note", 500))
    return await _back_with(request, appeal_id, "ok", f"已上传 {name}")


@routes.get("/appeals/{appeal_id:[^/]+}/evidence/{evidence_id:[^/]+}", name="appeal_evidence_file")
@require_role(*MANAGERS)
async def evidence_file(request: web.Request) -> web.StreamResponse:
    appeal_id, evidence_id = path_id(request, "appeal_id"), path_id(request, "evidence_id")
    async with request.app[keys.DB].pool.acquire() as conn:
        row = await repo.evidence_file(conn, appeal_id, evidence_id)
    if row is None:
        raise web.HTTPNotFound()
    path = repo.attachment_path(request.app[keys.SETTINGS].home, row["sha256"])
    if not path.is_file():
        raise web.HTTPNotFound(text="附件文件缺失")
    return web.Response(body=path.read_bytes(), content_type=row["content_type"], headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row['filename'])}",
        "Cache-Control": "no-store"})


@routes.get("/appeals/{appeal_id:[^/]+}/statement.docx", name="appeal_docx")
@require_role(*MANAGERS)
async def statement(request: web.Request) -> web.StreamResponse:
    appeal_id = path_id(request, "appeal_id")
    async with request.app[keys.DB].pool.acquire() as conn:
        try:
            d = await repo.dossier(conn, appeal_id)
        except repo.AppealNotFound:
            raise web.HTTPNotFound() from None
        rules = await repo.load_rules(conn)
    data = statement_docx(d, street=rules.street_name, today=_today().date())
    name = quote(f"申诉说明-{d.ticket['ticket_no']}.docx")
    return web.Response(body=data, headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Content-Disposition": f"attachment; filename*=UTF-8''{name}", "Cache-Control": "no-store"})
