"""CSRF: every unsafe request must echo a token an attacker's page cannot read.

Signed in, the token is the session's (stored server-side).  Before sign-in,
the login form uses a double-submit cookie: SameSite=Strict keeps other sites
from sending it, and they cannot read it to copy it into the form.
"""
from __future__ import annotations

import hmac

from aiohttp import web

from . import keys
from .api_auth import via_token
from .sessions import LOGIN_CSRF_COOKIE

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def submitted_token(request: web.Request) -> str:
    token = request.headers.get(HEADER, "")
    if not token and request.content_type in _FORM_TYPES:
        form = await request.post()            # cached: the handler reads the same form
        value = form.get(FIELD, "")
        token = value if isinstance(value, str) else ""
    return token


def expected_token(request: web.Request) -> str:
    user = request.get(keys.USER)
    if user is not None:
        return user.csrf_token
    return request.cookies.get(LOGIN_CSRF_COOKIE, "")


@web.middleware
async def csrf_middleware(request: web.Request, handler):
    if (request.method not in SAFE_METHODS and request.match_info.http_exception is None
            and not via_token(request)):          # a bearer token is never sent by the browser on its own
        expected = expected_token(request)
        supplied = await submitted_token(request)
        if not expected or not supplied or not hmac.compare_digest(expected.encode(), supplied.encode()):
            raise web.HTTPForbidden(text="安全校验失败 (CSRF), 请刷新页面后重试")
    return await handler(request)
