"""``/healthz`` for monitoring: is the database answering, and what do AMI and ASR report.

AMI, ASR and dialer objects are wired in by the service through
``create_app(extras=...)``.  Each may offer ``health()`` (plain or async) or
``as_dict()`` (a SpeechStatus) returning something JSON-able, or be a
callable doing the same; an AMI link without ``health()`` reports its public
``snapshot()`` fields; absent ones report "not configured".

Who sees what: anyone (a load balancer, a monitor) gets only up/down per
dependency — no paths, disk figures, addresses or error texts, which help an
attacker more than a monitor.  Admins (signed in) and API tokens (as for
/metrics) get the details.  The answer is 503 when the database or a
configured AMI link is down, so a monitor needs to read no body.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from aiohttp import web

from ...recording_space import recording_space
from ..core import keys
from ..core.access import current_user, public
from ..core.api_auth import via_token
from ..core.components import ami_snapshot, speech_view
from ..core.forward import needs_telephony

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


def up_down(value: Any) -> str:
    """A component's detail reduced to what the public may know."""
    if value == "not configured":
        return value
    if value in ("error", "down") or (isinstance(value, dict) and not value.get("connected", True)):
        return "down"
    if isinstance(value, dict) and value.get("logged_in") is False:
        return "down"
    return "up"


def sees_details(request: web.Request) -> bool:
    user = current_user(request)
    return user is not None and (via_token(request) or user.role == "admin")


@routes.get("/healthz", name="healthz")
@public
@needs_telephony
async def healthz(request: web.Request) -> web.Response:
    details = await health_details(request.app)
    summary = {"database": "up" if details["database"] == "ok" else "down",
               "ami": up_down(details["ami"]), "asr": up_down(details["asr"])}
    down = summary["database"] == "down" or summary["ami"] == "down"
    body = {"status": "down" if down else "up", **summary}
    if sees_details(request):
        body = {**details, "status": body["status"], "summary": summary}
    return web.json_response(body, status=503 if down else 200, headers={"Cache-Control": "no-store"})


async def health_details(app: web.Application) -> dict[str, Any]:
    """Everything /healthz knows (for admins and tokens)."""
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
    return body
