"""主管大屏 (supervisor live wall): waiting callers, agents, today's figures, high-risk alerts, pushed live.

The page gets one full picture when the websocket opens, then every change:
``live`` (queue and agents), ``stats`` (today's counts after each call is
stored) and ``alert`` (a counseling record marked high risk, at once).
"""
from __future__ import annotations

from aiohttp import web

from ...hotline.hub import WALL
from ..core.access import MANAGERS, require_role
from .console import hotline_of
from ..core.render import NavItem, render
from ..core.ws_pump import pump_topic

routes = web.RouteTableDef()
NAV = [NavItem("专线大屏", "wall")]


@routes.get("/wall", name="wall")
@require_role(*MANAGERS)
async def wall(request: web.Request) -> web.Response:
    return await render("hotline/wall.html", request, {})


@routes.get("/wall/ws", name="wall_ws")
@require_role(*MANAGERS)
async def wall_ws(request: web.Request) -> web.WebSocketResponse:
    service = hotline_of(request)

    async def greet(ws: web.WebSocketResponse) -> None:
        """The full picture first; the topic then carries every change."""
        live = service.live_greeting()
        if live is not None:
            await ws.send_json(live)
        await ws.send_json({"type": "stats", **await service.today()})
        for alert in await service.todays_alerts():
            await ws.send_json({"type": "alert", **alert})

    return await pump_topic(request, service.hub, WALL, greet)
