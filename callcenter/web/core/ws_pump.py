"""Push one hub topic to one websocket until the browser goes away.

Shared by the agent console and the supervisor wall.  Why the subscription
comes before the greeting: a change published while the first snapshot is
being sent then waits in the queue instead of being lost.  Why the socket is
read at all: it is the only way to notice that the browser closed it.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from aiohttp import WSMsgType, web

from ...hotline.hub import Hub

log = logging.getLogger(__name__)

Message = dict[str, Any]
_GONE = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


def _unchanged(message: Message) -> Message:
    return message


async def pump_topic(request: web.Request, hub: Hub, topic: str,
                     greet: Callable[[web.WebSocketResponse], Awaitable[None]],
                     shape: Callable[[Message], Message] = _unchanged) -> web.WebSocketResponse:
    """Open the websocket, ``greet`` it, then send every message of ``topic`` through ``shape``."""
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    queue = hub.subscribe(topic)
    reader = asyncio.ensure_future(ws.receive())
    getter: asyncio.Future | None = None
    try:
        await greet(ws)
        while not ws.closed:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                getter.cancel()
                if reader.result().type in _GONE:
                    break
                reader = asyncio.ensure_future(ws.receive())   # the browser said something: ignore it
                continue
            await ws.send_json(shape(getter.result()))
    except ConnectionResetError:          # gone without a close frame (a laptop lid, a dropped Wi-Fi): ordinary
        log.debug("websocket %s closed by the peer", topic)
    finally:
        reader.cancel()
        if getter is not None:
            getter.cancel()
        hub.unsubscribe(topic, queue)
    return ws
