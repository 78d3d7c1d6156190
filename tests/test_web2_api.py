"""JSON API (token and session auth, CSRF rules, reads, flow steps), OpenAPI, /metrics, /healthz, token CLI."""
from __future__ import annotations

import asyncio
import re

import pytest

from callcenter.asr.factory import SpeechStatus
from callcenter.cli import main
from callcenter.db import api_tokens, callbacks, campaigns
from callcenter.db.web_sessions import token_digest
from callcenter.web.core.access import route_table
from callcenter.web.api.metrics import gauge
from callcenter.web.api.openapi import openapi_document

from . import scoring_factories as sf
from .factories import insert_ticket, insert_unit
from .test_web_helpers import client, make_app, open_client, sign_in, users  # noqa: F401


async def make_token(db, username: str) -> str:
    async with db.pool.acquire() as conn:
        return (await api_tokens.create_token(conn, username, label="test"))[1]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_token_reads_tickets_with_keyset_pages_and_masked_phones(client, db, users):
    async with db.pool.acquire() as conn:
        for n in range(5):
            await insert_ticket(conn, f"T{n}", phone=f"1380000000{n}")
    agent = await make_token(db, "agent")
    seen, after = [], None
    while True:
        params = {"limit": "2", **({"after": after} if after else {})}
        response = await client.get("/api/tickets", params=params, headers=bearer(agent))
        assert response.status == 200
        body = await response.json()
        seen += [t["ticket_no"] for t in body["items"]]
        assert all("****" in t["caller_phone"] for t in body["items"])      # agents see masked numbers
        after = body["next"]
        if after is None:
            break
    assert sorted(seen) == [f"T{n}" for n in range(5)] and len(seen) == 5
    admin = await make_token(db, "admin")
    full = await (await client.get("/api/tickets?q=T3", headers=bearer(admin))).json()
    assert [t["caller_phone"] for t in full["items"]] == ["13800000003"]
    bad = await client.get("/api/tickets?status=nonsense&limit=5000", headers=bearer(admin))
    assert bad.status == 400 and len((await bad.json())["messages"]) == 2


async def test_token_flow_step_needs_no_csrf_but_a_session_post_does(client, db, users):
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn)
        unit = await insert_unit(conn, "城市管理办公室")
    agent = await make_token(db, "agent")
    signed = await client.post(f"/api/tickets/{ticket_id}/step", json={"action": "sign"}, headers=bearer(agent))
    assert signed.status == 200, await signed.text()
    assert (await signed.json())["to"] == "signed"
    missing_unit = await client.post(f"/api/tickets/{ticket_id}/step", json={"action": "dispatch"},
                                     headers=bearer(agent))
    assert missing_unit.status == 422 and (await missing_unit.json())["message"]
    dispatched = await client.post(f"/api/tickets/{ticket_id}/step", json={"action": "dispatch", "unit_id": unit},
                                   headers=bearer(agent))
    assert (await dispatched.json())["to"] == "dispatched"
    not_json = await client.post(f"/api/tickets/{ticket_id}/step", data="action=sign", headers=bearer(agent))
    assert not_json.status == 400
    # A signed-in browser session must still prove the request is its own.
    token = await sign_in(client, "agent")
    no_csrf = await client.post(f"/api/tickets/{ticket_id}/step", json={"action": "accept"})
    assert no_csrf.status == 403
    with_csrf = await client.post(f"/api/tickets/{ticket_id}/step", json={"action": "accept"},
                                  headers={"X-CSRF-Token": token})
    assert with_csrf.status == 200, await with_csrf.text()
    async with db.pool.acquire() as conn:
        actors = [r["actor"] for r in await conn.fetch("SELECT actor FROM ticket_events ORDER BY id")]
    assert actors == ["agent", "agent", "agent"]
    detail = await (await client.get(f"/api/tickets/{ticket_id}", headers=bearer(agent))).json()
    assert detail["ticket"]["status"] == "handling" and len(detail["history"]) == 3
    assert "feedback" in detail["actions"] and {d["label"] for d in detail["deadlines"]} >= {"签收", "首次联系"}
    assert (await client.get("/api/tickets/999999", headers=bearer(agent))).status == 404


