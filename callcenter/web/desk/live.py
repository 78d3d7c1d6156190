"""``/desk/ws``: the agent console's websocket — claim, renew and see the held ticket without reloads.

Each message is a request with a reply: ``{"op": "claim"}`` → the held or next
ticket, ``{"op": "renew"}`` → whether the lease still holds.  Nothing happens on
disconnect: the lease lapses by itself, which is how a vanished agent loses
the ticket.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from aiohttp import WSMsgType, web

from ...db import desk as repo
from ...ledger.privacy import mask_phone
from ..core import keys
from ..core.access import ALL_STAFF, MANAGERS, current_user, require_role

routes = web.RouteTableDef()
MAX_MESSAGE = 1024


def _shown(item: repo.Item | None, ticket, full: bool) -> dict | None:
    if item is None:
        return None
    return {"item_id": item.id, "ticket_id": item.ticket_id, "ticket_no": ticket["ticket_no"],
            "title": ticket["title"], "reason": item.reason_label, "call_live": item.call_live,
            "phone": ticket["caller_phone"] if full else mask_phone(ticket["caller_phone"])}


@routes.get("/desk/ws", name="desk_ws")
@require_role(*ALL_STAFF)
async def desk_ws(request: web.Request) -> web.WebSocketResponse:
    user = current_user(request)
    full = user.role in MANAGERS
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_MESSAGE)
    await ws.prepare(request)
    await ws.send_json({"type": "hello", "agent": user.username})
    async for message in ws:
        if message.type != WSMsgType.TEXT:
            break
        try:
            op = json.loads(message.data).get("op")
        except (ValueError, AttributeError):
            op = None
        now = datetime.now(timezone.utc)
        async with request.app[keys.DB].pool.acquire() as conn:
            if op == "claim":
                item = await repo.claim_next(conn, user.username, now=now)
                ticket = await repo.ticket_brief(conn, item.ticket_id) if item else None
                await ws.send_json({"type": "item", "item": _shown(item, ticket, full)})
            elif op == "renew":
                item = await repo.held_by(conn, user.username, now)
                held = item is not None and await repo.renew(conn, item.id, user.username, now=now)
                await ws.send_json({"type": "lease", "held": held})
            else:
                await ws.send_json({"type": "error", "message": "未知的请求"})
    return ws
