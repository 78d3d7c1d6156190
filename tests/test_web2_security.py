"""Security of the dashboard, call review, campaign, API and metrics routes: sessions, roles, CSRF, escaping.

Walks this work's routes (found by handler module in the app's route table,
so a route added later to these modules is covered automatically) with
placeholders filled by real ids.
"""
from __future__ import annotations

import html

from callcenter.db import callbacks, campaigns
from callcenter.web.core.access import PUBLIC, route_table

from .factories import insert_ticket
from .test_web_helpers import client, sign_in, users  # noqa: F401

MODULES = {"callcenter.web.home.home", "callcenter.web.calls.calls", "callcenter.web.calls.recordings", "callcenter.web.calls.review",
           "callcenter.web.campaigns.campaigns_page", "callcenter.web.api.api", "callcenter.web.api.metrics"}
XSS = "<script>alert(1)</script>"


def my_routes(app):
    table = {(r.method, r.path): r for r in route_table(app)}
    mine = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path")
        if route.method != "HEAD" and getattr(route.handler, "__module__", "") in MODULES:
            mine.append(table[(route.method, path)])
    return mine


async def seed(db) -> dict:
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn, "T-SEC", title=XSS, status="awaiting_callback")
        attempt = await callbacks.create_attempt(conn, ticket_id, phone="13800000001", state="answered")
        await callbacks.record_answer(conn, attempt, "satisfaction", intent="basic", source="speech",
                                      transcript=XSS + "<img src=x onerror=alert(2)>", confidence=0.3,
                                      needs_review=True)
        answer = await conn.fetchval("SELECT id FROM callback_answers")
        await campaigns.upsert_trunk(conn, "main", "PJSIP/{number}@trunk", 4, 1.0)
        campaign = await campaigns.create_campaign(conn, campaigns.CampaignSpec(name=XSS, trunk="main"))
    return {"ticket_id": ticket_id, "attempt_id": attempt, "answer_id": answer, "campaign_id": campaign,
            "question": "satisfaction"}


def concrete(path: str, ids: dict) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", str(value))
    return path


async def test_every_new_route_needs_a_session(client, db):
    ids = await seed(db)
    routes = my_routes(client.server.app)
    assert len(routes) >= 18
    for route in routes:
        assert route.roles != PUBLIC, route
        path = concrete(route.path, ids)
        response = await client.request(route.method, path, allow_redirects=False)
        if path.startswith("/api/"):
            assert response.status == 401, path
        else:
            assert response.status == 302 and response.headers["Location"].startswith("/login"), (route, path)


async def test_agents_get_403_on_manager_routes_and_metrics(client, db):
    ids = await seed(db)
    token = await sign_in(client, "agent")
    manager_only = [r for r in my_routes(client.server.app) if "agent" not in r.roles]
    assert {r.path for r in manager_only} >= {"/calls", "/review", "/campaigns", "/api/campaigns",
                                              "/calls/{attempt_id}/recordings/{answer_id}"}
    for route in manager_only + [r for r in my_routes(client.server.app) if r.path == "/metrics"]:
        response = await client.request(route.method, concrete(route.path, ids), headers={"X-CSRF-Token": token},
                                        allow_redirects=False)
        assert response.status == 403, route


async def test_every_new_unsafe_route_needs_the_csrf_token(client, db):
    ids = await seed(db)
    token = await sign_in(client, "admin")
    unsafe = [r for r in my_routes(client.server.app) if r.method not in ("GET", "HEAD")]
    assert {r.path for r in unsafe} >= {"/calls/{attempt_id}/answers/{question}", "/campaigns",
                                        "/campaigns/{campaign_id}/state", "/api/tickets/{ticket_id}/step"}
    for route in unsafe:
        path = concrete(route.path, ids)
        for headers, data in (({}, {"decision": "confirm", "command": "start", "name": "x"}),
                              ({"X-CSRF-Token": token[:-1] + "x"}, {"decision": "confirm"})):
            response = await client.request(route.method, path, headers=headers, data=data, allow_redirects=False)
            assert response.status == 403, route
    async with db.pool.acquire() as conn:        # nothing happened
        assert await conn.fetchval("SELECT count(*) FROM callback_answers") == 1
        assert await conn.fetchval("SELECT state FROM campaigns") == "draft"
        assert await conn.fetchval("SELECT count(*) FROM campaigns") == 1
        assert await conn.fetchval("SELECT count(*) FROM ticket_events") == 0


async def test_hostile_text_renders_as_text_on_the_new_pages(client, db):
    ids = await seed(db)
    await sign_in(client, "supervisor")
    for path in ("/", "/calls", f"/calls/{ids['attempt_id']}", "/review", "/campaigns",
                 f"/campaigns/{ids['campaign_id']}", f"/tickets/{ids['ticket_id']}"):
        response = await client.get(path)
        page = await response.text()
        assert response.status == 200, path
        assert XSS not in page and "<img src=x" not in page, path
    assert html.escape(XSS, quote=False) in await (await client.get("/review")).text()
    campaign_page = await (await client.get(f"/campaigns/{ids['campaign_id']}")).text()
    assert "&lt;script&gt;" in campaign_page


async def test_sql_metacharacters_in_filters_change_nothing(client, db):
    await seed(db)
    await sign_in(client, "supervisor")
    for query in ("outcome=%27%3B+DELETE+FROM+callback_attempts%3B--", "campaign=1%20OR%201=1",
                  "day=2024-01-01%27--", "after=x~%27%20OR%201%3D1"):
        response = await client.get(f"/calls?{query}")
        assert response.status == 400, query
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM callback_attempts") == 1
