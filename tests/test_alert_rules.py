"""Alert rules, thresholds, reminders, states, and the sender's retries and formats (钉钉 included)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import aiohttp

from callcenter.alerts.delivery import DeliveryOptions, Sender, backoff
from callcenter.alerts.engine import AlertOptions, alert_pass
from callcenter.db import alerts as repo
from callcenter.db import duty

from .alert_receivers import WebhookReceiver
from .test_reports_monthly import cli
from .test_web_helpers import client, sign_in, users  # noqa: F401

NOW = datetime(2024, 5, 20, 2, 0, tzinfo=timezone.utc)


async def _ticket(conn, no: str, *, status: str, sign_due=None, close_due=None) -> int:
    return await conn.fetchval(
        """INSERT INTO tickets (ticket_no, category_l1, title, called_at, status, sign_due_at, close_due_at, created_at)
           VALUES ($1, '物业管理', '楼道堆物', $2, $3, $4, $5, $2) RETURNING id""",
        no, NOW - timedelta(hours=1), status, sign_due, close_due)


async def test_each_rule_fires_once_and_respects_its_switch_and_threshold(db):
    async with db.pool.acquire() as conn:
        soon = await _ticket(conn, "SOON", status="received", sign_due=NOW + timedelta(minutes=20))
        late = await _ticket(conn, "LATE", status="handling", close_due=NOW - timedelta(hours=3))
        await _ticket(conn, "FAR", status="handling", close_due=NOW + timedelta(days=3))
        await conn.execute("""INSERT INTO counseling_records (topic, emotional_state, risk_level, created_at)
                              VALUES ('邻里纠纷', '激动', 'high', $1), ('咨询', '平稳', 'low', $1)""", NOW)
        first = await alert_pass(conn, NOW, AlertOptions(email=False))
        rows = await conn.fetch("SELECT rule, ticket_ids, title FROM alerts ORDER BY id")
        again = await alert_pass(conn, NOW + timedelta(seconds=5), AlertOptions(email=False))
        by_rule = {}
        for r in rows:
            by_rule.setdefault(r["rule"], []).append(list(r["ticket_ids"]))
        assert by_rule == {"new_ticket": [[soon]], "deadline_soon": [[soon]], "deadline_passed": [[late]],
                           "hotline_high_risk": [[]]}
        assert len(first.raised) == 4 and again.raised == []
        # A shorter warning horizon no longer sees the 20-minute deadline; a rule switched off stays quiet.
        await conn.execute("DELETE FROM alerts")
        await repo.set_rule(conn, "deadline_soon", threshold=10)
        await repo.set_rule(conn, "new_ticket", enabled=False)
        await alert_pass(conn, NOW, AlertOptions(email=False))
        rules = {r["rule"] for r in await conn.fetch("SELECT rule FROM alerts")}
    assert rules == {"deadline_passed", "hotline_high_risk"}


async def test_reminders_until_acknowledged_then_none_and_close_keeps_who(db):
    options = AlertOptions(email=True, remind_every=timedelta(minutes=30), max_reminders=2)
    async with db.pool.acquire() as conn:
        await repo.add_channel(conn, "群", "dingtalk", "http://127.0.0.1:9/x")
        await duty.add_shift(conn, starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=12),
                             staff_name="李", email="li@example.org")
        await _ticket(conn, "N1", status="received", sign_due=NOW + timedelta(hours=2))
        first = await alert_pass(conn, NOW, options)
        alert_id = first.raised[0]
        assert first.deliveries == 2                                   # the robot and the on-duty e-mail
        assert (await alert_pass(conn, NOW + timedelta(minutes=29), options)).reminded == 0
        assert (await alert_pass(conn, NOW + timedelta(minutes=31), options)).reminded == 1
        other = (await alert_pass(conn, NOW + timedelta(minutes=32), options)).raised    # nothing new
        assert other == []
        await _ticket(conn, "N2", status="received", sign_due=NOW + timedelta(hours=2))
        second = (await alert_pass(conn, NOW + timedelta(minutes=1), options)).raised[0]
        for minutes in (40, 80, 120, 160):                             # two reminders, then no more
            await alert_pass(conn, NOW + timedelta(minutes=minutes), options)
        assert await conn.fetchval("SELECT reminders FROM alerts WHERE id = $1", second) == 2
        assert await repo.acknowledge(conn, alert_id, "li")
        assert not await repo.acknowledge(conn, alert_id, "li")        # only a new alert can be acknowledged
        assert (await alert_pass(conn, NOW + timedelta(hours=3), options)).reminded == 0
        states = dict(await conn.fetch(
            "SELECT round, state FROM alert_deliveries WHERE kind = 'dingtalk' AND alert_id = $1", alert_id))
        assert states == {0: "pending", 1: "cancelled", 2: "cancelled"}     # reminders cancelled by the ack
        assert await repo.close(conn, alert_id, "zhang")
        row = await conn.fetchrow("SELECT state, acknowledged_by, closed_by FROM alerts WHERE id = $1", alert_id)
    assert dict(row) == {"state": "closed", "acknowledged_by": "li", "closed_by": "zhang"}


async def test_sender_retries_with_backoff_and_sends_dingtalk_markdown_once(db):
    assert [backoff(n, DeliveryOptions()) for n in (1, 2, 3, 20)] == [2.0, 4.0, 8.0, 600.0]
    async with WebhookReceiver(fail_first=2) as hooks:
        async with db.pool.acquire() as conn:
            await repo.add_channel(conn, "钉钉群", "dingtalk", hooks.url("dingtalk"))
            await _ticket(conn, "D1", status="received", sign_due=NOW + timedelta(hours=2))
            await alert_pass(conn, NOW, AlertOptions(email=False))
        sender = Sender(db.pool, options=DeliveryOptions(backoff_initial=0.05, timeout=5))
        async with aiohttp.ClientSession() as http:
            sender._http = http
            for _ in range(40):
                await sender.send_due()
                if hooks.received:
                    break
                await asyncio.sleep(0.05)
            for _ in range(3):                                           # nothing left to send
                assert await sender.send_due() == 0
    assert len(hooks.bodies("dingtalk")) == 1
    body = hooks.bodies("dingtalk")[0]
    assert body["msgtype"] == "markdown" and body["markdown"]["title"].startswith("[接诉即办预警] 新工单待签收 D1")
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT state, attempts FROM alert_deliveries")
    assert dict(row) == {"state": "sent", "attempts": 3}


async def test_a_receiver_that_never_answers_ends_failed_after_max_attempts(db):
    async with db.pool.acquire() as conn:
        await repo.add_channel(conn, "坏地址", "webhook", "http://127.0.0.1:9/nothing")
        await _ticket(conn, "F1", status="received", sign_due=NOW + timedelta(hours=2))
        await alert_pass(conn, NOW, AlertOptions(email=False))
    sender = Sender(db.pool, options=DeliveryOptions(backoff_initial=0.01, backoff_max=0.02, max_attempts=3,
                                                     timeout=2))
    async with aiohttp.ClientSession() as http:
        sender._http = http
        for _ in range(60):
            await sender.send_due()
            async with db.pool.acquire() as conn:
                state = await conn.fetchval("SELECT state FROM alert_deliveries")
            if state == "failed":
                break
            await asyncio.sleep(0.02)
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT state, attempts, last_error FROM alert_deliveries")
    assert row["state"] == "failed" and row["attempts"] == 3 and row["last_error"]


async def test_duty_on_the_web_and_the_cli(client, db, users, db_dsn, monkeypatch, tmp_path, capsys):
    token = await sign_in(client, "supervisor")
    bad = await client.post("/duty", data={"csrf_token": token, "start": "2024-05-20 20:00", "end": "2024-05-20 08:00",
                                           "staff_name": "", "email": "nope"}, allow_redirects=False)
    assert bad.status == 303
    page = await (await client.get("/duty")).text()
    assert "结束时间应晚于开始时间" in page and "请填写值班人员姓名" in page and "邮箱地址无效" in page
    now = datetime.now(timezone.utc).astimezone(timezone(timedelta(hours=8)))
    ok = await client.post("/duty", data={
        "csrf_token": token, "start": (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
        "end": (now + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"), "staff_name": "赵值班",
        "email": "zhao@example.org", "phone": "", "note": ""}, allow_redirects=False)
    assert ok.status == 303
    home = await (await client.get("/")).text()
    assert "赵值班" in home and 'id="awaiting-sign"' in home
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    code, out, _ = await cli(capsys, "duty", "list")
    assert code == 0 and "* " in out and "赵值班" in out
    code, _, err = await cli(capsys, "duty", "add", "--from", "2024-05-20 08:00", "--to", "bad", "--name", "x")
    assert code == 2 and "结束时间" in err
    assert (await cli(capsys, "alerts", "channel", "add", "群", "--kind", "wecom", "--url", "ftp://x"))[0] == 2
    assert (await cli(capsys, "alerts", "rule", "spike", "--threshold", "8", "--off"))[0] == 0
    async with db.pool.acquire() as conn:
        rule = await conn.fetchrow("SELECT enabled, threshold FROM alert_rules WHERE rule = 'spike'")
    assert dict(rule) == {"enabled": False, "threshold": 8}


async def test_alerts_api_bell_and_acknowledge_by_token(client, db, users):
    from .test_web2_api import bearer, make_token
    async with db.pool.acquire() as conn:
        ticket = await _ticket(conn, "B1", status="received", sign_due=NOW + timedelta(hours=2))
        alert_id = (await alert_pass(conn, NOW, AlertOptions(email=False))).raised[0]
    agent = await make_token(db, "agent")
    bell = await (await client.get("/api/alerts/unread", headers=bearer(agent))).json()
    assert bell["unread"] == 1 and [t["id"] for t in bell["awaiting_sign"]] == [ticket]
    listed = await (await client.get("/api/alerts", headers=bearer(agent))).json()
    assert [a["id"] for a in listed["items"]] == [alert_id]
    assert (await client.get("/api/alerts?state=bogus", headers=bearer(agent))).status == 400
    assert (await client.post(f"/api/alerts/{alert_id}/ack", headers=bearer(agent))).status == 200
    assert (await client.post(f"/api/alerts/{alert_id}/ack", headers=bearer(agent))).status == 409
    bell = await (await client.get("/api/alerts/unread", headers=bearer(agent))).json()
    assert bell["unread"] == 0
    await sign_in(client, "agent")
    page = await (await client.get("/alerts?closed=1")).text()
    assert f'data-alert="{alert_id}" data-state="acknowledged"' in page and "agent" in page
    assert (await client.post(f"/alerts/{alert_id}/nonsense", data={})).status in (403, 404)
