"""Deadline policies without SQL (CLI and admin page), and 超期预警 paged over what the street really holds."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from callcenter.db import tickets as repo
from callcenter.db.tickets import load_policies

from .factories import insert_ticket
from .cli_runner import cli
from .test_web_helpers import client, sign_in, users  # noqa: F401  (fixtures)


async def test_deadlines_list_and_add_from_the_cli(db, db_dsn, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    code, out, _ = await cli(capsys, "deadlines", "list")
    assert code == 0 and "2021-01-01" in out and "签收时限(小时)" in out
    code, out, err = await cli(capsys, "deadlines", "add", "--effective-from", "2025-01-01", "--sign-hours", "1",
                               "--close-days-complex", "20", "--note", "市级通知")
    assert code == 0, err
    policies = {p.effective_from: p for p in await load_policies(db.pool)}
    new = policies[date(2025, 1, 1)]
    assert (new.sign_hours, new.close_days_complex, new.contact_hours) == (1, 20, 24)   # the rest copied
    assert await db.pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'deadline_policy_add'") == 1
    for bad, reason in ((["--effective-from", "2025-01-01"], "已有"),
                        (["--effective-from", "2026-01-01", "--close-days-complex", "3"], "不能短于"),
                        (["--effective-from", "2026-01-01", "--sign-hours", "0"], "正整数")):
        code, _, err = await cli(capsys, "deadlines", "add", *bad)
        assert code == 3 and reason in err, (bad, err)


async def test_admin_page_lists_and_adds_policies_others_may_not(client, db):
    token = await sign_in(client, "admin")
    page = await (await client.get("/deadlines")).text()
    assert "2021-01-01" in page and "复杂工单/最长延期(天)" in page
    response = await client.post("/deadlines", data={"csrf_token": token, "effective_from": "2025-03-01",
                                                      "close_days": "5", "note": "试行"}, allow_redirects=False)
    assert response.status == 303
    page = await (await client.get("/deadlines")).text()
    assert "2025-03-01" in page and "已添加" in page
    await client.post("/deadlines", data={"csrf_token": token, "effective_from": "2025-04-01", "close_days": "x"},
                      allow_redirects=False)
    assert "须为正整数" in await (await client.get("/deadlines")).text()
    assert date(2025, 4, 1) not in {p.effective_from for p in await load_policies(db.pool)}
    for role in ("supervisor", "agent"):
        await sign_in(client, role)
        assert (await client.get("/deadlines", allow_redirects=False)).status == 403


async def test_warnings_skip_unknown_times_and_page_instead_of_capping(client, db):
    old = datetime(2024, 5, 1, tzinfo=timezone.utc)
    async with db.pool.acquire() as conn:
        held = [await insert_ticket(conn, f"H{n:03}", called_at=old + timedelta(minutes=n)) for n in range(105)]
        unknown = await insert_ticket(conn, "IMPORTED", status="handling", called_at=old)
        await conn.execute("UPDATE tickets SET sign_time_unknown = true, contact_time_unknown = true, "
                           "close_due_at = now() + interval '30 days' WHERE id = $1", unknown)
        gone = await insert_ticket(conn, "RETURNED", status="return_approved", called_at=old)
        now = datetime.now(timezone.utc)
        first = await repo.deadline_warnings(conn, now=now, limit=60)
        rest = await repo.deadline_warnings(conn, now=now, limit=500,
                                            after=(first[-1].due_at, first[-1].ticket_id, first[-1].kind))
    listed = first + rest
    assert {w.ticket_id for w in listed} == set(held)          # the imported and the returned one are not held
    # Still 待签收: one 签收 warning each, none repeated or lost across the page boundary.
    assert sorted((w.ticket_id, w.kind) for w in listed) == [(t, "sign") for t in held]
    assert unknown not in {w.ticket_id for w in listed} and gone not in {w.ticket_id for w in listed}
    await sign_in(client, "agent")
    page = await (await client.get("/tickets/warnings")).text()
    assert "H000" in page and "下一页" in page and "IMPORTED" not in page
    next_url = page.split('href="')[-1].split('"')[0].replace("&amp;", "&")
    second = await (await client.get(next_url)).text()
    assert "H104" in second
    assert (await client.get("/tickets/warnings?after=junk")).status == 400
