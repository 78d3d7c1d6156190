"""Closing a live stream (server-sent events, websocket) is ordinary: nothing is logged at ERROR."""
from __future__ import annotations

import asyncio
import logging

from callcenter.db import campaigns
from callcenter.hotline.hub import WALL
from callcenter.hotline.service import HotlineService

from .test_web2_campaigns import read_event, with_trunk
from .test_web_helpers import client, make_app, open_client, sign_in, users  # noqa: F401


def errors(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


async def test_closing_an_event_stream_logs_no_error(client, db, caplog):
    await with_trunk(db)
    async with db.pool.acquire() as conn:
        campaign_id = await campaigns.create_campaign(conn, campaigns.CampaignSpec(name="关闭", trunk="main"))
    await sign_in(client, "supervisor")
    caplog.set_level(logging.DEBUG)
    for _ in range(2):
        response = await client.get(f"/campaigns/{campaign_id}/events")
        await read_event(response)
        response.close()                       # the browser tab goes away
    await asyncio.sleep(2.5)                   # the next keep-alive write meets the closed socket
    assert errors(caplog) == []


async def test_closing_a_websocket_logs_no_error(db, settings, users, caplog):  # noqa: F811
    hotline = HotlineService()
    hotline.pool = db.pool                 # what start() sets; the wall's greeting reads today's figures
    c = await open_client(make_app(db, settings, hotline=hotline))
    try:
        await sign_in(c, "supervisor")
        caplog.set_level(logging.DEBUG)
        ws = await c.ws_connect("/wall/ws")
        await ws.receive_json(timeout=5)
        ws._response.connection.transport.abort()       # gone without a close frame (a laptop lid)
        for _ in range(3):
            hotline.hub.publish(WALL, {"type": "wall"})
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        assert errors(caplog) == []
    finally:
        await c.close()
