"""JSON API for the district platform: the ledger's reads, the three rates, campaigns, and the flow steps.

Same rules as the pages (roles, masking, keyset pages, the flow's own
checks), and the same helpers: filters parse with ticket_filters, steps are
built as the ticket page builds them, rates come from the scoring engine.
Signed in by a bearer token (callcenter user token NAME) or a session; a
session's POSTs need the X-CSRF-Token header, a token's do not.  Rates are
sent as the displayed decimal strings (percent, two places, half up) and the
exact tallies they come from.  Described at /api/openapi.json.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from aiohttp import web

from ...db import campaigns as campaign_repo
from ...db import scoring as scoring_repo
from ...db import ticket_queries as queries
from ...db import tickets as tickets_repo
from ...inputs import InputError, ascii_digits, parse_json
from ...ledger import flow
from ...ledger.privacy import mask_phone
from ...ledger.timezone import OFFICE_TZ
from ...reports import scorecard
from ...scoring.periods import PeriodError, period_containing
from ...scoring.rates import BASES, GROUPINGS, shown
from ..core import keys
from ..core.plain import plain
from ..core.access import ALL_STAFF, MANAGERS, current_user, require_role
from .openapi import openapi_document
from ..tickets.ticket_filters import encode_key, parse_query
from ..tickets.ticket_view import deadline_views, may_take, step_from, ticket_id_of, ticket_with_history

routes = web.RouteTableDef()
MAX_PAGE = 200


def ticket_json(row: Mapping[str, Any], *, full_phone: bool) -> dict[str, Any]:
    out = {k: plain(v) for k, v in dict(row).items()}
    if "caller_phone" in out and not full_phone:
        out["caller_phone"] = mask_phone(out["caller_phone"])
    return out


def _bad_request(messages: list[str]) -> web.Response:
    return web.json_response({"error": "bad_request", "message": "; ".join(messages), "messages": messages},
                             status=400)


@routes.get("/api/tickets", name="api_tickets")
@require_role(*ALL_STAFF)
async def api_tickets(request: web.Request) -> web.Response:
    parsed = parse_query(request.query)
    limit = request.query.get("limit", "50")
    if not ascii_digits(limit) or len(limit) > 9 or not 1 <= int(limit) <= MAX_PAGE:
        parsed.errors.append(f"limit 应为 1–{MAX_PAGE}")
    if parsed.errors:
        return _bad_request(parsed.errors)
    async with request.app[keys.DB].pool.acquire() as conn:
        page = await queries.ticket_page(conn, parsed.filter, after=parsed.after, size=int(limit))
    full = current_user(request).role in MANAGERS
    return web.json_response({"items": [ticket_json(r, full_phone=full) for r in page.rows],
                              "next": encode_key(page.next_key) if page.next_key else None})


@routes.get("/api/tickets/{ticket_id:[^/]+}", name="api_ticket")
@require_role(*ALL_STAFF)
async def api_ticket(request: web.Request) -> web.Response:
    ticket_id = ticket_id_of(request)
    async with request.app[keys.DB].pool.acquire() as conn:
        ticket, events = await ticket_with_history(conn, ticket_id)
    user = current_user(request)
    deadlines = deadline_views(ticket, events, datetime.now(OFFICE_TZ))
    return web.json_response({
        "ticket": ticket_json(ticket, full_phone=user.role in MANAGERS),
        "history": [plain(dict(e)) for e in events],
        "deadlines": [{"label": d.label, "due_at": plain(d.due_at), "done_at": plain(d.done_at),
                       "status": d.status, "overdue": d.overdue} for d in deadlines],
        "actions": [a.value for a in flow.allowed_actions(flow.parse_state(ticket["status"]))
                    if may_take(user.role, a)],
    })


@routes.post("/api/tickets/{ticket_id:[^/]+}/step", name="api_ticket_step")
@require_role(*ALL_STAFF)
async def api_ticket_step(request: web.Request) -> web.Response:
    """One flow step from a JSON body: {"action", "reason", "unit_id", "new_deadline"}."""
    ticket_id = ticket_id_of(request)
    try:
        body = parse_json(await request.read())
    except InputError as exc:
        return _bad_request([str(exc)])
    if not isinstance(body, dict):
        return _bad_request(["请求体应为 JSON 对象"])
    user = current_user(request)
    try:
        step = step_from(body, user.role)
        async with request.app[keys.DB].pool.acquire() as conn:
            result = await tickets_repo.apply_step(conn, ticket_id, step, actor=user.username)
    except tickets_repo.TicketNotFound:
        raise web.HTTPNotFound(text=f"工单 {ticket_id} 不存在") from None
    except flow.FlowError as exc:
        return web.json_response({"error": "rejected", "message": str(exc)}, status=422)
    return web.json_response({"ticket_id": ticket_id, "action": step.action.value, "from": result.from_state.value,
                              "to": result.to_state.value, "event_id": result.event_id})


@routes.get("/api/rates", name="api_rates")
@require_role(*ALL_STAFF)
async def api_rates(request: web.Request) -> web.Response:
    """One assessment month's rates, grouped (street / department / community / category / day)."""
    grouping = request.query.get("grouping", "street")
    if grouping not in GROUPINGS:
        return _bad_request([f"grouping 应为 {', '.join(GROUPINGS)} 之一"])
    async with request.app[keys.DB].pool.acquire() as conn:
        label = request.query.get("period") or period_containing(
            datetime.now(OFFICE_TZ), await scoring_repo.load_calendar(conn)).label
        try:
            table = await scorecard.rates_table(conn, label, grouping)
        except PeriodError:
            return _bad_request(["period 应为 YYYY-MM"])
        except LookupError:
            return _bad_request([f"{label} 没有适用的评分规则"])
    return web.json_response({
        "period": {"label": table.period.label, "start": plain(table.period.start), "end": plain(table.period.end)},
        "rule_set": table.rule_set.name,
        "grouping": grouping,
        "rows": [{"key": plain(r.key), "name": r.name,
                  **{basis: {"rates": {k: plain(v) for k, v in shown(r.basis(basis)).items()},
                             "counts": dict(vars(r.basis(basis).counts))} for basis in BASES}}
                 for r in table.rows],
    })


@routes.get("/api/campaigns", name="api_campaigns")
@require_role(*MANAGERS)
async def api_campaigns(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        rows = await campaign_repo.list_campaigns(conn)
        items = [{**plain(dict(r)), "progress": await campaign_repo.progress(conn, r["id"])} for r in rows]
    return web.json_response({"items": items})


@routes.get("/api/openapi.json", name="api_openapi")
@require_role(*ALL_STAFF)
async def api_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app))
