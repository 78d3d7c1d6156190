"""Shared fixtures for the web tests: an app on the test database, signed-in clients.

Imported by the other test_web_* modules (pytest finds fixtures in a test
module's namespace); the one test here checks the sign-in helper itself.
"""
from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.web.app import create_app
from callcenter.web.core.config import WebConfig
from callcenter.web.core.sessions import SESSION_COOKIE

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


def test_display_names_leave_no_code_or_english_in_view():
    """One table names every code; Chinese messages carry no English asides; sizes are in MB."""
    import re

    from callcenter.campaigns.windows import CallingWindows, WindowError
    from callcenter.web.core.labels import actor_name, outcome_name, script_name, size_mb, source_name
    from callcenter.web.core.render import shown_time
    assert actor_name("import") == "工单导入" and actor_name("dialer") == "自动外呼" and actor_name("王五") == "王五"
    assert outcome_name("answered-complete") == "完成回访" and script_name("callback_three_rates").startswith("三率回访")
    assert source_name("grid") == "网格巡查" and source_name("platform") == "城管平台"
    assert size_mb(16 * 1024 * 1024) == "16 MB" and size_mb(16320 * 1024) == "16 MB" and size_mb(512 * 1024) == "0.5 MB"
    assert shown_time("2024-01-01T10:00:00+08:00") == "2024-01-01 10:00"
    assert shown_time("2024-01-01T02:00:00+00:00") == "2024-01-01 10:00"
    for spans in (["25:00-26:00"], ["12:00-09:00"], ["09:00-12:00", "11:00-13:00"], []):
        try:
            CallingWindows.parse(spans)
        except WindowError as exc:
            assert not re.search(r"[A-Za-z]{3,}", str(exc)), str(exc)
        else:
            raise AssertionError(spans)


class _NoCalls:
    """A hotline with nobody on the line (the console page needs only its state)."""
    class state:
        callers: dict = {}

        @staticmethod
        def agent_by_name(name):
            return None


async def test_a_refused_hotline_record_keeps_what_the_agent_typed(db, settings, users):
    client = await open_client(make_app(db, settings, hotline=_NoCalls()))
    token = await sign_in(client, "agent")
    response = await client.post("/console/records", data={
        "csrf_token": token, "uniqueid": "", "topic": "邻里噪音引发焦虑，多次失眠", "emotional_state": "焦虑",
        "risk_level": "medium", "next_step": "一周后回访"}, allow_redirects=False)
    page = await response.text()
    assert response.status == 400 and 'id="record-error"' in page and "没有正在进行或刚结束的来电" in page
    assert 'value="邻里噪音引发焦虑，多次失眠"' in page and 'value="一周后回访"' in page
    assert '<option selected>焦虑</option>' in page and '<option value="medium" selected>' in page
    await client.close()
