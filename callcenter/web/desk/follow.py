"""Desk calls followed to their hang-up, so the item is freed for the form exactly when the call is over.

One task per call (``follow``), kept in the app.  A stop leaves the item marked as in a call (the
call goes on in Asterisk); the next start — like a lost AMI link — follows the channel if the PBX
still has it and frees the item if not (``follow_orphans``): freeing it early would let the agent
dial the citizen again while the first call is still up, and never freeing it would strand the ticket.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from aiohttp import web

from ...campaigns.ports import LinkLost
from ...db import desk as repo
from ...desk.dialing import NOT_DIALLED, agent_leg_status
from ..core import keys

log = logging.getLogger(__name__)
CALLS = web.AppKey("cc_desk_calls", set)
STARTED = web.AppKey("cc_desk_started", datetime)
MAX_CALL_S = 3 * 3600        # a call longer than this is given up on (the item is freed)


def setup_app(app: web.Application) -> None:
    app[CALLS] = set()
    app[STARTED] = _now()       # calls begun since are this run's own: their task follows them

    async def start(app: web.Application) -> None:
        pbx = getattr(app.get(keys.DIALER), "pbx", None)
        if pbx is not None:         # the process that holds the AMI link follows what a previous run left up
            track(app, asyncio.create_task(follow_orphans(app, pbx), name="desk-orphans"))

    async def stop(app: web.Application) -> None:
        for task in list(app[CALLS]):
            task.cancel()
        await asyncio.gather(*app[CALLS], return_exceptions=True)
    app.on_startup.append(start)
    app.on_cleanup.append(stop)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def track(app: web.Application, task: asyncio.Task) -> None:
    app[CALLS].add(task)
    task.add_done_callback(app[CALLS].discard)


async def end(app: web.Application, item_id: int, agent: str, *, dialled: bool = True,
          call_status: str | None = None) -> None:
    async with app[keys.DB].pool.acquire() as conn:
        await repo.end_call(conn, item_id, agent, now=_now(), dialled=dialled, call_status=call_status)


def _dial_status(call) -> str | None:
    """The citizen leg's DialStatus when the PBX adapter reports it (``dial_status`` is optional);
    NOT_DIALLED when it does and the agent's leg ended without ever ending a Dial (the trunk was full)."""
    future = getattr(call, "dial_status", None)
    if future is None:
        return None
    if not future.done():
        return NOT_DIALLED
    if future.cancelled() or future.exception() is not None:
        return None
    return future.result()


async def follow(app: web.Application, pbx, call, item_id: int, agent: str, *, ring_s: float) -> None:
    """Wait for the call to end, then free the item for the form (and the lease rules).

    A stop of the service leaves the item marked live (the call goes on in Asterisk), and a lost AMI
    link hands the call to the same follow-up as after a restart: freeing it early would let the
    agent dial the citizen again while the first call is still up."""
    try:
        result = await asyncio.wait_for(asyncio.shield(call.result), ring_s + 30)
        if not result.answered:
            await end(app, item_id, agent, dialled=False, call_status=agent_leg_status(result.reason))
            return
        await asyncio.wait_for(asyncio.shield(call.hangup), MAX_CALL_S)
    except LinkLost as exc:
        log.info("desk call for item %s: AMI link lost (%s); following it once the link is back", item_id, exc)
        await follow_orphans(app, pbx, only=item_id)
        return
    except Exception as exc:   # noqa: BLE001  (a timeout or anything else: the item must be freed)
        log.info("desk call for item %s ended without a clean hang-up: %r", item_id, exc)
        await end(app, item_id, agent)
        return
    status = _dial_status(call)
    await end(app, item_id, agent, dialled=status != NOT_DIALLED, call_status=status)


async def follow_orphans(app: web.Application, pbx, *, only: int | None = None) -> None:
    """Desk calls marked live that no task follows (the service stopped or crashed, or the link dropped):
    a channel the PBX still has is followed to its hang-up; one it no longer has is over."""
    while True:
        while not pbx.connected:
            await asyncio.sleep(0.2)
        others = {t.get_name() for t in app[CALLS] if t is not asyncio.current_task()}
        async with app[keys.DB].pool.acquire() as conn:
            # A call begun by this run may be marked before its task exists: only a previous run's (or ``only``).
            before = None if only is not None else app[STARTED]
            rows = [r for r in await repo.live_calls(conn, started_before=before)
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
            track(app, asyncio.create_task(_after(app, pbx, hangup, row["id"], row["held_by"]),
                                            name=f"desk-call-{row['call_id']}"))
        else:
            if hangup is not None:
                hangup.cancel()
            await end(app, row["id"], row["held_by"])


async def _after(app: web.Application, pbx, hangup: asyncio.Future, item_id: int, agent: str) -> None:
    try:
        await asyncio.wait_for(hangup, MAX_CALL_S)
    except LinkLost:
        await follow_orphans(app, pbx, only=item_id)
        return
    except Exception as exc:   # noqa: BLE001
        log.info("desk call for item %s followed after a restart ended without a clean hang-up: %r", item_id, exc)
    await end(app, item_id, agent)
