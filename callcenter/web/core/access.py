"""Who may open what: every handler declares its roles, and anything undeclared is refused.

``@require_role("admin", "supervisor")`` or ``@public`` on each handler; the
app refuses to start with a route that has neither (deny by default), and
:func:`route_table` lists every route with its roles so a test can walk them all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from aiohttp import web

from ...db.users import ROLES
from ...db.web_sessions import SessionUser
from . import keys

ALL_STAFF = frozenset(ROLES)
MANAGERS = frozenset({"admin", "supervisor"})
_ATTR = "__cc_roles__"
PUBLIC = frozenset({"*"})     # marker: no session needed
#: Longest ``next=`` carried through sign-in (the Location header must stay far below 8 KB).
MAX_NEXT = 1000


def require_role(*roles: str) -> Callable:
    unknown = set(roles) - ALL_STAFF
    if not roles or unknown:
        raise ValueError(f"require_role needs known roles, got {roles!r}")

    def mark(handler: Callable) -> Callable:
        setattr(handler, _ATTR, frozenset(roles))
        return handler
    return mark


def public(handler: Callable) -> Callable:
    setattr(handler, _ATTR, PUBLIC)
    return handler


def roles_of(handler: object) -> frozenset[str] | None:
    """The handler's declared roles (:data:`PUBLIC` for open ones); None if undeclared."""
    return getattr(handler, _ATTR, None)


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _route_roles(route: web.AbstractRoute) -> frozenset[str] | None:
    if isinstance(route.resource, web.StaticResource):
        return PUBLIC
    return roles_of(route.handler)


@dataclass(frozen=True)
class RouteAccess:
    method: str
    path: str              # the route's pattern, e.g. /tickets/{ticket_id}
    name: str | None
    roles: frozenset[str]  # PUBLIC for open routes


def route_table(app: web.Application) -> list[RouteAccess]:
    """Every route of ``app`` with who may use it; raises if one declares nothing."""
    table = []
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        roles = _route_roles(route)
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix") or "?"
        if roles is None:
            raise RuntimeError(f"route {route.method} {path} declares no roles: "
                               "decorate its handler with @require_role(...) or @public")
        table.append(RouteAccess(route.method, path, route.name, roles))
    return table


def current_user(request: web.Request) -> SessionUser | None:
    return request.get(keys.USER)


def may_open(user: SessionUser | None, app: web.Application, route_name: str) -> bool:
    """Whether ``user`` may GET the named route (used to build the nav)."""
    for candidate in app.router[route_name]:
        if candidate.method == "GET":
            roles = _route_roles(candidate)
            return roles == PUBLIC or (user is not None and roles is not None and user.role in roles)
    return False


@web.middleware
async def access_middleware(request: web.Request, handler):
    """No session: pages redirect to /login, /api answers 401.  Wrong role: 403."""
    match = request.match_info
    if match.http_exception is not None:          # 404 / 405: nothing to protect
        return await handler(request)
    roles = _route_roles(match.route)
    if roles == PUBLIC:
        return await handler(request)
    user = current_user(request)
    if user is None:
        if is_api(request.path):
            return web.json_response({"error": "unauthorized", "message": "请先登录"}, status=401)
        target = request.path_qs if request.method == "GET" else "/"
        if len(target) > MAX_NEXT:       # a redirect no browser could follow: come back to the page, not the query
            target = request.path if len(request.path) <= MAX_NEXT else "/"
        raise web.HTTPFound(request.app.router["login"].url_for().with_query(next=target))
    if roles is None or user.role not in roles:
        raise web.HTTPForbidden(text="您的角色无权访问此页面")
    return await handler(request)
