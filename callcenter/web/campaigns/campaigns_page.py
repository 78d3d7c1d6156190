"""回访活动: list, create, start / pause / resume / stop, and live counters over server-sent events.

State changes go through callcenter.db.campaigns.change_state (audited with
the web user's name); the running dialer picks them up on its next round.
The counters stream (``/campaigns/{id}/events``) polls the database once a
second, so it shows every instance's calls, not only this process's.
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone

from aiohttp import web

from ...campaigns.lifecycle import COMMANDS, CampaignStateError
from ...campaigns.quiet import quiet
from ...db import campaign_queries
from ...db import campaigns as repo
from ...db import dialer as dialer_repo
from ...db import ticket_queries
from ...db.scoring import load_calendar, rule_set_for
from ...ledger.timezone import OFFICE_TZ
from ...scoring.periods import period_containing
from ...scoring.rates import rates
from ...shipped import shipped_dir
from ..core import keys
from ..core.access import MANAGERS, current_user, require_role
from .campaign_view import COUNTER_LABELS, snapshot_view
from .campaign_form import DEFAULT_VALUES, RETRY_FIELDS, parse_campaign_form
from ..core.labels import CAMPAIGN_STATE_NAMES as CAMPAIGN_STATE_LABELS
from ..core.path_params import path_id
from ..core.render import NavItem, flash, render

routes = web.RouteTableDef()
NAV = [NavItem("回访活动", "campaigns")]
log = logging.getLogger(__name__)
#: Seconds between counter polls, and how long one stream lives (EventSource reconnects by itself).
SSE_INTERVAL = 1.0
SSE_LIFETIME = 600.0
COMMAND_LABELS = {"start": "开始", "pause": "暂停", "resume": "继续", "stop": "结束"}
EMPTY_START = "没有符合条件的待回访工单（0 件），开始后不会拨打任何电话。如仍要开始，请勾选“仍然开始”"
#: Set when the app shuts down, so open streams end at once instead of holding up the shutdown.
STOPPING = web.AppKey("cc_campaign_streams_stopping", asyncio.Event)


def setup_app(app: web.Application) -> None:
    app[STOPPING] = asyncio.Event()

    async def stop_streams(app: web.Application) -> None:
        app[STOPPING].set()
    app.on_shutdown.append(stop_streams)


def scripts() -> list[str]:
    return sorted(p.stem for p in shipped_dir("ivr_scripts").glob("*.toml"))


def _campaign_id(request: web.Request) -> int:
    return path_id(request, "campaign_id", missing="回访活动不存在")


def commands_for(state: str) -> list[tuple[str, str]]:
    """The buttons a campaign in ``state`` offers, in lifecycle order."""
    return [(command, COMMAND_LABELS[command]) for command, (sources, _) in COMMANDS.items()
            if state in {s.value for s in sources}]


async def _form_context(conn) -> dict:
    units = await ticket_queries.active_units(conn)
    return {
        "trunks": await campaign_queries.trunks(conn),
        "departments": {u["id"]: u["name"] for u in units if u["kind"] == "department"},
        "communities": {u["id"]: u["name"] for u in units if u["kind"] == "community"},
        "categories": await ticket_queries.category_names(conn),
        "scripts": scripts(),
        "retry_fields": RETRY_FIELDS,
    }


@routes.get("/campaigns", name="campaigns")
@require_role(*MANAGERS)
async def campaign_list(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        rows = await repo.list_campaigns(conn)
    return await render("campaigns/list.html", request, {"rows": rows, "state_labels": CAMPAIGN_STATE_LABELS})


@routes.get("/campaigns/new", name="campaign_new")
@require_role(*MANAGERS)
async def campaign_new(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        context = await _form_context(conn)
    return await render("campaigns/new.html", request, {**context, "values": dict(DEFAULT_VALUES), "errors": []})


@routes.post("/campaigns", name="campaign_create")
@require_role(*MANAGERS)
async def campaign_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    user = current_user(request)
    async with request.app[keys.DB].pool.acquire() as conn:
        context = await _form_context(conn)
        parsed = parse_campaign_form(
            {k: str(v) for k, v in form.items()}, trunks=[t["name"] for t in context["trunks"]],
            departments=context["departments"], communities=context["communities"],
            categories=context["categories"], scripts=context["scripts"], created_by=user.username)
        if parsed.spec is not None:
            try:
                async with conn.transaction():
                    campaign_id = await repo.create_campaign(conn, parsed.spec)
                    await ticket_queries.record_audit(conn, user.username, "campaign.create",
                                                      object_type="campaign", object_id=str(campaign_id),
                                                      detail={"name": parsed.spec.name})
            except (ValueError, repo.CampaignNotFound) as exc:
                parsed.errors.append(str(exc))
    if parsed.errors:
        return await render("campaigns/new.html", request, {**context, "values": parsed.values,
                                                            "errors": parsed.errors}, status=400)
    await flash(request, "ok", f"已创建回访活动“{parsed.spec.name}”(草稿), 点击“开始”后开始拨打")
    raise web.HTTPSeeOther(f"/campaigns/{campaign_id}")


@routes.get("/campaigns/{campaign_id:[^/]+}", name="campaign")
@require_role(*MANAGERS)
async def campaign_detail(request: web.Request) -> web.Response:
    campaign_id = _campaign_id(request)
    async with request.app[keys.DB].pool.acquire() as conn:
        row = await campaign_queries.campaign_row(conn, campaign_id)
        if row is None:
            raise web.HTTPNotFound(text="回访活动不存在")
        live = await _snapshot(conn, campaign_id)
        names = await ticket_queries.unit_names(conn)
        waiting = await dialer_repo.count_eligible(conn, campaign_id)
        campaign = await repo.get_campaign(conn, campaign_id)
        now = datetime.now(timezone.utc)
        why = quiet(campaign.state.value, campaign.standing, campaign.windows, await repo.progress(conn, campaign_id),
                    waiting, now, await dialer_repo.capped_today(conn, campaign_id, now))
    return await render("campaigns/detail.html", request, {
        "c": row, "live": live, "counter_labels": COUNTER_LABELS, "unit_names": names,
        "state_labels": CAMPAIGN_STATE_LABELS, "commands": commands_for(row["state"]),
        "eligible": waiting if row["state"] == "draft" else None, "quiet": why,
    })


@routes.post("/campaigns/{campaign_id:[^/]+}/state", name="campaign_state")
@require_role(*MANAGERS)
async def campaign_state(request: web.Request) -> web.StreamResponse:
    campaign_id = _campaign_id(request)
    form = await request.post()
    command = str(form.get("command", ""))
    user = current_user(request)
    try:
        async with request.app[keys.DB].pool.acquire() as conn:
            # A standing campaign with nothing waiting is normal: tickets join as they pass 结案审核.
            row = await campaign_queries.campaign_standing(conn, campaign_id)
            if (command == "start" and form.get("confirm_empty") != "1" and row is not None
                    and row["state"] == "draft" and not row["standing"]
                    and await dialer_repo.count_eligible(conn, campaign_id) == 0):
                raise ValueError(EMPTY_START)
            target = await repo.change_state(conn, campaign_id, command, actor=user.username)
    except repo.CampaignNotFound:
        raise web.HTTPNotFound(text="回访活动不存在") from None
    except (CampaignStateError, ValueError) as exc:
        await flash(request, "error", f"操作未执行: {exc}")
        raise web.HTTPSeeOther(f"/campaigns/{campaign_id}") from None
    await flash(request, "ok", f"已{COMMAND_LABELS.get(command, command)}: 活动现为“{CAMPAIGN_STATE_LABELS[target.value]}”")
    raise web.HTTPSeeOther(f"/campaigns/{campaign_id}")


async def _snapshot(conn, campaign_id: int) -> dict | None:
    """What the page shows live; ``checked_at`` is this check's time, so the stamp moves even when nothing else does."""
    row = await campaign_queries.campaign_standing(conn, campaign_id)
    if row is None:
        return None
    now = datetime.now(timezone.utc)
    rule_set = await rule_set_for(conn, period_containing(now, await load_calendar(conn)))
    return snapshot_view(row["state"], row["standing"], await repo.progress(conn, campaign_id),
                         rates(await repo.answer_counts(conn, campaign_id), rule_set), CAMPAIGN_STATE_LABELS,
                         now.astimezone(OFFICE_TZ).strftime("%H:%M:%S"))


