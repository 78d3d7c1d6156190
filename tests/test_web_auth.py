"""Sign-in, sessions, lockout and role checks of the admin web app."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from callcenter.db.web_sessions import token_digest
from callcenter.web.core.access import PUBLIC, route_table
from callcenter.web.core.config import web_config_from
from callcenter.web.core.lockout import locked_until

from .factories import insert_ticket
from .test_web_helpers import (PASSWORD, TEST_WEB_CONFIG, client, login, make_app,  # noqa: F401
                               session_cookie, sign_in, users)


def concrete(path: str, ticket_id: int) -> str:
    return path.replace("{ticket_id}", str(ticket_id)).replace("/static", "/static/app.css")


async def test_every_non_public_route_needs_a_session(client, db):
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn)
    checked = 0
    for route in route_table(client.server.app):
        if route.roles == PUBLIC:
            continue
        path = concrete(route.path, ticket_id)
        response = await client.request(route.method, path, allow_redirects=False)
        if path.startswith("/api/"):
            assert response.status == 401, path
            assert (await response.json())["error"]
        else:
            assert response.status == 302, (route.method, path)
            assert response.headers["Location"].startswith("/login"), path
        checked += 1
    assert checked >= 6    # /, /tickets, detail, step, export, logout, /api/me at least


async def test_public_routes_open_without_a_session(client):
    for path in ("/login", "/healthz", "/static/app.css"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 200, path
    public = {r.path for r in route_table(client.server.app) if r.roles == PUBLIC}
    assert public == {"/login", "/healthz", "/static"}


async def test_agent_gets_403_on_every_route_for_managers_only(client, db):
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn)
    token = await sign_in(client, "agent")
    manager_routes = [r for r in route_table(client.server.app) if r.roles != PUBLIC and "agent" not in r.roles]
    assert manager_routes, "expected at least the export to be for managers only"
    for route in manager_routes:
        response = await client.request(route.method, concrete(route.path, ticket_id),
                                        headers={"X-CSRF-Token": token}, allow_redirects=False)
        assert response.status == 403, route
        assert "没有权限" in await response.text()


async def test_every_route_declares_roles_or_the_app_refuses_to_start(db, settings):
    from aiohttp import web
    app = make_app(db, settings)

    async def undeclared(request):
        return web.Response(text="oops")
    app.router.add_get("/forgot-roles", undeclared)
    with pytest.raises(RuntimeError, match="declares no roles"):
        route_table(app)


async def test_sign_in_redirects_to_the_page_asked_for_but_only_locally(client):
    response = await login(client, "agent", next_url="/tickets?status=received")
    assert response.status == 303 and response.headers["Location"] == "/tickets?status=received"
    await client.post("/logout", data={"csrf_token": (await (await client.get("/api/me")).json())["csrf_token"]})
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = await login(client, "agent", next_url=evil)
        assert response.headers["Location"] == "/console", evil        # the agent's own start page instead


async def test_each_role_lands_on_its_own_page(client, db):
    from callcenter.db import callbacks
    from .factories import insert_ticket
    landings = {}
    for role in ("admin", "supervisor", "agent"):
        landings[role] = (await login(client, role)).headers["Location"]
    assert landings == {"admin": "/", "supervisor": "/", "agent": "/console"}
    async with db.pool.acquire() as conn:            # something waits for review: the supervisor starts there
        attempt = await callbacks.create_attempt(conn, await insert_ticket(conn, "T-R"), phone="13800000001",
                                                 state="answered")
        await callbacks.record_answer(conn, attempt, "satisfaction", intent=None, source="speech",
                                      transcript="嗯", confidence=0.2, needs_review=True)
    assert (await login(client, "supervisor")).headers["Location"] == "/review"
    assert (await login(client, "admin")).headers["Location"] == "/"


async def test_session_token_is_random_and_stored_only_as_its_hash(client, db):
    await sign_in(client, "agent")
    first = session_cookie(client)
    async with db.pool.acquire() as conn:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM web_sessions")]
    assert ids == [token_digest(first)] and first not in ids
    await sign_in(client, "agent")        # signing in again: a new token, the old session is gone
    second = session_cookie(client)
    assert second != first
    async with db.pool.acquire() as conn:
        assert [r["id"] for r in await conn.fetch("SELECT id FROM web_sessions")] == [token_digest(second)]


async def test_session_cookie_flags(client):
    response = await login(client, "agent")
    cookie = response.cookies["cc_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert not cookie["secure"]          # default: plain HTTP on 127.0.0.1


async def test_secure_cookie_is_configurable(db, settings, users):
    from dataclasses import replace

    from .test_web_helpers import open_client
    c = await open_client(make_app(db, settings, web_config=replace(TEST_WEB_CONFIG, cookie_secure=True)))
    try:
        form = await c.get("/login")
        assert form.cookies["cc_login_csrf"]["secure"]
        token = form.cookies["cc_login_csrf"].value
        # The client rightly keeps Secure cookies off plain HTTP, so hand it over as a browser on HTTPS would.
        response = await c.post("/login", data={"csrf_token": token, "username": "agent", "password": PASSWORD},
                                headers={"Cookie": f"cc_login_csrf={token}"}, allow_redirects=False)
        assert response.status == 303
        assert response.cookies["cc_session"]["secure"]
    finally:
        await c.close()


async def test_wrong_password_is_refused_with_a_clear_message(client):
    response = await login(client, "agent", "wrong-password-1")
    assert response.status == 401
    assert "用户名或密码错误" in await response.text()
    assert session_cookie(client) is None
    response = await login(client, "nobody", PASSWORD)
    assert response.status == 401 and "用户名或密码错误" in await response.text()


async def test_lockout_after_five_failures_then_unlock_after_the_lock_period(client, db):
    for attempt in range(TEST_WEB_CONFIG.lockout_failures - 1):
        assert (await login(client, "agent", f"bad-password-{attempt}")).status == 401
    response = await login(client, "agent", "bad-password-last")
    assert response.status == 429 and "已暂时锁定" in await response.text()
    # Locked: even the right password is refused, and refusals do not extend the lock.
    response = await login(client, "agent", PASSWORD)
    assert response.status == 429 and "15 分钟" in await response.text()
    assert session_cookie(client) is None
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM login_failures") == TEST_WEB_CONFIG.lockout_failures
        # Time passes (the lock's 15 minutes): move the failures into the past.
        await conn.execute("UPDATE login_failures SET at = at - interval '16 minutes'")
    assert (await login(client, "agent", PASSWORD)).status == 303
    async with db.pool.acquire() as conn:       # success forgets that name's failures
        assert await conn.fetchval("SELECT count(*) FROM login_failures WHERE username = 'agent'") == 0


async def test_other_accounts_are_not_locked_by_one_users_failures(client):
    for attempt in range(TEST_WEB_CONFIG.lockout_failures):
        await login(client, "agent", f"bad-password-{attempt}")
    assert (await login(client, "supervisor")).status == 303


async def test_one_address_guessing_many_names_is_locked(client):
    for n in range(TEST_WEB_CONFIG.ip_lockout_failures):
        await login(client, f"guess{n}", "bad-password-1")
    response = await login(client, "agent", PASSWORD)
    assert response.status == 429 and "锁定" in await response.text()


async def test_logout_invalidates_the_session_server_side(client, db):
    token = await sign_in(client, "agent")
    stolen = session_cookie(client)
    response = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM web_sessions") == 0
    # Replaying the old cookie (as a thief would) gets nothing.
    client.session.cookie_jar.update_cookies({"cc_session": stolen})
    response = await client.get("/tickets", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login")
    assert (await client.get("/api/me")).status == 401


async def test_logout_is_post_only(client):
    await sign_in(client, "agent")
    response = await client.get("/logout", allow_redirects=False)
    assert response.status == 405
    assert (await client.get("/api/me")).status == 200


async def test_idle_session_expires(client, db):
    await sign_in(client, "agent")
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE web_sessions SET last_seen = now() - interval '31 minutes'")
    response = await client.get("/tickets", allow_redirects=False)
    assert response.status == 302
    assert response.cookies["cc_session"].value == ""       # the dead cookie is cleared


async def test_activity_keeps_a_session_alive_without_a_write_per_page(client, db):
    await sign_in(client, "agent")
    seen = "SELECT last_seen FROM web_sessions"
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE web_sessions SET last_seen = now() - interval '20 seconds'")
        before = await conn.fetchval(seen)
        assert (await client.get("/api/me")).status == 200
        assert await conn.fetchval(seen) == before                  # seen 20 s ago: not rewritten
        await conn.execute("UPDATE web_sessions SET last_seen = now() - interval '29 minutes'")
        assert (await client.get("/api/me")).status == 200
        assert await conn.fetchval("SELECT now() - last_seen FROM web_sessions") < timedelta(seconds=5)
    assert (await client.get("/tickets", allow_redirects=False)).status == 200     # the idle clock restarted


async def test_a_message_shows_once_on_the_next_page(client, db):
    await sign_in(client, "supervisor")
    from callcenter.db.web_sessions import push_flash
    async with db.pool.acquire() as conn:
        session_id = await conn.fetchval("SELECT id FROM web_sessions")
        await push_flash(conn, session_id, "ok", "已保存-测试消息")
    assert "已保存-测试消息" in await (await client.get("/tickets")).text()
    assert "已保存-测试消息" not in await (await client.get("/tickets")).text()


async def test_absolute_session_lifetime(client, db):
    await sign_in(client, "agent")
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE web_sessions SET expires_at = now() - interval '1 second'")
    assert (await client.get("/api/me")).status == 401


async def test_disabling_an_account_ends_its_sessions(client, db):
    await sign_in(client, "agent")
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE users SET active = false WHERE username = 'agent'")
    assert (await client.get("/api/me")).status == 401


async def test_signing_in_sweeps_dead_sessions_and_old_failures(client, db, settings):
    from .test_web_helpers import open_client
    other = await open_client(make_app(db, settings))     # another browser, left idle
    try:
        await sign_in(other, "agent")
    finally:
        await other.close()
    await login(client, "nobody", "bad-password-1")
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE web_sessions SET last_seen = now() - interval '2 hours'")
        await conn.execute("UPDATE login_failures SET at = now() - interval '31 days'")
    await sign_in(client, "supervisor")
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM login_failures") == 0
        owners = await conn.fetch("SELECT u.username FROM web_sessions s JOIN users u ON u.id = s.user_id")
    assert [r["username"] for r in owners] == ["supervisor"]


def test_web_config_takes_overrides_from_settings():
    class WithWebSettings:
        web_idle_minutes = 5
        web_cookie_secure = True
    config = web_config_from(WithWebSettings())
    assert config.idle_minutes == 5 and config.cookie_secure
    assert (config.lockout_failures, config.lockout_window_minutes, config.lockout_minutes) == (5, 15, 15)


async def test_nav_and_links_follow_the_role(client, db):
    async with db.pool.acquire() as conn:
        await insert_ticket(conn)
    await sign_in(client, "agent")
    page = await (await client.get("/tickets")).text()
    assert "工单台账" in page and "导出 Excel" not in page
    await sign_in(client, "supervisor")
    page = await (await client.get("/tickets")).text()
    assert "导出 Excel" in page


T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
WINDOW, DURATION = timedelta(minutes=15), timedelta(minutes=15)


@given(st.lists(st.integers(min_value=0, max_value=3600), max_size=12), st.integers(0, 7200))
def test_lock_rule_matches_its_definition(offsets, now_offset):
    failures = sorted((T0 + timedelta(seconds=s) for s in offsets), reverse=True)
    now = T0 + timedelta(seconds=max(offsets, default=0) + now_offset)
    until = locked_until(failures, now=now, threshold=5, window=WINDOW, duration=DURATION)
    recent_burst = len(failures) >= 5 and failures[0] - failures[4] <= WINDOW
    expected = failures[0] + DURATION if recent_burst and now < failures[0] + DURATION else None
    assert until == expected
    if until is not None:
        assert now < until <= now + DURATION


def test_fewer_failures_than_the_threshold_never_lock():
    failures = [T0] * 4
    assert locked_until(failures, now=T0, threshold=5, window=WINDOW, duration=DURATION) is None
    assert locked_until(failures + [T0], now=T0, threshold=5, window=WINDOW, duration=DURATION) == T0 + DURATION
