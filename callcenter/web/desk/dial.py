"""拨打: the agent's phone rings first, then the citizen; the call is recorded and followed to its hang-up.

The desk item is marked as in a call before the Originate leaves (so a crash
never leaves a call nobody knows of), and a task per call clears the mark at
the hang-up (callcenter/web/desk/follow.py, which also picks up calls a stop,
a crash or a lost AMI link left marked).
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timezone
from pathlib import PurePosixPath

from aiohttp import web

from ...campaigns.ports import LinkLost
from ...db import desk as repo
from ...desk.dialing import agent_first_originate, dial_refusal, recording_path
from ..core import keys
from ..core.access import ALL_STAFF, current_user, require_role
from ..core.path_params import path_id
from ..core.render import flash
from ..core.forward import needs_telephony
from . import follow

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
RING_MS = 30000


def setup_app(app: web.Application) -> None:
    follow.setup_app(app)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@routes.post("/desk/{item_id:[^/]+}/dial", name="desk_dial")
@require_role(*ALL_STAFF)
@needs_telephony
async def dial(request: web.Request) -> web.Response:
    item_id = path_id(request, "item_id")
    agent = current_user(request).username
    dialer = request.app.get(keys.DIALER)
    pbx = getattr(dialer, "pbx", None)
    settings = request.app[keys.SETTINGS]
    now = _now()
    if pbx is None or not pbx.connected:
        await flash(request, "error", "电话系统未连接, 现在无法拨打")
        raise web.HTTPSeeOther("/desk")
    call_id = uuid.uuid4()
    try:
        async with request.app[keys.DB].pool.acquire() as conn:
            facts = await repo.dial_facts(conn, item_id, agent, now=now)
            refusal = dial_refusal(facts, now)
            if refusal:
                raise repo.DeskError(refusal)
            recording = recording_path(PurePosixPath(settings.recordings.resolve()), now, item_id, call_id)
            request_ = agent_first_originate(facts, agent_interface=settings.agent_interface, username=agent,
                                             recording=recording, call_id=call_id, timeout_ms=RING_MS)
            if not await repo.begin_dial(conn, item_id, agent, now=now, call_id=call_id, recording=recording):
                raise repo.DeskError("正在通话中, 或该工单已不由您处理")
    except repo.DeskError as exc:
        await flash(request, "error", f"未拨打: {exc}")
        raise web.HTTPSeeOther("/desk") from None
    try:
        call = await pbx.originate(request_)
        await call.sent
    except Exception as exc:     # noqa: BLE001  (LinkLost, or anything: the mark must not outlive the request)
        lost = isinstance(exc, LinkLost)
        if not lost:
            log.exception("desk call for item %s was not sent", item_id)
        await follow.end(request.app, item_id, agent, dialled=False)
        await flash(request, "error",
                    "电话系统未连接, 呼叫没有发出" if lost else "呼叫没有发出: 系统错误(已记入日志), 请联系管理员")
        raise web.HTTPSeeOther("/desk") from None
    follow.track(request.app, asyncio.create_task(
        follow.follow(request.app, pbx, call, item_id, agent, ring_s=RING_MS / 1000), name=f"desk-call-{call_id}"))
    await flash(request, "ok", "正在呼叫: 请先接起您的电话, 系统随后接通市民(通话录音)")
    raise web.HTTPSeeOther("/desk")
