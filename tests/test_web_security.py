"""CSRF, output escaping, error pages, security headers and /healthz."""
from __future__ import annotations

import html

import asyncpg
from aiohttp import web

from callcenter.db.database import Database
from callcenter.web.core.access import PUBLIC, public, route_table

from .factories import insert_ticket
from .test_web_helpers import PASSWORD, client, make_app, open_client, sign_in, users  # noqa: F401

XSS = "<script>alert(1)</script>"
RTL = "\u202egnp.exe"                    # RIGHT-TO-LEFT OVERRIDE: makes 'exe.png' of 'gnp.exe'


def unsafe_routes(app):
    return [r for r in route_table(app) if r.method not in ("GET", "HEAD", "OPTIONS") and r.roles != PUBLIC]


async def test_every_unsafe_route_rejects_a_missing_or_wrong_csrf_token(client, db):
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn)
    token = await sign_in(client, "admin")
    routes = unsafe_routes(client.server.app)
    assert {r.path for r in routes} >= {"/logout", "/tickets/{ticket_id}/step"}
    for route in routes:
        path = route.path.replace("{ticket_id}", str(ticket_id))
        missing = await client.request(route.method, path, data={"action": "sign"}, allow_redirects=False)
        wrong = await client.request(route.method, path, data={"action": "sign", "csrf_token": token[:-1] + "x"},
                                     allow_redirects=False)
        wrong_header = await client.request(route.method, path, headers={"X-CSRF-Token": "nope"},
                                            allow_redirects=False)
        for response in (missing, wrong, wrong_header):
            assert response.status == 403, (route, response.status)
            assert "CSRF" in await response.text()
    async with db.pool.acquire() as conn:       # nothing happened
        assert await conn.fetchval("SELECT status FROM tickets WHERE id = $1", ticket_id) == "received"
        assert await conn.fetchval("SELECT count(*) FROM ticket_events") == 0
        assert await conn.fetchval("SELECT count(*) FROM web_sessions") == 1
    # The same requests with the session's token go through (form field or header).
    ok = await client.post(f"/tickets/{ticket_id}/step", data={"action": "sign", "csrf_token": token},
                           allow_redirects=False)
    assert ok.status == 303
    ok = await client.post("/logout", headers={"X-CSRF-Token": token}, allow_redirects=False)
    assert ok.status == 303


async def test_another_sessions_token_is_not_accepted(db, settings, users):
    first, second = await open_client(make_app(db, settings)), await open_client(make_app(db, settings))
    try:
        async with db.pool.acquire() as conn:
            ticket_id = await insert_ticket(conn)
        await sign_in(first, "agent")
        other_token = await sign_in(second, "agent")
        response = await first.post(f"/tickets/{ticket_id}/step", data={"action": "sign", "csrf_token": other_token},
                                    allow_redirects=False)
        assert response.status == 403
    finally:
        await first.close()
        await second.close()


async def test_login_post_needs_the_double_submit_token(client):
    token_page = await client.get("/login")
    assert token_page.status == 200
    cookie_token = token_page.cookies["cc_login_csrf"].value
    form = {"username": "agent", "password": PASSWORD}
    assert (await client.post("/login", data=form, allow_redirects=False)).status == 403
    assert (await client.post("/login", data={**form, "csrf_token": "forged"}, allow_redirects=False)).status == 403
    client.session.cookie_jar.clear()               # a cross-site form: field present, cookie absent
    assert (await client.post("/login", data={**form, "csrf_token": cookie_token},
                              allow_redirects=False)).status == 403
    client.session.cookie_jar.update_cookies({"cc_login_csrf": cookie_token})
    assert (await client.post("/login", data={**form, "csrf_token": cookie_token},
                              allow_redirects=False)).status == 303


async def test_hostile_ticket_text_is_escaped_everywhere(client, db):
    long_text = "长" * 20000 + XSS
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn, title=XSS + RTL)
        await conn.execute("UPDATE tickets SET content = $2, caller_name = $3, address = $4 WHERE id = $1",
                           ticket_id, long_text, '"><img src=x onerror=alert(1)>', "{{ 7*7 }}")
    token = await sign_in(client, "supervisor")
    await client.post(f"/tickets/{ticket_id}/step", data={"action": "return", "reason": XSS, "csrf_token": token})
    for path in ("/tickets", f"/tickets/{ticket_id}", f"/tickets?q={XSS}"):
        page = await (await client.get(path)).text()
        assert "<script>alert(1)</script>" not in page, path
        assert "<img src=x" not in page, path
        assert html.escape(XSS, quote=False) in page or "&lt;script&gt;" in page, path
    detail = await (await client.get(f"/tickets/{ticket_id}")).text()
    assert "&#34;&gt;&lt;img" in detail            # attribute-breaking quotes escaped too
    assert "{{ 7*7 }}" in detail and ">49<" not in detail   # data is never evaluated as a template
    assert "长" * 20000 in detail                    # long text shown whole on the detail page
    assert RTL in detail                             # shown as data; CSS isolates its direction
    assert "unicode-bidi: plaintext" in await (await client.get("/static/app.css")).text()


