"""Sign-in and sign-out pages, with lockout after repeated failures."""
from __future__ import annotations

import math
from urllib.parse import urlsplit
from datetime import datetime, timedelta

from aiohttp import web

from ...db import users as users_repo
from ...db import web_sessions as repo
from ...security.passwords import hash_password, verify_password
from . import keys
from .access import ALL_STAFF, MAX_NEXT, current_user, public, require_role
from .config import WebConfig
from .landing import landing_page
from .lockout import locked_until
from .render import render
from .sessions import LOGIN_CSRF_COOKIE, end_session, new_token, set_cookie, start_session

routes = web.RouteTableDef()

HOME = "/tickets"
#: Verified when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password("no-such-user-0")
BAD_CREDENTIALS = "用户名或密码错误。"
#: Failed sign-ins are kept this long for a security review, then pruned.
KEEP_FAILURES = timedelta(days=30)
#: Longer names cannot exist (and would overflow the failure log's index); longer passwords are not ours.
MAX_USERNAME = 150
MAX_PASSWORD = 1024


def safe_next(target: str | None) -> str:
    """Only a same-origin path: an attacker's link must not bounce a fresh session to another site.

    Decided by parsing, not by a list of bad prefixes: browsers drop tabs and
    newlines and read ``\\`` as ``/``, so ``/\t/evil.com`` is ``//evil.com`` to
    them.  Any control character or backslash refuses the target outright;
    what remains must parse with no scheme and no host, as an absolute path.
    """
    if not target or len(target) > MAX_NEXT or "\\" in target \
            or any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in target):
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return HOME
    return target


def lock_message(until: datetime, now: datetime) -> str:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return f"登录失败次数过多, 已暂时锁定。请 {minutes} 分钟后再试, 或联系管理员。"


async def lock_end(conn, config: WebConfig, username: str, ip: str, now: datetime) -> datetime | None:
    """When the lock on this username or this client address ends (the later of the two)."""
    since = now - config.lockout_window - config.lockout_duration
    ends = [
        locked_until(await repo.recent_failures_for_user(conn, username, since, config.lockout_failures),
                     now=now, threshold=config.lockout_failures, window=config.lockout_window,
                     duration=config.lockout_duration),
        locked_until(await repo.recent_failures_for_ip(conn, ip, since, config.ip_lockout_failures),
                     now=now, threshold=config.ip_lockout_failures, window=config.lockout_window,
                     duration=config.lockout_duration),
    ]
    ends = [e for e in ends if e is not None]
    return max(ends) if ends else None


async def _login_page(request: web.Request, *, error: str = "", username: str = "", next_url: str = "",
                      status: int = 200) -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()
    response = await render("login.html", request, {
        "login_csrf": token, "error": error, "username": username,
        "next": safe_next(asked) if (asked := next_url or request.query.get("next")) else "",
    }, status=status, with_flash=False)
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token, path="/login")
    return response


@routes.get("/login", name="login")
@public
async def login_form(request: web.Request) -> web.StreamResponse:
    if current_user(request) is not None:
        raise web.HTTPFound(safe_next(request.query.get("next")))
    return await _login_page(request)


@routes.post("/login")
@public
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    asked = str(form.get("next", ""))
    next_url = safe_next(asked)
    if len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
        return await _login_page(request, error="用户名或密码过长。", username=username[:MAX_USERNAME],
                                 next_url=next_url, status=400)
    if not username or not password:
        return await _login_page(request, error="请输入用户名和密码。", username=username, next_url=next_url,
                                 status=400)
    config = request.app[keys.WEB_CONFIG]
    ip = request.remote or ""
    async with request.app[keys.DB].pool.acquire() as conn:
        now = await repo.database_now(conn)
        until = await lock_end(conn, config, username, ip, now)
        if until is not None:
            return await _login_page(request, error=lock_message(until, now), username=username, next_url=next_url,
                                     status=429)
        user = await users_repo.get_user(conn, username)
        ok = verify_password(password, user["password_hash"] if user else _DUMMY_HASH) and user is not None
        if not ok:
            await repo.record_login_failure(conn, username, ip)
            until = await lock_end(conn, config, username, ip, now)
            message = lock_message(until, now) if until else BAD_CREDENTIALS
            return await _login_page(request, error=message, username=username, next_url=next_url,
                                     status=429 if until else 401)
        await repo.clear_login_failures(conn, username)
        # Housekeeping on a rare, cheap occasion, so no background job is needed.
        await repo.delete_expired_sessions(conn, idle=config.idle)
        await repo.prune_login_failures(conn, older_than=KEEP_FAILURES)
        if safe_next(asked) != asked:            # nothing (safe) asked for: the role's own start page
            next_url = await landing_page(conn, user["role"])
    response = web.HTTPSeeOther(next_url)
    await end_session(request, response)       # signing in again replaces any old session
    await start_session(request, response, user["id"])
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise response


@routes.post("/logout", name="logout")
@require_role(*ALL_STAFF)
async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther(request.app.router["login"].url_for())
    await end_session(request, response)
    raise response
