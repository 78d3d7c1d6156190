"""工单台账: the filtered ledger, one ticket's page, and its flow steps (POST)."""
from __future__ import annotations

import math
from datetime import datetime
from typing import NamedTuple

import asyncpg
from aiohttp import web

from ...db import desk as desk_repo
from ...db import ticket_queries as queries
from ...db import tickets as tickets_repo
from ...ledger import flow
from ...ledger.timezone import OFFICE_TZ
from ..core import keys
from ..core.cache import cached
from ..core.access import ALL_STAFF, MANAGERS, current_user, require_role
from ..core.refusals import refusals_shown
from ..core.render import NavItem, flash, render
from ..calls.ticket_callbacks import ticket_callbacks_context
from ..core.paging import filter_query_string, list_context, page_links, page_number
from .ticket_filters import encode_key, parse_query
from .ticket_rows import STATE_CHOICES, FilterChoices, filter_choices, ledger_rows
from .ticket_total import ticket_total
from .ticket_view import (action_forms, action_label, city_fields, deadline_views, is_time_column, state_label,
                          step_from, ticket_id_of, ticket_with_history)

routes = web.RouteTableDef()
NAV = [NavItem("工单台账", "tickets")]
#: The ledger counts matches up to this many (beyond: "超过 100000 件"), so the count stays cheap.
COUNT_CAP = 100_000
PICKERS_TTL = 10.0      # a unit added a moment ago shows up in the pickers within seconds
OPEN_STATES = frozenset(s.value for s in flow.OPEN_STATES)    # 办结 deadline still running


class Pickers(NamedTuple):
    units: list                 # active units, for the dispatch form
    unit_names: dict            # every unit's name by id
    categories: list
    choices: FilterChoices      # the list's filter form, from the same units and categories


async def pickers(app: web.Application, conn: asyncpg.Connection) -> Pickers:
    """Units, unit names and categories for the filters and the dispatch form: the same for every request."""
    async def load():
        units, categories = await queries.active_units(conn), await queries.category_names(conn)
        return Pickers(units, await queries.unit_names(conn), categories, filter_choices(units, categories))
    return await cached(app, "ticket-pickers", PICKERS_TTL, load)


@routes.get("/tickets", name="tickets")
@require_role(*ALL_STAFF)
async def ticket_list(request: web.Request) -> web.Response:
    parsed = parse_query(request.query)
    config = request.app[keys.WEB_CONFIG]
    async with request.app[keys.DB].pool.acquire() as conn:
        picked = await pickers(request.app, conn)
        page, total, number = None, None, 1
        if not parsed.errors:
            number = page_number(request.query.get("page"))
            after = parsed.after
            if after is None and number > 1:         # a page number: find where that page starts
                after = await queries.page_start(conn, parsed.filter, skip=(number - 1) * config.page_size)
                number = number if after is not None else 1
            page = await queries.ticket_page(conn, parsed.filter, after=after, size=config.page_size)
            total = await ticket_total(request.app, conn, parsed.filter, cap=COUNT_CAP)
    listing = list_context("/tickets", parsed, page, encode_key)
    listing["rows"] = ledger_rows(listing["rows"], picked.unit_names, datetime.now(OFFICE_TZ), OPEN_STATES)
    count = total.value if total else 0
    pages = max(1, math.ceil(min(count, COUNT_CAP) / config.page_size))
    if listing["next_url"]:
        listing["next_url"] += f"&page={number + 1}"
    return await render("tickets/list.html", request, {
        **listing,
        "total": total.value if total else None, "total_capped": count > COUNT_CAP,
        "total_counted_at": total.counted_at if total else None, "page_number": number, "pages": pages,
        "page_links": [(n, "/tickets?" + filter_query_string(parsed.values, page=str(n)) if n else "")
                       for n in page_links(number, pages)],
        "export_url": "/tickets/export.xlsx?" + filter_query_string(parsed.values),
        "may_export": current_user(request).role in MANAGERS,
        "choices": picked.choices,
        "states": STATE_CHOICES,
    }, status=400 if parsed.errors else 200)


@routes.get("/tickets/{ticket_id:\\d+}", name="ticket")
@require_role(*ALL_STAFF)
async def ticket_detail(request: web.Request) -> web.Response:
    ticket_id = ticket_id_of(request)
    user = current_user(request)
    async with request.app[keys.DB].pool.acquire() as conn:
        ticket, events = await ticket_with_history(conn, ticket_id)
        units, names, _, _ = await pickers(request.app, conn)
        callbacks_context = await ticket_callbacks_context(conn, ticket_id, user.role)
        desk_campaigns, desk_campaign = (await desk_repo.campaign_choices(conn, ticket_id)
                                         if user.role in MANAGERS else ([], None))
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
        "desk_campaigns": desk_campaigns,
        "desk_campaign": desk_campaign,
    })


@routes.post("/tickets/{ticket_id:\\d+}/step", name="ticket_step")
@require_role(*ALL_STAFF)
async def ticket_step(request: web.Request) -> web.StreamResponse:
    """One flow step; any refusal comes back as a message on the ticket page, never a 500."""
    ticket_id = ticket_id_of(request)
    user = current_user(request)
    form = await request.post()
    back = request.app.router["ticket"].url_for(ticket_id=str(ticket_id))
    async with refusals_shown(request, str(back), "操作未执行", missing=tickets_repo.TicketNotFound,
                              refused=flow.FlowError, missing_text=f"工单 {ticket_id} 不存在"):
        step = step_from(form, user.role)
        async with request.app[keys.DB].pool.acquire() as conn:
            result = await tickets_repo.apply_step(conn, ticket_id, step, actor=user.username)
    await flash(request, "ok", f"已{step.action.label}: {result.from_state.label} → {result.to_state.label}")
    raise web.HTTPSeeOther(back)
