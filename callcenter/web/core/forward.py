"""Pages that act on the PBX, answered by the one web process that holds the AMI link.

With several web processes on one port (``CALLCENTER_WEB_WORKERS``) only the
first follows the PBX: it owns the AMI link, the dialer and the hotline's
live queue state.  A handler marked ``@needs_telephony`` (queue sign-in, a
desk call, the console that shows the agent's queue state, /healthz …) is
therefore, in any other process, relayed as is to that process's private
loopback address.  Sessions and CSRF tokens live in PostgreSQL, so the
owner checks them exactly as it would its own requests.
"""
from __future__ import annotations

import logging
from typing import Callable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from . import keys

log = logging.getLogger(__name__)

_ATTR = "__cc_needs_telephony__"
#: Headers that describe one hop, not the message (RFC 9110 §7.6.1), plus what aiohttp recomputes.
_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                  "transfer-encoding", "upgrade", "host", "content-length"})
CLIENT = web.AppKey("cc_forward_client", aiohttp.ClientSession)


def needs_telephony(handler: Callable) -> Callable:
    """Mark a handler that must run in the process that holds the AMI link."""
    setattr(handler, _ATTR, True)
    return handler


def is_telephony(handler: object) -> bool:
    return bool(getattr(handler, _ATTR, False))


def _kept(headers) -> CIMultiDict:
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in _HOP)


@web.middleware
async def forward_middleware(request: web.Request, handler):
    owner = request.app.get(keys.TELEPHONY_URL)
    if not owner or not is_telephony(request.match_info.handler):
        return await handler(request)
    client = request.app[CLIENT]
    try:
        async with client.request(request.method, owner + request.rel_url.path_qs, headers=_kept(request.headers),
                                  data=await request.read(), allow_redirects=False) as answer:
            body = await answer.read()
            return web.Response(status=answer.status, body=body, headers=_kept(answer.headers))
    except aiohttp.ClientError as exc:
        log.warning("telephony process unreachable for %s: %s", request.rel_url.path, exc)
        raise web.HTTPServiceUnavailable(text="电话系统进程暂时无法连接, 请稍后再试") from exc


def setup_forwarding(app: web.Application) -> None:
    """One client per process for the relayed requests (only when this process relays)."""
    if not app.get(keys.TELEPHONY_URL):
        return

    async def open_client(app: web.Application) -> None:
        app[CLIENT] = aiohttp.ClientSession(auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
                                            timeout=aiohttp.ClientTimeout(total=60))

    async def close_client(app: web.Application) -> None:
        await app[CLIENT].close()

    app.on_startup.append(open_client)
    app.on_cleanup.append(close_client)
