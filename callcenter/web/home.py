"""``/``: the ledger is where every role starts (a dashboard may take this over later)."""
from __future__ import annotations

from aiohttp import web

from .access import ALL_STAFF, require_role

routes = web.RouteTableDef()


@routes.get("/", name="home")
@require_role(*ALL_STAFF)
async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(request.app.router["tickets"].url_for())
