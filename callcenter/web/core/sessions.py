"""Session cookie ↔ server-side session row, on every request.

The cookie holds a random token only (HttpOnly, SameSite=Strict, Secure when
configured); the row holds who it is, the CSRF token and the clocks.  A cookie
whose session is gone (signed out, expired, idle) is cleared in the response.
"""
from __future__ import annotations

import secrets

from aiohttp import web

from ...db import web_sessions as repo
from . import keys

SESSION_COOKIE = "cc_session"
LOGIN_CSRF_COOKIE = "cc_login_csrf"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str, *,
               path: str = "/", max_age: int | None = None) -> None:
    response.set_cookie(name, value, path=path, max_age=max_age, httponly=True, samesite="Strict",
                        secure=over_https(request))


def over_https(request: web.Request) -> bool:
    """Whether cookies must be Secure: always when configured, or when a trusted TLS proxy says https.

    X-Forwarded-Proto is believed only when ``trust_forwarded_proto`` is set:
    any client can send the header, so trusting it by default would let one
    decide how our cookies are flagged.
    """
    config = request.app[keys.WEB_CONFIG]
    if config.cookie_secure or request.secure:
        return True
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return config.trust_forwarded_proto and forwarded == "https"


def clear_cookie(response: web.StreamResponse, name: str, *, path: str = "/") -> None:
    response.del_cookie(name, path=path)


async def start_session(request: web.Request, response: web.StreamResponse, user_id: int) -> None:
    """A fresh session (new token: no fixation) and its cookie."""
    config = request.app[keys.WEB_CONFIG]
    token = new_token()
    async with request.app[keys.DB].pool.acquire() as conn:
        await repo.create_session(conn, token, user_id, new_token(), lifetime=config.session_lifetime,
                                  ip=request.remote or "")
    set_cookie(response, request, SESSION_COOKIE, token)


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    user = request.get(keys.USER)
    if user is not None:
        async with request.app[keys.DB].pool.acquire() as conn:
            await repo.delete_session(conn, user.session_id)
    clear_cookie(response, SESSION_COOKIE)


@web.middleware
async def session_middleware(request: web.Request, handler):
    request[keys.USER] = None
    token = request.cookies.get(SESSION_COOKIE)
    stale = False
    if token and not request.path.startswith("/static/"):
        async with request.app[keys.DB].pool.acquire() as conn:
            request[keys.USER] = await repo.touch_session(conn, token, idle=request.app[keys.WEB_CONFIG].idle)
        stale = request[keys.USER] is None
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if stale and SESSION_COOKIE not in exc.cookies:     # a sign-in just set a fresh one: keep it
            clear_cookie(exc, SESSION_COOKIE)
        raise
    if stale and not response.prepared and SESSION_COOKIE not in response.cookies:
        clear_cookie(response, SESSION_COOKIE)
    return response
