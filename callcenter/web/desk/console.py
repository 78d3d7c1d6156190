"""``/desk``: the agent's preview console — take the next ticket, read the script, record the call.

The page holds one ticket at a time under a lease (callcenter/db/desk.py);
the page's own script renews it while open, so an agent who walks away loses
the ticket after the lease and another agent gets it.  Phones are masked
unless the viewer is a supervisor or admin.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

from aiohttp import web

from ...db import desk as repo
from ...desk.dialing import call_status_label
from ...desk.escalation import REASONS
from ...desk.script_form import FormQuestion, form_questions
from ...inputs import InputError, clean_text
from ...ivr.loader import load_script, scripts_dir
from ...ledger.timezone import OFFICE_TZ
from ...scoring.answers import INTENT_LABELS
from ..core import keys
from ..core.access import ALL_STAFF, MANAGERS, current_user, require_role
from ..core.path_params import path_id
from ..core.render import NavItem, flash, redirect_with_flash, render
from ..tickets.ticket_view import action_label

routes = web.RouteTableDef()
NAV = [NavItem("人工回访", "desk")]
OUTCOME_CHOICES = (("answered-complete", "完成回访"), ("answered-partial", "部分回答"), ("busy", "占线"),
                   ("no-answer", "无人接听"), ("invalid-number", "空号/错号"), ("refused", "拒绝回访"),
                   ("callback-requested", "约定时间回拨"))
MAX_NOTE = 2000


@lru_cache(maxsize=1)
def script_form() -> tuple[FormQuestion, ...]:
    return tuple(form_questions(load_script(scripts_dir() / "callback_three_rates.toml")))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def local_input_time(raw: str, label: str) -> datetime:
    """A ``datetime-local`` field (Beijing wall time) as a UTC instant."""
    try:
        at = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InputError(f"{label}格式应为 YYYY-MM-DD HH:MM") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=OFFICE_TZ)
    return at.astimezone(timezone.utc)


def read_call_form(form) -> dict:
    """Outcome, answers and note from a posted form; refusals in Chinese."""
    outcome = str(form.get("outcome", ""))
    if outcome not in dict(OUTCOME_CHOICES):
        raise InputError("请选择回访结果")
    answers = {q.question: (str(form.get(q.question, "")) or None) for q in script_form()}
    note = clean_text(str(form.get("note", "")), "备注", max_len=MAX_NOTE)
    return {"outcome": outcome, "answers": answers, "note": note}


BACK = "/desk"            # where the page's forms return


@routes.get("/desk", name="desk")
@require_role(*ALL_STAFF)
async def console(request: web.Request) -> web.Response:
    user = current_user(request)
    async with request.app[keys.DB].pool.acquire() as conn:
        item = await repo.held_by(conn, user.username, _now())
        card = await repo.ticket_card(conn, item.ticket_id) if item else None
        waiting = await repo.waiting_count(conn)
    return await render("desk/console.html", request, {
        "item": item, "card": card, "waiting": waiting, "questions": script_form(),
        "outcomes": OUTCOME_CHOICES, "reasons": REASONS, "intent_labels": INTENT_LABELS,
        "action_label": action_label, "call_status_label": call_status_label,
        "full": user.role in MANAGERS})


@routes.post("/desk/claim", name="desk_claim")
@require_role(*ALL_STAFF)
async def claim(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        item = await repo.claim_next(conn, current_user(request).username, now=_now())
    if item is None:
        await flash(request, "error", "队列中没有待回访的工单")
    raise web.HTTPSeeOther(BACK)


@routes.post("/desk/{item_id:[^/]+}/renew", name="desk_renew")
@require_role(*ALL_STAFF)
async def renew(request: web.Request) -> web.Response:
    item_id = path_id(request, "item_id")
    agent = current_user(request).username
    async with request.app[keys.DB].pool.acquire() as conn:
        ok = await repo.renew(conn, item_id, agent, now=_now())
        item = await repo.held_by(conn, agent, _now()) if ok else None
    mine = item is not None and item.id == item_id
    return web.json_response({"held": ok, "call_live": mine and item.call_live,
                              "call_status": call_status_label(item.call_status) if mine else ""},
                             status=200 if ok else 409)


@routes.post("/desk/{item_id:[^/]+}/release", name="desk_release")
@require_role(*ALL_STAFF)
async def release(request: web.Request) -> web.Response:
    item_id = path_id(request, "item_id")
    async with request.app[keys.DB].pool.acquire() as conn:
        ok = await repo.release(conn, item_id, current_user(request).username)
    await redirect_with_flash(request, BACK, "ok" if ok else "error",
                              "已放回队列" if ok else "通话中或已不由您处理, 无法放回")


@routes.post("/desk/{item_id:[^/]+}/record", name="desk_record")
@require_role(*ALL_STAFF)
async def record(request: web.Request) -> web.Response:
    item_id = path_id(request, "item_id")
    form = await request.post()
    try:
        call = read_call_form(form)
        callback_at = None
        if call["outcome"] == "callback-requested":
            callback_at = local_input_time(str(form.get("callback_at", "")), "回拨时间")
        async with request.app[keys.DB].pool.acquire() as conn:
            await repo.record_call(conn, item_id, current_user(request).username, callback_at=callback_at,
                                   recording_path=None, now=_now(), **call)
    except (InputError, repo.DeskError) as exc:
        await redirect_with_flash(request, BACK, "error", f"未保存: {exc}")
    await redirect_with_flash(request, BACK, "ok", "回访结果已保存")
