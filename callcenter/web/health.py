"""``/healthz`` for monitoring: is the database answering, and what do AMI and ASR report.

AMI, ASR and dialer objects are wired in by the service through
``create_app(extras=...)``.  Each may offer ``health()`` (plain or async) or
``as_dict()`` (a SpeechStatus) returning something JSON-able, or be a
callable doing the same; an AMI link without ``health()`` reports its public
``snapshot()`` fields; absent ones report "not configured".  Only the
database decides the HTTP status.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from aiohttp import web

from ..recording_space import recording_space
from . import keys
from .access import public
from .components import ami_snapshot, speech_view

routes = web.RouteTableDef()
log = logging.getLogger(__name__)
DB_TIMEOUT_S = 3.0


async def component_health(component: Any) -> Any:
    if component is None:
        return "not configured"
    probe = (getattr(component, "health", None) or getattr(component, "as_dict", None)
             or (component if callable(component) else None))
    if probe is None:
        snapshot = ami_snapshot(component)        # the AMI link: its public counters, never its credentials
        return snapshot if snapshot is not None else "configured"
    try:
        value = probe()
        if inspect.isawaitable(value):
            value = await asyncio.wait_for(value, DB_TIMEOUT_S)
        return value
    except Exception as exc:  # a broken component must not break the health page
        log.warning("health probe of %r failed: %s", component, exc)
        return "error"


async def database_health(app: web.Application) -> str:
    try:
        async with asyncio.timeout(DB_TIMEOUT_S):
            async with app[keys.DB].pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        return "ok"
    except Exception as exc:
        log.warning("health check: database unavailable: %s", exc)
        return "error"


@routes.get("/healthz", name="healthz")
@public
async def healthz(request: web.Request) -> web.Response:
    app = request.app
    body = {
        "database": await database_health(app),
        "ami": await component_health(app.get(keys.AMI)),
        "asr": await component_health(app.get(keys.ASR)),
    }
    if body["asr"] == "configured":               # a recognizer object: say which mode and how many workers
        body["asr"] = speech_view(app).as_dict()
    if app.get(keys.DIALER) is not None:
        body["dialer"] = await component_health(app[keys.DIALER])
    body["recordings"] = recording_space(app[keys.SETTINGS]).health()
    return web.json_response(body, status=200 if body["database"] == "ok" else 503,
                             headers={"Cache-Control": "no-store"})