async def test_error_pages_are_friendly_and_never_show_a_traceback(db, settings, users):
    app = make_app(db, settings)

    @public
    async def explode(request):
        raise RuntimeError("secret internal detail /etc/passwd")
    app.router.add_get("/explode", explode)
    c = await open_client(app)
    try:
        response = await c.get("/explode")
        page = await response.text()
        assert response.status == 500
        assert "系统内部错误" in page and 'lang="zh-CN"' in page
        assert "Traceback" not in page and "secret internal detail" not in page and "RuntimeError" not in page
        missing = await c.get("/no/such/page")
        assert missing.status == 404 and "页面不存在" in await missing.text()
        await sign_in(c, "agent")
        assert "工单 999999 不存在" in await (await c.get("/tickets/999999")).text()
        assert (await c.get("/tickets/99999999999999999999999")).status == 404     # beyond bigint: still a 404
    finally:
        await c.close()


async def test_security_headers(client):
    response = await client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


async def test_healthz_reports_database_and_components(db, settings, users):
    c = await open_client(make_app(db, settings))
    try:
        response = await c.get("/healthz")
        assert response.status == 200
        body = await response.json()          # the public answer: up/down only, no paths or figures
        assert body == {"status": "up", "database": "up", "ami": "not configured", "asr": "not configured"}
        await sign_in(c, "admin")
        body = await (await c.get("/healthz")).json()
        assert {k: body[k] for k in ("database", "ami", "asr")} == \
            {"database": "ok", "ami": "not configured", "asr": "not configured"}
        assert body["recordings"]["status"] in ("ok", "alarm")         # the disk alarm is reported to admins
    finally:
        await c.close()

    class Ami:
        connected = True

        async def health(self):
            return {"connected": self.connected, "host": "10.0.0.5", "last_error": "secret detail"}

    ami = Ami()
    c = await open_client(make_app(db, settings, ami=ami, asr=lambda: {"workers": 2, "busy": 0}))
    try:
        public_body = await (await c.get("/healthz")).json()
        assert public_body["ami"] == "up" and "10.0.0.5" not in str(public_body)
        ami.connected = False                      # Asterisk down: a monitor sees 503 without reading the body
        response = await c.get("/healthz")
        assert response.status == 503 and (await response.json()) == {
            "status": "down", "database": "up", "ami": "down", "asr": "up"}
        await sign_in(c, "admin")
        body = await (await c.get("/healthz")).json()
        assert body["ami"]["connected"] is False and body["asr"] == {"workers": 2, "busy": 0}
        agent = await open_client(make_app(db, settings, ami=ami))
        try:
            await sign_in(agent, "agent")
            assert "10.0.0.5" not in await (await agent.get("/healthz")).text()     # details: admins only
        finally:
            await agent.close()
    finally:
        await c.close()


async def test_healthz_is_503_when_the_database_is_down(db_dsn, settings):
    pool = await asyncpg.create_pool(db_dsn, min_size=0, max_size=1)
    await pool.close()                       # every acquire now fails, like a lost server
    c = await open_client(make_app(Database(pool=pool, dsn=db_dsn, embedded=False), settings))
    try:
        response = await c.get("/healthz")
        assert response.status == 503
        assert (await response.json())["database"] == "down"
    finally:
        await c.close()


async def test_unknown_extras_are_refused(db, settings):
    import pytest
    with pytest.raises(ValueError, match="unknown extras"):
        make_app(db, settings, amii=object())
    assert isinstance(make_app(db, settings), web.Application)


async def test_start_web_serves_on_a_real_port(db, settings):
    import aiohttp

    from callcenter.web.runner import start_web
    runner = await start_web(make_app(db, settings), "127.0.0.1", 0)
    try:
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://{host}:{port}/healthz") as response:
                assert response.status == 200 and (await response.json())["database"] == "up"
    finally:
        await runner.cleanup()
