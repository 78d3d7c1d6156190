"""坐席台 (agent console): queue sign-in/out and pause, the live screen-pop, counseling records, callbacks.

The screen-pop arrives over a websocket (``/console/ws``) the moment the
queue rings this agent; phones stay masked on the page (agents never need a
full number: the record is tied to the call by its Uniqueid, and a callback
is dialled by the PBX, not by hand).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from aiohttp import web

from ...db import hotline as repo
from ...hotline.hub import agent_topic
from ...hotline.service import HotlineError, caller_phone
from ...ledger.privacy import mask_phone
from ...telephony.ami import AmiError
from ..core import keys
from ..core.access import ALL_STAFF, MANAGERS, current_user, require_role
from ..core.render import NavItem, flash, render
from ..core.path_params import path_id
from ..core.ws_pump import pump_topic
from ..core.forward import needs_telephony

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
NAV = [NavItem("坐席台", "console")]

PAUSE_REASONS = ("小休", "培训", "记录整理", "会议")
RISK_LABELS = {"low": "低", "medium": "中", "high": "高"}
MAX_TEXT = 4000


def hotline_of(request: web.Request):
    service = request.app[keys.HOTLINE]
    if service is None:
        raise web.HTTPServiceUnavailable(text="心理疏导专线未启用 (hotline service not configured)")
    return service


def _back(request: web.Request) -> web.HTTPFound:
    return web.HTTPFound(request.app.router["console"].url_for())


@routes.get("/console", name="console")
@require_role(*ALL_STAFF)
@needs_telephony
async def console(request: web.Request, *, record: dict | None = None, status: int = 200) -> web.Response:
    """坐席台; ``record`` brings a refused 情绪疏导记录 back with what was typed and why it was refused."""
    user = current_user(request)
    service = request.app[keys.HOTLINE]
    me = service.state.agent_by_name(user.username) if service else None
    async with request.app[keys.DB].pool.acquire() as conn:
        tasks = await repo.open_tasks(conn, user_id=user.user_id)
    return await render("hotline/console.html", request, {
        "enabled": service is not None, "me": me, "tasks": tasks, "pause_reasons": PAUSE_REASONS,
        "emotional_states": repo.EMOTIONAL_STATES, "risk_labels": RISK_LABELS,
        "record": record or {"values": {}, "uniqueid": "", "error": ""}}, status=status)


@routes.post("/console/queue", name="console_queue")
@require_role(*ALL_STAFF)
@needs_telephony
async def queue_action(request: web.Request) -> web.Response:
    service = hotline_of(request)
    user = current_user(request)
    form = await request.post()
    what = form.get("action", "")
    try:
        if what == "login":
            await service.login_agent(user.username)
        elif what == "logout":
            await service.logout_agent(user.username)
        elif what == "pause":
            reason = str(form.get("reason", ""))
            if reason not in PAUSE_REASONS:
                await flash(request, "error", "请选择暂停原因")
                raise _back(request)
            await service.pause_agent(user.username, True, reason)
        elif what == "unpause":
            await service.pause_agent(user.username, False)
        else:
            raise web.HTTPBadRequest(text="unknown queue action")
    except HotlineError as exc:
        await flash(request, "error", f"交换机拒绝了操作: {exc}")
    except (AmiError, ConnectionError, asyncio.TimeoutError, OSError) as exc:   # Asterisk down: say so, no 500
        await flash(request, "error", f"交换机暂时无法连接: {exc}")
    raise _back(request)


@routes.get("/console/ws", name="console_ws")
@require_role(*ALL_STAFF)
async def console_ws(request: web.Request) -> web.WebSocketResponse:
    service = hotline_of(request)
    user = current_user(request)

    async def greet(ws: web.WebSocketResponse) -> None:
        await ws.send_json({"type": "hello", "agent": user.username})

    return await pump_topic(request, service.hub, agent_topic(user.username), greet, shape=_for_agent)


def _for_agent(message: dict) -> dict:
    """What leaves the server: the caller's number masked, everything else as is."""
    out = dict(message)
    if "phone" in out:
        out["phone"] = mask_phone(out["phone"])
    return out


@routes.post("/console/records", name="console_record")
@require_role(*ALL_STAFF)
@needs_telephony
async def add_record(request: web.Request) -> web.Response:
    form = await request.post()
    user = current_user(request)
    uniqueid = str(form.get("uniqueid", "")).strip()
    fields = {name: str(form.get(name, "")).strip()[:MAX_TEXT]
              for name in ("topic", "emotional_state", "risk_level", "next_step")}
    service = request.app[keys.HOTLINE]
    async with request.app[keys.DB].pool.acquire() as conn:
        call = await repo.call_by_uniqueid(conn, uniqueid) if uniqueid else None
        if call is not None and call["agent"] and call["agent"] != user.username and user.role not in MANAGERS:
            await flash(request, "error", "这通来电不是您接听的, 记录未保存")
            raise _back(request)
        phone = call["caller_phone"] if call else ""
        if call is None and service is not None and uniqueid in service.state.callers:
            phone = caller_phone(service.state.callers[uniqueid].caller_num)   # still talking: not stored yet
        if not phone:
            return await console(request, status=400, record={
                "values": fields, "uniqueid": uniqueid,
                "error": "记录未保存: 没有正在进行或刚结束的来电。请在来电弹屏后保存（已填写的内容保留在下面）"})
        try:
            record_id = await repo.add_counseling_record(
                conn, caller_phone=phone, agent_user_id=user.user_id, call_id=call["id"] if call else None,
                **fields)
        except repo.HotlineInputError as exc:
            return await console(request, status=400, record={"values": fields, "uniqueid": uniqueid,
                                                              "error": f"记录未保存: {exc}"})
        repeat = await repo.repeat_status(conn, phone, _now())
    if fields["risk_level"] == "high" and service is not None:
        service.alert_high_risk({"record_id": record_id, "agent": user.username, "phone": mask_phone(phone),
                                 "topic": fields["topic"], "next_step": fields["next_step"],
                                 "profile_id": repeat["profile_id"]})
    await flash(request, "ok", f"情绪疏导记录已保存 (#{record_id})")
    raise _back(request)


@routes.post("/console/tasks/{task_id:[^/]+}", name="console_task")
@require_role(*ALL_STAFF)
@needs_telephony
async def task_action(request: web.Request) -> web.Response:
    task_id = path_id(request, "task_id")
    form = await request.post()
    user = current_user(request)
    async with request.app[keys.DB].pool.acquire() as conn:
        task = await repo.task(conn, task_id)
        if task is None or task["status"] != "open" or not may_act_on_task(user, task):
            raise web.HTTPNotFound()     # another agent's task: as if it did not exist (no probing)
        if form.get("action") == "call":
            try:
                hotline_of(request).place_callback(user.username, task["caller_phone"])
            except Exception as exc:        # AmiNotReady, bad number: say so, change nothing
                await flash(request, "error", f"未能发起回拨: {exc}")
                raise _back(request)
            await flash(request, "ok", "正在接通: 请先接起您的话机")
        elif form.get("action") in ("done", "cancelled"):
            await repo.finish_task(conn, task_id, str(form.get("action")))
            await flash(request, "ok", "任务已更新")
        else:
            raise web.HTTPBadRequest(text="unknown task action")
    raise _back(request)


def may_act_on_task(user, task: dict) -> bool:
    """The tasks the console lists to this user (theirs and unassigned ones) are the ones they may act on."""
    return task["assigned_to"] in (None, user.user_id)


def _now() -> datetime:
    return datetime.now(timezone.utc)
