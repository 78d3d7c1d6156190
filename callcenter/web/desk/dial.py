"""拨打: the agent's phone rings first, then the citizen; the call is recorded and followed to its hang-up.

The desk item is marked as in a call before the Originate leaves (so a crash
never leaves a call nobody knows of), and a task per call clears the mark at
the hang-up; tasks live in the app, not in the module.
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

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
CALLS = web.AppKey("cc_desk_calls", set)
RING_MS = 30000
MAX_CALL_S = 3 * 3600        # a call longer than this is given up on (the item is freed)


def setup_app(app: web.Application) -> None:
    app[CALLS] = set()

    async def stop(app: web.Application) -> None:
        for task in list(app[CALLS]):
            task.cancel()
        await asyncio.gather(*app[CALLS], return_exceptions=True)
    app.on_cleanup.append(stop)


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _follow(app: web.Application, call, item_id: int, agent: str) -> None:
    """Wait for the call to end, then free the item for the form (and the lease rules)."""
    try:
        result = await asyncio.wait_for(asyncio.shield(call.result), RING_MS / 1000 + 30)
        if result.answered:
            await asyncio.wait_for(asyncio.shield(call.hangup), MAX_CALL_S)
    except (asyncio.TimeoutError, LinkLost, Exception) as exc:   # the item must be freed whatever happened
        log.info("desk call for item %s ended without a clean hang-up: %s", item_id, exc)
    finally:
        async with app[keys.DB].pool.acquire() as conn:
            await repo.end_call(conn, item_id, agent, now=_now())


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
            if not await repo.begin_dial(conn, item_id, agent, now=now, call_id=call_id, recording=recording):
                raise repo.DeskError("正在通话中, 或该工单已不由您处理")
    except repo.DeskError as exc:
        await flash(request, "error", f"未拨打: {exc}")
        raise web.HTTPSeeOther("/desk") from None
    request_ = agent_first_originate(facts, agent_interface=settings.agent_interface, username=agent,
                                     recording=recording, call_id=call_id, timeout_ms=RING_MS)
    call = await pbx.originate(request_)
    try:
        await call.sent
    except LinkLost:
        async with request.app[keys.DB].pool.acquire() as conn:
            await repo.end_call(conn, item_id, agent, now=_now())
        await flash(request, "error", "电话系统未连接, 呼叫没有发出")
        raise web.HTTPSeeOther("/desk") from None
    task = asyncio.create_task(_follow(request.app, call, item_id, agent), name=f"desk-call-{call_id}")
    request.app[CALLS].add(task)
    task.add_done_callback(request.app[CALLS].discard)
    await flash(request, "ok", "正在呼叫: 请先接起您的电话, 系统随后接通市民(通话录音)")
    raise web.HTTPSeeOther("/desk")