@routes.get("/campaigns/{campaign_id:[^/]+}/events", name="campaign_events")
@require_role(*MANAGERS)
async def campaign_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the counters now, then whenever they change (a comment line keeps proxies awake)."""
    campaign_id = _campaign_id(request)
    pool = request.app[keys.DB].pool
    async with pool.acquire() as conn:
        first = await _snapshot(conn, campaign_id)
    if first is None:
        raise web.HTTPNotFound(text="回访活动不存在")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    stopping = request.app[STOPPING]
    loop = asyncio.get_running_loop()
    ends = loop.time() + SSE_LIFETIME
    snapshot = first
    try:
        while loop.time() < ends:
            if snapshot is None:                      # deleted while watched
                break
            # Every check is sent (its time moves the page's "updated" stamp); a few hundred bytes a second.
            await response.write(f"data: {json.dumps(snapshot, ensure_ascii=False)}\n\n".encode())
            try:
                await asyncio.wait_for(stopping.wait(), SSE_INTERVAL)
                break                                   # the service is stopping
            except asyncio.TimeoutError:
                pass
            async with pool.acquire() as conn:
                snapshot = await _snapshot(conn, campaign_id)
    except ConnectionResetError:                # the browser left the page: not an error
        log.debug("campaign %s: event stream closed by the browser", campaign_id)
    return response
