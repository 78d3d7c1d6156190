"""拨打: the agent's phone rings first, then the citizen; the call is recorded and followed to its hang-up.

The desk item is marked as in a call before the Originate leaves (so a crash
never leaves a call nobody knows of), and a task per call clears the mark at
the hang-up; tasks live in the app, not in the module.  A stop leaves the mark
(the call goes on in Asterisk): the next start follows the channel if the PBX
still has it and clears the mark if not, as after a crash or a lost AMI link.
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
from ...desk.dialing import agent_first_originate, agent_leg_status, dial_refusal, recording_path
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

    async def start(app: web.Application) -> None:
        pbx = getattr(app.get(keys.DIALER), "pbx", None)
        if pbx is not None:         # the process that holds the AMI link follows what a previous run left up
            _track(app, asyncio.create_task(_follow_orphans(app, pbx), name="desk-orphans"))

    async def stop(app: web.Application) -> None:
        for task in list(app[CALLS]):
            task.cancel()
        await asyncio.gather(*app[CALLS], return_exceptions=True)
    app.on_startup.append(start)
    app.on_cleanup.append(stop)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _track(app: web.Application, task: asyncio.Task) -> None:
    app[CALLS].add(task)
    task.add_done_callback(app[CALLS].discard)


async def _end(app: web.Application, item_id: int, agent: str, *, dialled: bool = True,
               call_status: str | None = None) -> None:
    async with app[keys.DB].pool.acquire() as conn:
        await repo.end_call(conn, item_id, agent, now=_now(), dialled=dialled, call_status=call_status)


def _dial_status(call) -> str | None:
    """The citizen leg's DialStatus, when the PBX adapter saw it (``dial_status`` is optional)."""
    future = getattr(call, "dial_status", None)
    if future is None or not future.done() or future.cancelled() or future.exception() is not None:
        return None
    return future.result()


async def _follow(app: web.Application, pbx, call, item_id: int, agent: str, call_id: str) -> None:
    """Wait for the call to end, then free the item for the form (and the lease rules).

    A stop of the service leaves the item marked live (the call goes on in Asterisk), and a lost AMI
    link hands the call to the same follow-up as after a restart: freeing it early would let the
    agent dial the citizen again while the first call is still up."""
    try:
        result = await asyncio.wait_for(asyncio.shield(call.result), RING_MS / 1000 + 30)
        if not result.answered:
            await _end(app, item_id, agent, dialled=False, call_status=agent_leg_status(result.reason))
            return
        await asyncio.wait_for(asyncio.shield(call.hangup), MAX_CALL_S)
    except LinkLost as exc:
        log.info("desk call for item %s: AMI link lost (%s); following it once the link is back", item_id, exc)
        await _follow_orphans(app, pbx, only=item_id)
        return
    except Exception as exc:   # noqa: BLE001  (a timeout or anything else: the item must be freed)
        log.info("desk call for item %s ended without a clean hang-up: %r", item_id, exc)
    await _end(app, item_id, agent, call_status=_dial_status(call))


async def _follow_orphans(app: web.Application, pbx, *, only: int | None = None) -> None:
    """Desk calls marked live that no task follows (the service stopped or crashed, or the link dropped):
    a channel the PBX still has is followed to its hang-up; one it no longer has is over."""
    while True:
        while not pbx.connected:
            await asyncio.sleep(0.2)
        others = {t.get_name() for t in app[CALLS] if t is not asyncio.current_task()}
        async with app[keys.DB].pool.acquire() as conn:
            rows = [r for r in await repo.live_calls(conn)
                    if (only is None or r["id"] == only) and f"desk-call-{r['call_id']}" not in others]
        if not rows:
            return
        # Watch for each Hangup before asking what is live, so a hang-up in between is not missed.
        hangups = {r["id"]: await pbx.wait_hangup(str(r["call_id"])) for r in rows if r["call_id"] is not None}
        try:
            live = await pbx.live_channel_ids()
        except LinkLost:                    # dropped again: ask once it is back
            for future in hangups.values():
                future.cancel()
            await asyncio.sleep(0.2)
            continue
        break
    for row in rows:
        hangup = hangups.get(row["id"])
        if hangup is not None and (str(row["call_id"]) in live or hangup.done()):
            _track(app, asyncio.create_task(_after(app, pbx, hangup, row["id"], row["held_by"]),
                                            name=f"desk-call-{row['call_id']}"))
        else:
            if hangup is not None:
                hangup.cancel()
            await _end(app, row["id"], row["held_by"])


async def _after(app: web.Application, pbx, hangup: asyncio.Future, item_id: int, agent: str) -> None:
    try:
        await asyncio.wait_for(hangup, MAX_CALL_S)
    except LinkLost:
        await _follow_orphans(app, pbx, only=item_id)
        return
    except Exception as exc:   # noqa: BLE001
        log.info("desk call for item %s followed after a restart ended without a clean hang-up: %r", item_id, exc)
    await _end(app, item_id, agent)


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
        if not isinstance(exc, LinkLost):
            log.exception("desk call for item %s was not sent", item_id)
        await _end(request.app, item_id, agent, dialled=False)
        await flash(request, "error", "电话系统未连接, 呼叫没有发出")
        raise web.HTTPSeeOther("/desk") from None
    _track(request.app, asyncio.create_task(_follow(request.app, pbx, call, item_id, agent, str(call_id)),
                                            name=f"desk-call-{call_id}"))
    await flash(request, "ok", "正在呼叫: 请先接起您的电话, 系统随后接通市民(通话录音)")
    raise web.HTTPSeeOther("/desk")
