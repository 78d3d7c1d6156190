"""``/metrics``: Prometheus text for the office's monitoring (calls, AMI link, queues, speech workers).

Written by hand (text format 0.0.4): a dozen gauges need no client library.
Open to admins, or to any API token (a scraper signs in with ``Authorization:
Bearer``), never to the public: queue sizes say how busy the office is.
Queue sizes come from the database, so they count every instance's work; the
in-flight and AMI figures are this instance's.
"""
from __future__ import annotations

import math
from typing import Iterable

from aiohttp import web

from ...db import campaign_queries, review_queries
from ..core import keys
from ..core.access import ALL_STAFF, current_user, require_role
from ..core.api_auth import via_token
from ..core.components import ami_snapshot, dialer_live_calls, speech_view
from ..core.forward import needs_telephony
from .health import database_health

routes = web.RouteTableDef()
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return repr(value) if isinstance(value, float) else str(int(value))


def gauge(name: str, help_text: str, samples: Iterable[tuple[dict[str, str], float | int | bool]],
          kind: str = "gauge") -> list[str]:
    """One metric family in text format: HELP, TYPE, then one line per labelled sample."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        rendered = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items()))
        lines.append(f"{name}{{{rendered}}} {_number(value)}" if rendered else f"{name} {_number(value)}")
    return lines


async def collect(app: web.Application) -> str:
    lines: list[str] = []
    db_ok = await database_health(app) == "ok"
    lines += gauge("callcenter_database_up", "Whether the database answers (1) or not (0).", [({}, db_ok)])
    if db_ok:
        async with app[keys.DB].pool.acquire() as conn:
            pending = await campaign_queries.pending_attempts(conn)
            live = await campaign_queries.live_attempts(conn)
            review = await review_queries.review_queue_size(conn)
        lines += gauge("callcenter_callback_attempts_pending", "Callback attempts waiting to be dialed.",
                       [({}, pending)])
        lines += gauge("callcenter_callback_attempts_live", "Callback attempts dialing or on the line (all instances).",
                       [({}, live)])
        lines += gauge("callcenter_review_queue_size", "Speech answers waiting for a supervisor.", [({}, review)])
    in_flight = dialer_live_calls(app)
    if in_flight is not None:
        lines += gauge("callcenter_calls_in_flight", "Calls this instance's dialer is following.", [({}, in_flight)])
    ami = ami_snapshot(app.get(keys.AMI))
    if ami is not None:
        lines += gauge("callcenter_ami_up", "AMI link connected and logged in (1) or not (0).",
                       [({"state": str(ami.get("state", ""))}, bool(ami.get("connected")) and bool(ami.get("logged_in")))])
        lines += gauge("callcenter_ami_events_per_second", "AMI events received per second (last second).",
                       [({}, float(ami.get("events_per_second") or 0.0))])
        lines += gauge("callcenter_ami_events_received_total", "AMI events received since start.",
                       [({}, int(ami.get("events_received") or 0))], kind="counter")
        lines += gauge("callcenter_ami_reconnects_total", "AMI reconnections since start.",
                       [({}, int(ami.get("reconnects") or 0))], kind="counter")
    speech = speech_view(app)
    lines += gauge("callcenter_asr_speech_enabled", "Speech recognition running (1) or DTMF only (0).",
                   [({"mode": speech.mode}, speech.mode == "speech")])
    if speech.workers is not None:
        lines += gauge("callcenter_asr_workers", "Speech recognition worker processes.", [({}, speech.workers)])
    if speech.busy is not None:
        lines += gauge("callcenter_asr_workers_busy", "Speech workers decoding right now.", [({}, speech.busy)])
    return "\n".join(lines) + "\n"


@routes.get("/metrics", name="metrics")
@require_role(*ALL_STAFF)
@needs_telephony
async def metrics(request: web.Request) -> web.Response:
    if not via_token(request) and current_user(request).role != "admin":
        raise web.HTTPForbidden(text="/metrics 仅对管理员或 API 令牌开放")
    return web.Response(body=(await collect(request.app)).encode(), headers={
        "Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})
