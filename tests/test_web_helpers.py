"""Shared fixtures for the web tests: an app on the test database, signed-in clients.

Imported by the other test_web_* modules (pytest finds fixtures in a test
module's namespace); the one test here checks the sign-in helper itself.
"""
from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.web.app import create_app
from callcenter.web.config import WebConfig
from callcenter.web.sessions import SESSION_COOKIE

from .factories import insert_user

PASSWORD = "correct-horse-1"
#: Small numbers so tests exercise limits quickly; same rules as production.
TEST_WEB_CONFIG = WebConfig(lockout_failures=5, lockout_window_minutes=15, lockout_minutes=15,
                            ip_lockout_failures=12, page_size=7)
_HIDDEN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(db, settings, **extras):
    extras.setdefault("web_config", TEST_WEB_CONFIG)
    return create_app(db, settings, extras=extras)


@pytest.fixture
async def users(db) -> dict[str, int]:
    async with db.pool.acquire() as conn:
        return {role: await insert_user(conn, role, role, PASSWORD) for role in ("admin", "supervisor", "agent")}


@pytest.fixture
async def client(db, settings, users):
    """A client with no session (one per test); ``users`` holds admin/supervisor/agent accounts."""
    async with TestClient(TestServer(make_app(db, settings))) as c:
        yield c


async def open_client(app) -> TestClient:
    c = TestClient(TestServer(app))
    await c.start_server()
    return c


async def login_form_token(client: TestClient) -> str:
    response = await client.get("/login")
    assert response.status == 200
    return _HIDDEN_CSRF.search(await response.text()).group(1)


async def login(client: TestClient, username: str, password: str = PASSWORD, *, next_url: str = ""):
    """Submit the sign-in form as a browser would; returns the response (redirect not followed)."""
    token = await login_form_token(client)
    return await client.post("/login", data={"csrf_token": token, "username": username, "password": password,
                                             "next": next_url}, allow_redirects=False)


async def sign_in(client: TestClient, username: str) -> str:
    """Sign in and return the session's CSRF token (from /api/me, as a script would get it)."""
    response = await login(client, username)
    assert response.status == 303, await response.text()
    me = await client.get("/api/me")
    assert me.status == 200
    return (await me.json())["csrf_token"]


def session_cookie(client: TestClient) -> str | None:
    for cookie in client.session.cookie_jar:
        if cookie.key == SESSION_COOKIE:
            return cookie.value
    return None


async def test_sign_in_helper_yields_a_session_of_that_role(client):
    token = await sign_in(client, "supervisor")
    me = await (await client.get("/api/me")).json()
    assert me["role"] == "supervisor" and me["csrf_token"] == token
    assert session_cookie(client)
