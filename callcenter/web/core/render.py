"""Templates: one jinja2 environment, autoescape always on, and what every page needs.

Every template gets the signed-in user, the CSRF token for its forms, the
nav entries this role may open and the flash messages of the session.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ...db import web_sessions as sessions_repo
from ...db.web_sessions import SessionUser
from ...ledger.privacy import mask_phone
from ...ledger.timezone import OFFICE_TZ, office_text
from . import keys, labels
from .access import current_user, may_open
from .templating import RowEnvironment

WEB = Path(__file__).resolve().parent.parent
#: The shared layouts (base.html, _pager.html, error.html, login.html, …), found without a prefix.
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = WEB / "static"


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


@dataclass(frozen=True)
class NavLink:
    """A nav entry as the layout shows it: the label and the route's URL."""
    label: str
    href: str


#: The nav each role sees (None: signed out), built once per app: routes and roles never change while it runs.
NAV_BY_ROLE = web.AppKey("cc_nav_by_role", dict)


def nav_for(app: web.Application, user: SessionUser | None) -> list[NavLink]:
    """The nav entries ``user``'s role may open, in nav order."""
    role = user.role if user is not None else None
    links = app[NAV_BY_ROLE].get(role)
    if links is None:
        links = [NavLink(item.label, str(app.router[item.route_name].url_for()))
                 for item in app[keys.NAV] if may_open(user, app, item.route_name)]
        app[NAV_BY_ROLE][role] = links
    return links


async def _page_context(request: web.Request, *, with_flash: bool) -> dict[str, Any]:
    user = current_user(request)
    nav = nav_for(request.app, user)
    flashes: list[dict] = []
    # Only sessions with messages waiting pay for the pop (one of them may come from this very request).
    if user is not None and with_flash and (user.has_flash or request.get(keys.FLASH_PUSHED)):
        async with request.app[keys.DB].pool.acquire() as conn:
            flashes = await sessions_repo.pop_flash(conn, user.session_id)
    return {"user": user, "csrf_token": user.csrf_token if user else "", "nav": nav, "flashes": flashes,
            "request_path": request.path}


def area_templates() -> dict[str, Path]:
    """Each area's own templates by its prefix: ``tickets/detail.html`` is ``web/tickets/templates/detail.html``."""
    return {folder.parent.name: folder for folder in sorted(WEB.glob("*/templates"))
            if folder.is_dir() and folder.parent.name != "core"}


def template_loader() -> jinja2.BaseLoader:
    """``<area>/name.html`` from that area's folder; anything else from the shared layouts of the core."""
    areas = jinja2.PrefixLoader({area: jinja2.FileSystemLoader(str(folder))
                                 for area, folder in area_templates().items()})
    return jinja2.ChoiceLoader([areas, jinja2.FileSystemLoader(str(TEMPLATES))])


def setup_templates(app: web.Application) -> None:
    """aiohttp_jinja2.setup's environment, as a :class:`RowEnvironment` that never re-reads the templates.

    ``auto_reload=False``: the templates ship with the package, so a page need not stat its
    template files (and their layouts) on every render to see whether they changed.
    """
    env = RowEnvironment(loader=template_loader(), autoescape=True, undefined=jinja2.StrictUndefined,
                         auto_reload=False)
    env.globals.update(aiohttp_jinja2.helpers.GLOBAL_HELPERS)
    env.globals["app"] = app
    app[aiohttp_jinja2.APP_KEY] = env
    app[NAV_BY_ROLE] = {}
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


async def redirect_with_flash(request: web.Request, to: Any, kind: str, message: str) -> NoReturn:
    """How a form POST ends: a message for the page at ``to`` (kind: ok | error), and a 303 there."""
    await flash(request, kind, message)
    raise web.HTTPSeeOther(to) from None
