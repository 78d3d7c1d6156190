"""End to end: a file dropped into the inbox while the service runs → tickets in the ledger, the file
in done/, one alert per new ticket at a real webhook receiver and a real SMTP server, and
acknowledging on the web stops the reminders."""
from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import aiohttp

from callcenter.alerts.delivery import DeliveryOptions
from callcenter.alerts.engine import AlertOptions
from callcenter.db import alerts as alerts_repo
from callcenter.db import duty
from callcenter.ledger.timezone import OFFICE_TZ
from callcenter.netutil import free_port
from callcenter.service import Service, ServiceOptions

from . import campaign_harness as h
from .alert_receivers import SmtpReceiver, WebhookReceiver
from .test_web_helpers import PASSWORD, users  # noqa: F401

HEADERS = "工单编号,一级分类,标题,主要内容,所在社区,问题点位,来电时间,派单时间"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REMIND = 4.0


def ticket_file(numbers: list[str]) -> str:
    now = datetime.now(OFFICE_TZ).strftime("%Y-%m-%d %H:%M:%S")
    rows = [f"{n},水电气热,停水,小区停水,枫丹丽舍社区,枫丹丽舍29号楼,{now},{now}" for n in numbers]
    return "\n".join([HEADERS, *rows]) + "\n"


async def wait_for(predicate, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def web_ack(base: str, alert_id: int) -> None:
    """Sign in as a supervisor and press 确认 on the alerts page, as a browser would."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:   # cookies for an IP
        page = await (await session.get(f"{base}/login")).text()
        signed = await session.post(f"{base}/login", allow_redirects=False, data={
            "csrf_token": _CSRF.search(page).group(1), "username": "supervisor", "password": PASSWORD, "next": ""})
        assert signed.status == 303
        alerts_page = await (await session.get(f"{base}/alerts")).text()
        assert f'data-alert="{alert_id}" data-state="new"' in alerts_page
        acked = await session.post(f"{base}/alerts/{alert_id}/ack", allow_redirects=False,
                                   data={"csrf_token": _CSRF.search(alerts_page).group(1)})
        assert acked.status == 303


async def test_inbox_file_reaches_the_ledger_and_the_people_on_duty_once(db, settings, users, tmp_path):
    inbox = tmp_path / "inbox"
    agi_port = h.free_port()
    sim = h.simulator(agi_port)
    sim_port = await sim.start()
    now = datetime.now(timezone.utc)
    with SmtpReceiver() as smtp:
        async with WebhookReceiver(fail_first=1) as hooks:
            async with db.pool.acquire() as conn:
                await alerts_repo.add_channel(conn, "街道群", "wecom", hooks.url("wecom"))
                await alerts_repo.add_channel(conn, "区平台", "webhook", hooks.url("generic"))
                await duty.add_shift(conn, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=8),
                                     staff_name="王值班", email="wang@example.org")
            run = replace(settings, inbox_dir=inbox, smtp_host="127.0.0.1", smtp_port=smtp.port,
                          web_host="127.0.0.1", web_port=free_port(), ami_port=sim_port, agi_port=agi_port,
                          instance_name="intake-e2e")
            options = ServiceOptions(
                intake_poll=0.2, hotline=False, housekeeping=False,
                alerts=AlertOptions(tick=0.2, remind_every=timedelta(seconds=REMIND)),
                delivery=DeliveryOptions(tick=0.1, backoff_initial=0.1, timeout=5.0),
                ami=dict(ping_interval=0.5, ping_timeout=2.0, backoff_initial=0.05, backoff_max=0.5))
            try:
                async with Service(run, options) as service:
                    inbox.mkdir(parents=True, exist_ok=True)
                    part = inbox / "工单0601.csv.part"
                    part.write_text(ticket_file(["E2E001", "E2E002", "E2E003"]), encoding="utf-8")
                    await asyncio.sleep(0.5)                    # a .part file is never read
                    assert part.exists()
                    part.rename(inbox / "工单0601.csv")
                    await wait_for(lambda: _async((inbox / "done" / "工单0601.csv").exists()), 20, "file in done/")
                    assert (inbox / "done" / "工单0601.csv.report.txt").read_text(encoding="utf-8").count("新增 3")

                    async def first_notices() -> bool:
                        return (len(hooks.bodies("wecom")) >= 3 and len(hooks.bodies("generic")) >= 3
                                and len(smtp.messages) >= 3)
                    await wait_for(first_notices, 20, "first notices")
                    async with db.pool.acquire() as conn:
                        tickets = {r["ticket_no"]: r["id"] for r in await conn.fetch(
                            "SELECT id, ticket_no FROM tickets WHERE status = 'received'")}
                        alerts = {r["ticket_ids"][0]: r["id"] for r in await conn.fetch(
                            "SELECT id, ticket_ids FROM alerts WHERE rule = 'new_ticket'")}
                    assert set(tickets) == {"E2E001", "E2E002", "E2E003"}
                    assert set(alerts) == set(tickets.values())
                    acked = [alerts[tickets["E2E001"]], alerts[tickets["E2E002"]]]
                    for alert_id in acked:
                        await web_ack(f"http://127.0.0.1:{service.web_port}", alert_id)
                    unacked = alerts[tickets["E2E003"]]

                    async def reminded() -> bool:
                        return any(b["alert_id"] == unacked and b["round"] >= 1 for b in hooks.bodies("generic"))
                    await wait_for(reminded, 20, "a reminder of the unacknowledged alert")
                    await asyncio.sleep(0.5)
            finally:
                await sim.close()
            generic = hooks.bodies("generic")
            wecom = hooks.bodies("wecom")
    for alert_id in acked:                              # once each, and no reminder after the ack
        assert [b["round"] for b in generic if b["alert_id"] == alert_id] == [0]
        assert sum(f"预警编号: {alert_id}，" in b["markdown"]["content"] for b in wecom) == 1
        assert sum(m["X-Callcenter-Alert"] == str(alert_id) for _, m in smtp.messages) == 1
    assert all(rcpt == ["wang@example.org"] for rcpt, _ in smtp.messages)
    assert "王值班" in generic[0]["on_duty"][0]
    async with db.pool.acquire() as conn:
        states = dict(await conn.fetch("SELECT id, state FROM alerts"))
        who = await conn.fetchval("SELECT acknowledged_by FROM alerts WHERE id = $1", acked[0])
        logged = await conn.fetchrow("SELECT source, outcome, inserted FROM intake_files")
    assert [states[a] for a in acked] == ["acknowledged", "acknowledged"] and states[unacked] == "new"
    assert who == "supervisor"
    assert dict(logged) == {"source": "inbox", "outcome": "done", "inserted": 3}


async def _async(value):
    return value
