"""``create_app``: the admin web app, assembled from one module per page area.

To add a page: write a module in its area's package (``web/<area>/``, its
templates in ``web/<area>/templates/``, named ``<area>/….html``) with
``routes = web.RouteTableDef()`` (every handler decorated with
``@require_role`` or ``@public``) and optional ``NAV`` entries, and append it
to :data:`PAGE_MODULES`.  The app refuses to
start if any route forgets to say who may use it.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any

from aiohttp import web

from ..config import Settings
from ..db.database import Database
from .admin import audit
from .api import api, api_session, health, metrics
from .appeals import appeals
from .calls import calls, recordings, review
from .campaigns import campaigns_page
from .core import cache, keys, login
from .desk import console as desk_console
from .desk import dial as desk_dial
from .desk import live as desk_live
from .desk import manual as desk_manual
from .desk import quality as desk_quality
from .desk import rules as desk_rules
from .home import home
from .hotline import calls as hotline_calls
from .hotline import console, repeat, wall
from .office import alerts_page, duty_page, intake_page, reports_page
from .tickets import deadline_policies, deadline_warnings, ticket_export, tickets
from .urban import urban
from .core.access import access_middleware, route_table
from .core.api_auth import token_middleware
from .core.config import WebConfig, web_config_from
from .core.csrf import csrf_middleware
from .core.errors import error_middleware
from .core.forward import forward_middleware, setup_forwarding
from .core.input_guard import input_guard_middleware
from .core.limits import MAX_BODY
from .core.render import STATIC, setup_templates
from .core.sessions import session_middleware

#: Response header naming the web process that answered (only with several: CALLCENTER_WEB_WORKERS).
WORKER_HEADER = "X-Callcenter-Worker"

#: Page areas, in nav order.  Registration order matters where patterns overlap:
#: fixed paths (e.g. /tickets/export.xlsx) never collide thanks to \d+ on ids.
PAGE_MODULES: list[ModuleType] = [
    home, login, health, tickets, ticket_export, deadline_warnings, api_session,
    calls, recordings, review,              # 回访审核
    console, wall, repeat, hotline_calls,   # 心理疏导专线
    campaigns_page, appeals, urban,         # 回访活动, 考核申诉, 城市管理
    audit, deadline_policies, api, metrics,
    alerts_page, duty_page, intake_page, reports_page,    # 预警, 值班表, 工单导入, 报表
    desk_console, desk_dial, desk_live, desk_manual, desk_quality, desk_rules,   # 人工回访 … 转人工规则
]



def create_app(db: Database, settings: Settings, *, extras: dict[str, Any] | None = None) -> web.Application:
    """The web app over ``db``.

    ``extras``: optional components by name: ``ami``, ``asr``, ``dialer`` (for
    /healthz and later pages) and ``web_config`` (a :class:`WebConfig`; default
    from ``settings``).  Unknown names are an error, not silently ignored.
    """
    extras = dict(extras or {})
    config = extras.pop("web_config", None) or web_config_from(settings)
    if not isinstance(config, WebConfig):
        raise TypeError("extras['web_config'] must be a WebConfig")
    unknown = set(extras) - set(keys.EXTRA_KEYS)
    if unknown:
        raise ValueError(f"unknown extras {sorted(unknown)}; known: {sorted(keys.EXTRA_KEYS)} and web_config")
    app = web.Application(
        middlewares=[error_middleware, forward_middleware, session_middleware, token_middleware, access_middleware, csrf_middleware,
                     input_guard_middleware],
        client_max_size=MAX_BODY,
    )
    app[keys.DB] = db
    app[keys.SETTINGS] = settings
    app[keys.WEB_CONFIG] = config
    for name, key in keys.EXTRA_KEYS.items():
        app[key] = extras.get(name)
    setup_templates(app)
    nav = []
    cache.setup_app(app)
    for module in PAGE_MODULES:
        app.add_routes(module.routes)
        nav.extend(getattr(module, "NAV", ()))
        if hasattr(module, "setup_app"):      # per-app state a page area keeps (e.g. a cache)
            module.setup_app(app)
    app[keys.NAV] = nav
    app.router.add_static("/static/", STATIC, name="static")
    app.on_response_prepare.append(_security_headers)
    setup_forwarding(app)
    if app[keys.WORKER] is not None:
        app.on_response_prepare.append(_worker_header)
    route_table(app)          # raises if any route declares no roles
    return app


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Defence in depth: no framing, no MIME sniffing, no inline or foreign scripts."""
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


async def _worker_header(request: web.Request, response: web.StreamResponse) -> None:
    """Which of the web processes answered (a relayed page keeps the one that did the work)."""
    response.headers.setdefault(WORKER_HEADER, str(request.app[keys.WORKER]))
