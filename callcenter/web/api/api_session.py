"""``/api/me``: who is signed in, and the CSRF token scripts must send as X-CSRF-Token.

The first JSON endpoint; the JSON API proper builds on the same rules
(401 without a session, 403 for the wrong role, CSRF on every unsafe method).
"""
from __future__ import annotations

from aiohttp import web

from ..core.access import ALL_STAFF, current_user, require_role

routes = web.RouteTableDef()


@routes.get("/api/me", name="api_me")
@require_role(*ALL_STAFF)
async def me(request: web.Request) -> web.Response:
    user = current_user(request)
    return web.json_response({"username": user.username, "display_name": user.display_name,
                              "role": user.role, "csrf_token": user.csrf_token},
                             headers={"Cache-Control": "no-store"})
