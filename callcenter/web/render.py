"""Templates: one jinja2 environment, autoescape always on, and what every page needs.

Every template gets the signed-in user, the CSRF token for its forms, the
nav entries this role may open and the flash messages of the session.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ..db import web_sessions as sessions_repo
from ..ledger.privacy import mask_phone
from ..ledger.timezone import OFFICE_TZ, office_text
from . import keys, labels
from .access import current_user, may_open

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class NavItem:
    """A nav link to a named GET route; shown only to roles that route allows."""
    label: str
    route_name: str


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored instant as Beijing wall time (the office's clock, whatever the server's)."""
    return office_text(value, fmt)


def shown_time(value: datetime | str | None) -> str:
    """Any instant for people, ``2024-01-01 10:00`` Beijing time: a datetime or an ISO text (e.g. from JSON)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
        if value.tzinfo is None:
            value = value.replace(tzinfo=OFFICE_TZ)
    return local_time(value)


def phone(value: str | None, full: bool = False) -> str:
    """Masked unless the page decided this viewer may see the full number."""
    return (value or "") if full else mask_phone(value)


async def _page_context(request: web.Request, *, with_flash: bool) -> dict[str, Any]:
    user = current_user(request)
    nav = [item for item in request.app[keys.NAV] if may_open(user, request.app, item.route_name)]
    flashes: list[dict] = []
    # Only sessions with messages waiting pay for the pop (one of them may come from this very request).
    if user is not None and with_flash and (user.has_flash or request.get(keys.FLASH_PUSHED)):
        async with request.app[keys.DB].pool.acquire() as conn:
            flashes = await sessions_repo.pop_flash(conn, user.session_id)
    return {"user": user, "csrf_token": user.csrf_token if user else "", "nav": nav, "flashes": flashes,
            "request_path": request.path}


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        # New areas keep their templates beside their handlers, named "<area>/<file>.html".
        loader=jinja2.ChoiceLoader([
            jinja2.PrefixLoader({"desk": jinja2.FileSystemLoader(str(TEMPLATES.parent / "desk" / "templates"))}),
            jinja2.FileSystemLoader(str(TEMPLATES))]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["local_time"] = local_time
    env.filters["phone"] = phone
    env.filters["shown_time"] = shown_time
    labels.install(env)


async def render(template: str, request: web.Request, context: dict[str, Any] | None = None, *,
                 status: int = 200, with_flash: bool = True) -> web.Response:
    """A full page: the template's own context plus what the layout needs.

    Flash messages are taken (and so removed) only by pages that show them, never
    by redirects or JSON, so a message survives until someone can read it.
    """
    page = await _page_context(request, with_flash=with_flash)
    page.update(context or {})
    response = aiohttp_jinja2.render_template(template, request, page, status=status)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def flash(request: web.Request, kind: str, message: str) -> None:
    """A message for the next page this session sees (kind: ok | error)."""
    user = current_user(request)
    if user is not None:
        async with request.app[keys.DB].pool.acquire() as conn:
            await sessions_repo.push_flash(conn, user.session_id, kind, message)
        request[keys.FLASH_PUSHED] = True