async def test_bad_revoked_or_disabled_tokens_are_401_and_roles_still_apply(client, db, users):
    agent = await make_token(db, "agent")
    assert (await client.get("/api/tickets", headers=bearer("cc_forged"))).status == 401
    assert (await client.get("/api/tickets", headers={"Authorization": "Basic abc"})).status == 401
    assert (await client.get("/api/campaigns", headers=bearer(agent))).status == 403      # managers only
    async with db.pool.acquire() as conn:
        stored = await conn.fetchval("SELECT token_hash FROM api_tokens")
        assert stored == token_digest(agent) and agent not in stored
        await api_tokens.revoke_token(conn, 1, actor="test")
    assert (await client.get("/api/tickets", headers=bearer(agent))).status == 401
    sup = await make_token(db, "supervisor")
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE users SET active = false WHERE username = 'supervisor'")
    assert (await client.get("/api/tickets", headers=bearer(sup))).status == 401
    # A bad token is not rescued by a session cookie riding along.
    await sign_in(client, "admin")
    assert (await client.get("/api/tickets", headers=bearer("cc_nope"))).status == 401
    assert (await client.get("/api/tickets")).status == 200


async def test_rates_and_campaigns(client, db, users):
    from datetime import datetime, timedelta, timezone
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    async with db.pool.acquire() as conn:
        for answers in (sf.own("yes", "solved", "satisfied"), sf.own("no", "partly", "basic")):
            ticket_id = await sf.ticket(conn, called_at=now - timedelta(days=1), closed_at=now)
            await sf.attempt(conn, ticket_id, 1, answered_at=now, answers=answers)
        await campaigns.upsert_trunk(conn, "main", "PJSIP/{number}@trunk", 4, 1.0)
        await campaigns.create_campaign(conn, campaigns.CampaignSpec(name="五月回访", trunk="main"))
    token = await make_token(db, "supervisor")
    rates = await (await client.get("/api/rates", headers=bearer(token))).json()
    street = rates["rows"][0]["excluded"]
    # 响应 1/2; 解决 1/2 (部分解决 counts 0); 满意 (1 + 0.9)/2; composite 0.1×50 + 0.5×50 + 0.4×95 = 68
    assert street["rates"] == {"response": "50.00", "solved": "50.00", "satisfied": "95.00", "composite": "68.00"}
    assert street["counts"]["n"] == 2 and rates["rule_set"]
    by_day = await (await client.get("/api/rates?grouping=day", headers=bearer(token))).json()
    assert len(by_day["rows"]) == 1
    for bad in ("?grouping=planet", "?period=2024-99", "?period=2019-01"):
        assert (await client.get("/api/rates" + bad, headers=bearer(token))).status == 400, bad
    listed = await (await client.get("/api/campaigns", headers=bearer(token))).json()
    assert [c["name"] for c in listed["items"]] == ["五月回访"]
    assert listed["items"][0]["state"] == "draft" and listed["items"][0]["progress"]["placed"] == 0


async def test_openapi_describes_every_api_route(client, db, users):
    app = client.server.app
    document = openapi_document(app)
    assert document["openapi"].startswith("3.")
    api_routes = [r for r in route_table(app) if r.path.startswith("/api/")]
    assert len(api_routes) >= 7
    for route in api_routes:
        assert route.path in document["paths"], route.path
        assert route.method.lower() in document["paths"][route.path], route
    described = {(p, m.upper()) for p, ops in document["paths"].items() for m in ops}
    assert described == {(r.path, r.method) for r in api_routes}      # nothing described that is not served
    # The routes of this module and /api/me are described by hand, not by the generated fallback.
    for path in ("/api/me", "/api/tickets", "/api/tickets/{ticket_id}", "/api/tickets/{ticket_id}/step",
                 "/api/rates", "/api/campaigns", "/api/openapi.json"):
        for operation in document["paths"][path].values():
            assert "x-generated" not in operation and operation["summary"], path
    token = await make_token(db, "agent")
    served = await client.get("/api/openapi.json", headers=bearer(token))
    assert served.status == 200 and (await served.json()) == document


