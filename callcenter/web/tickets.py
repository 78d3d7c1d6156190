"""工单台账: the filtered ledger, one ticket's page, and its flow steps (POST)."""
from __future__ import annotations

from datetime import datetime

from aiohttp import web

from ..db import ticket_queries as queries
from ..db import tickets as tickets_repo
from ..ledger import flow
from ..ledger.timezone import OFFICE_TZ
from . import keys
from .access import ALL_STAFF, MANAGERS, current_user, require_role
from .render import NavItem, flash, render
from .ticket_callbacks import ticket_callbacks_context
from .ticket_filters import encode_key, filter_query_string, parse_query
from .ticket_view import (action_forms, action_label, city_fields, deadline_views, is_time_column, may_take,
                          state_label)

routes = web.RouteTableDef()
NAV = [NavItem("工单台账", "tickets")]
_MAX_ID = 2 ** 63 - 1
#: Longest reason accepted for a flow step (a paragraph, not a document).
MAX_REASON = 2000


def _ticket_id(request: web.Request) -> int:
    raw = request.match_info["ticket_id"]
    if not raw.isdigit() or not 0 < int(raw) <= _MAX_ID:
        raise web.HTTPNotFound()
    return int(raw)


@routes.get("/tickets", name="tickets")
@require_role(*ALL_STAFF)
async def ticket_list(request: web.Request) -> web.Response:
    parsed = parse_query(request.query)
    config = request.app[keys.WEB_CONFIG]
    async with request.app[keys.DB].pool.acquire() as conn:
        units = await queries.active_units(conn)
        names = await queries.unit_names(conn)
        categories = await queries.category_names(conn)
        page = None
        if not parsed.errors:
            page = await queries.ticket_page(conn, parsed.filter, after=parsed.after, size=config.page_size)
    next_url = None
    if page and page.next_key:
        next_url = "/tickets?" + filter_query_string(parsed.values, after=encode_key(page.next_key))
    return await render("tickets/list.html", request, {
        "rows": page.rows if page else [],
        "errors": parsed.errors,
        "values": parsed.values,
        "paged": parsed.after is not None,
        "next_url": next_url,
        "first_url": "/tickets?" + filter_query_string(parsed.values),
        "export_url": "/tickets/export.xlsx?" + filter_query_string(parsed.values),
        "may_export": current_user(request).role in MANAGERS,
        "units": units,
        "unit_names": names,
        "categories": categories,
        "states": list(flow.State),
        "state_label": state_label,
        "open_states": {s.value for s in flow.OPEN_STATES},    # 办结 deadline still running
        "now": datetime.now(OFFICE_TZ),
    }, status=400 if parsed.errors else 200)


@routes.get("/tickets/{ticket_id:\\d+}", name="ticket")
@require_role(*ALL_STAFF)
async def ticket_detail(request: web.Request) -> web.Response:
    ticket_id = _ticket_id(request)
    user = current_user(request)
    async with request.app[keys.DB].pool.acquire() as conn:
        try:
            ticket = await tickets_repo.get_ticket(conn, ticket_id)
        except tickets_repo.TicketNotFound:
            raise web.HTTPNotFound(text=f"工单 {ticket_id} 不存在") from None
        events = await tickets_repo.history(conn, ticket_id)
        units = await queries.active_units(conn)
        names = await queries.unit_names(conn)
        callbacks_context = await ticket_callbacks_context(conn, ticket_id, user.role)
    now = datetime.now(OFFICE_TZ)
    return await render("tickets/detail.html", request, {
        **callbacks_context,
        "t": ticket,
        "fields": city_fields(ticket),
        "is_time_column": is_time_column,
        "show_full_phone": user.role in MANAGERS,
        "events": events,
        "deadlines": deadline_views(ticket, events, now),
        "forms": action_forms(ticket["status"], user.role),
        "units": units,
        "unit_names": names,
        "state_label": state_label,
        "action_label": action_label,
    })


def _parse_deadline(raw: str) -> datetime | None:
    """``datetime-local`` input (Beijing wall time) → an aware instant."""
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=OFFICE_TZ)
    except ValueError:
        raise flow.FlowError(f"新的办结期限格式无效: {raw[:40]}") from None


def _parse_unit(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > 2 ** 31 - 1:
        raise flow.FlowError(f"承办单位无效: {raw[:40]}")
    return int(raw)


@routes.post("/tickets/{ticket_id:\\d+}/step", name="ticket_step")
@require_role(*ALL_STAFF)
async def ticket_step(request: web.Request) -> web.StreamResponse:
    """One flow step; any refusal comes back as a message on the ticket page, never a 500."""
    ticket_id = _ticket_id(request)
    user = current_user(request)
    form = await request.post()
    back = request.app.router["ticket"].url_for(ticket_id=str(ticket_id))
    try:
        action = flow.parse_action(str(form.get("action", "")))
        if not may_take(user.role, action):
            raise web.HTTPForbidden(text=f"您的角色不能执行“{action.label}”")
        reason = str(form.get("reason", "")).strip()
        if len(reason) > MAX_REASON:
            raise flow.FlowError(f"原因最长 {MAX_REASON} 个字")
        rule = flow.RULES[action]     # read only what this step uses; stray fields are ignored
        step = flow.Step(
            action, reason=reason,
            unit_id=_parse_unit(str(form.get("unit_id", ""))) if rule.needs_unit else None,
            new_deadline=_parse_deadline(str(form.get("new_deadline", ""))) if rule.needs_deadline else None)
        async with request.app[keys.DB].pool.acquire() as conn:
            result = await tickets_repo.apply_step(conn, ticket_id, step, actor=user.username)
    except tickets_repo.TicketNotFound:
        raise web.HTTPNotFound(text=f"工单 {ticket_id} 不存在") from None
    except flow.FlowError as exc:
        await flash(request, "error", f"操作未执行: {exc}")
        raise web.HTTPSeeOther(back) from None
    await flash(request, "ok", f"已{action.label}: {result.from_state.label} → {result.to_state.label}")
    raise web.HTTPSeeOther(back)
