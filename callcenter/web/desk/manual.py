"""``/desk/manual``: a callback made outside the system (a staff phone) entered by hand, and its check.

A manual entry needs a note and is audited; a supervisor may reject it, after
which it no longer counts (callcenter/db/desk.reject_manual).  ``/tickets/{id}/desk``
puts a ticket on the desk by hand from its page, under a campaign whose trunk and calling
windows the agent's 拨打 then uses (by default the campaign that last called the ticket).
"""
from __future__ import annotations


from aiohttp import web

from ...db import desk as repo
from ...inputs import InputError, bounded_int, clean_text
from ..core import keys
from ..core.access import ALL_STAFF, MANAGERS, current_user, require_role
from ..core.path_params import path_id, path_uuid
from ..core.render import flash, redirect_with_flash, render
from .console import OUTCOME_CHOICES, local_input_time, read_call_form, script_form

routes = web.RouteTableDef()


BACK = "/desk/manual"            # where the page's forms return


@routes.get("/desk/manual", name="desk_manual")
@require_role(*ALL_STAFF)
async def manual_page(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        entries = await repo.manual_entries(conn)
    return await render("desk/manual.html", request, {
        "entries": entries, "questions": script_form(),
        "outcomes": [o for o in OUTCOME_CHOICES if o[0] != "callback-requested"],
        "may_reject": current_user(request).role in MANAGERS})


@routes.post("/desk/manual", name="desk_manual_add")
@require_role(*ALL_STAFF)
async def manual_add(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        call = read_call_form(form)
        called_at = local_input_time(str(form.get("called_at", "")), "通话时间")
        ticket_no = clean_text(str(form.get("ticket_no", "")).strip(), "工单编号", max_len=64)
        async with request.app[keys.DB].pool.acquire() as conn:
            ticket_id = await repo.ticket_id_by_no(conn, ticket_no)
            if ticket_id is None:
                raise InputError(f"工单编号 {ticket_no} 不存在")
            await repo.record_manual(conn, ticket_id, current_user(request).username, called_at=called_at, **call)
    except (InputError, repo.DeskError) as exc:
        await redirect_with_flash(request, BACK, "error", f"未保存: {exc}")
    await redirect_with_flash(request, BACK, "ok", "手工录入已保存, 等待主管核查")


@routes.post("/desk/manual/{attempt_id:[^/]+}/reject", name="desk_manual_reject")
@require_role(*MANAGERS)
async def manual_reject(request: web.Request) -> web.Response:
    attempt_id = path_uuid(request, "attempt_id", missing="记录不存在")
    form = await request.post()
    try:
        reason = clean_text(str(form.get("reason", "")), "驳回原因", max_len=500)
        async with request.app[keys.DB].pool.acquire() as conn:
            await repo.reject_manual(conn, attempt_id, current_user(request).username, reason)
    except (InputError, repo.DeskError) as exc:
        await redirect_with_flash(request, BACK, "error", f"未驳回: {exc}")
    await redirect_with_flash(request, BACK, "ok", "已驳回该手工录入, 其答案不再计入三率")


@routes.post("/tickets/{ticket_id:[^/]+}/desk", name="ticket_to_desk")
@require_role(*MANAGERS)
async def ticket_to_desk(request: web.Request) -> web.Response:
    ticket_id = path_id(request, "ticket_id")
    form = await request.post()
    try:
        note = clean_text(str(form.get("note", "")), "说明", max_len=500)
        raw_campaign = str(form.get("campaign_id", "")).strip()
        campaign_id = bounded_int(raw_campaign, "回访活动") if raw_campaign else None
        async with request.app[keys.DB].pool.acquire() as conn:
            if not await repo.ticket_exists(conn, ticket_id):
                raise web.HTTPNotFound(text="工单不存在")
            if campaign_id is not None and not await repo.campaign_exists(conn, campaign_id):
                raise InputError("所选回访活动不存在")
            added = await repo.enqueue(conn, ticket_id, "manual", campaign_id=campaign_id, note=note,
                                       by=current_user(request).username)
    except InputError as exc:
        await flash(request, "error", str(exc))
    else:
        await flash(request, "ok" if added else "error", "已转人工回访" if added else "该工单已在人工回访队列中")
    raise web.HTTPSeeOther(f"/tickets/{ticket_id}")