async def test_metrics_for_admin_or_token_only(client, db, users):
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn, status="awaiting_callback")
        attempt = await callbacks.create_attempt(conn, ticket_id, phone="13800000001", state="answered")
        await callbacks.record_answer(conn, attempt, "solved", intent=None, source="speech", needs_review=True)
        other = await insert_ticket(conn, "T2")
        await callbacks.create_attempt(conn, other, phone="13800000002")
    await sign_in(client, "supervisor")
    assert (await client.get("/metrics")).status == 403
    token = await make_token(db, "agent")              # any token: a scraper's account
    response = await client.get("/metrics", headers=bearer(token))
    text = await response.text()
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "callcenter_database_up 1" in text
    assert "callcenter_callback_attempts_pending 1" in text
    assert "callcenter_callback_attempts_live 1" in text
    assert "callcenter_review_queue_size 1" in text
    assert 'callcenter_asr_speech_enabled{mode="dtmf-only"} 0' in text
    assert "# TYPE callcenter_review_queue_size gauge" in text
    await sign_in(client, "admin")
    assert (await client.get("/metrics")).status == 200


class FakeAmi:
    """An AMI link as the service passes it: snapshot() only, with a secret that must never leak."""

    def snapshot(self):
        return {"state": "connected", "connected": True, "logged_in": True, "events_per_second": 12.5,
                "events_received": 4000, "reconnects": 2, "secret": "s3cret", "host": "10.0.0.5"}


class FakeDialer:
    live_calls = 3


async def test_metrics_and_healthz_report_ami_dialer_and_speech(db, settings, users):
    c = await open_client(make_app(db, settings, ami=FakeAmi(), dialer=FakeDialer(),
                                   asr=SpeechStatus("speech", "/models/cn", "vosk model")))
    try:
        token = await make_token(db, "admin")
        text = await (await c.get("/metrics", headers=bearer(token))).text()
        assert 'callcenter_ami_up{state="connected"} 1' in text
        assert "callcenter_ami_events_per_second 12.5" in text
        assert "callcenter_ami_events_received_total 4000" in text and "# TYPE callcenter_ami_reconnects_total counter" in text
        assert "callcenter_calls_in_flight 3" in text
        assert 'callcenter_asr_speech_enabled{mode="speech"} 1' in text
        assert f"callcenter_asr_workers {settings.asr_workers}" in text
        health = await (await c.get("/healthz", headers=bearer(token))).json()
        assert health["ami"]["connected"] is True and health["ami"]["events_per_second"] == 12.5
        assert "secret" not in health["ami"] and "host" not in health["ami"]
        assert health["asr"]["mode"] == "speech"
        assert "s3cret" not in text and "s3cret" not in str(health)
    finally:
        await c.close()


def test_gauge_format_escapes_labels():
    lines = gauge("x_total", "help", [({"a": 'q"\\\n'}, 1), ({}, 2.5)], kind="counter")
    assert lines == ["# HELP x_total help", "# TYPE x_total counter", 'x_total{a="q\\"\\\\\\n"} 1', "x_total 2.5"]


async def test_token_cli_makes_lists_and_revokes(db_dsn, db, users, monkeypatch, capsys):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    assert await asyncio.to_thread(main, ["user", "token", "admin", "--label", "prometheus"]) == 0
    token = capsys.readouterr().out.strip()
    assert re.fullmatch(r"cc_[A-Za-z0-9_-]{40,}", token)
    async with db.pool.acquire() as conn:
        assert (await api_tokens.user_for_token(conn, token)).username == "admin"
    assert await asyncio.to_thread(main, ["user", "token", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "admin" in listing and "prometheus" in listing and token not in listing
    assert await asyncio.to_thread(main, ["user", "token", "--revoke", "1"]) == 0
    assert await asyncio.to_thread(main, ["user", "token", "--revoke", "1"]) == 3
    assert await asyncio.to_thread(main, ["user", "token", "nobody"]) == 3
    assert await asyncio.to_thread(main, ["user", "token"]) == 2
    async with db.pool.acquire() as conn:
        assert await api_tokens.user_for_token(conn, token) is None
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action LIKE 'api_token.%'") == 2


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "bearer cc_" + "x" * 300])
async def test_malformed_authorization_headers(client, header):
    assert (await client.get("/api/tickets", headers={"Authorization": header})).status == 401
