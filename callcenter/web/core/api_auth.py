"""Token sign-in for /api/ and /metrics: ``Authorization: Bearer cc_…`` acts as the token's account.

A token is sent deliberately by a script on every request, never attached by
a browser on its own, so token requests need no CSRF token (the CSRF check
skips requests marked :data:`VIA_TOKEN`); cookie-signed requests still need
one.  A request that offers a token is judged by the token alone: a bad one
is 401, even if a session cookie came along.
"""
from __future__ import annotations

from aiohttp import web

from ...db import api_tokens
from ...db.web_sessions import SessionUser
from . import keys

_RequestKey = getattr(web, "RequestKey", None)
VIA_TOKEN = _RequestKey("cc_via_token", bool) if _RequestKey else "cc_via_token"
TOKEN_PATHS = ("/api/", "/metrics", "/healthz")


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def via_token(request: web.Request) -> bool:
    return bool(request.get(VIA_TOKEN))


@web.middleware
async def token_middleware(request: web.Request, handler):
    request[VIA_TOKEN] = False
    if "Authorization" in request.headers and request.path.startswith(TOKEN_PATHS):
        token = bearer_token(request)
        found = None
        if token is not None:
            async with request.app[keys.DB].pool.acquire() as conn:
                found = await api_tokens.user_for_token(conn, token)
        if found is None:
            return web.json_response({"error": "unauthorized", "message": "令牌无效或已吊销"}, status=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="callcenter"'})
        request[keys.USER] = SessionUser(session_id="", csrf_token="", user_id=found.user_id,
                                         username=found.username, display_name=found.display_name, role=found.role)
        request[VIA_TOKEN] = True
    return await handler(request)
