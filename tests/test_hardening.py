"""Hardening: no formula in any export, same-origin redirects only, owners checked, bad input refused (never a 500)."""
from __future__ import annotations

import base64
import csv
import io
import random
from datetime import date

import openpyxl
import pytest

from callcenter.db import hotline as hotline_repo
from callcenter.inputs import InputError, bounded_day, bounded_int, parse_json
from callcenter.transfer.exporter import export_tickets, month_bounds
from callcenter.transfer.safe_cells import safe_cell
from callcenter.web.core.login import safe_next

from .factories import insert_ticket, insert_user
from .test_web_helpers import PASSWORD, client, login, make_app, open_client, sign_in, users  # noqa: F401

FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", '=HYPERLINK("http://evil","x")']


def test_safe_cell_prefixes_formula_text_and_keeps_typed_values():
    for text in FORMULAS:
        assert safe_cell(text) == "'" + text
    for kept in ("楼道堆物", "13800000001", "a=b", 5, 2.5, date(2024, 5, 1), None):
        assert safe_cell(kept) == kept


def _no_formula_cells(data: bytes) -> list:
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
    assert cells
    return [c.coordinate for c in cells if c.data_type == "f"]


async def _formula_tickets(db) -> None:
    async with db.pool.acquire() as conn:
        for i, text in enumerate(FORMULAS):
            ticket = await insert_ticket(conn, f"F{i}", title=text)
            await conn.execute("UPDATE tickets SET handling_result = $2 WHERE id = $1", ticket, text)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_cli_export_writes_no_formula(db, tmp_path, fmt):
    await _formula_tickets(db)
    out = tmp_path / f"t.{fmt}"
    assert await export_tickets(db.pool, month_bounds("2024-05"), out, fmt) == len(FORMULAS)
    if fmt == "xlsx":
        assert _no_formula_cells(out.read_bytes()) == []
        cells = [c for row in openpyxl.load_workbook(out).active.iter_rows(values_only=True) for c in row]
    else:
        with out.open(encoding="utf-8-sig", newline="") as f:
            cells = [c for row in csv.reader(f) for c in row]
    for text in FORMULAS:
        assert ("'" + text) in cells, text
        assert text not in cells


async def test_web_export_writes_no_formula(client, db):
    await _formula_tickets(db)
    await sign_in(client, "supervisor")
    response = await client.get("/tickets/export.xlsx")
    assert response.status == 200
    data = await response.read()
    assert _no_formula_cells(data) == []
    values = [c for row in openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True) for c in row]
    assert "'=1+1" in values and "'@SUM(A1)" in values


async def test_repeat_ledger_writes_no_formula(client, db):
    async with db.pool.acquire() as conn:
        profile = await hotline_repo.add_profile(conn, "13800000009", "=cmd|' /C calc'!A0")
        await hotline_repo.add_meeting(conn, profile, met_on=date(2026, 11, 18), place="@SUM(1)",
                                       participants="+1", discussion="-1", follow_up="=1", created_by=None)
    await sign_in(client, "supervisor")
    response = await client.get("/repeat/ledger.xlsx")
    assert response.status == 200
    data = await response.read()
    assert _no_formula_cells(data) == []
    row = list(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))[1]
    assert row[0] == "'=cmd|' /C calc'!A0" and "'@SUM(1)" in row and "'=1" in row


# -- redirects ---------------------------------------------------------------------------------------

HOSTILE_NEXT = ["/\t/evil.com", "/\r/evil.com", "/\n/evil.com", "//evil.com", "/\\evil.com", "https://evil.com/",
                "javascript:alert(1)", "/\t\\evil.com", " //evil.com", "\x00//evil.com"]


def test_safe_next_keeps_local_paths_only():
    for target in HOSTILE_NEXT:
        assert safe_next(target) == "/tickets", repr(target)
    for target in ("/calls?outcome=completed", "/tickets/5", "/%09/evil.com"):
        assert safe_next(target) == target


async def test_sign_in_never_redirects_off_site(client):
    for target in ("/%09/evil.com", "/%0d/evil.com"):        # as sent in the link: the server decodes them
        response = await client.get(f"/login?next={target}")
        assert response.status == 200
    for target in HOSTILE_NEXT:
        client.session.cookie_jar.clear()
        response = await login(client, "agent", next_url=target)
        if "\x00" in target:            # refused at the door with the rest of the form
            assert response.status == 400
            continue
        assert response.status == 303
        assert response.headers["Location"] == "/console", repr(target)     # the agent's own start page
    # already signed in: GET /login?next=… redirects at once, same rule
    client.session.cookie_jar.clear()
    assert (await login(client, "agent")).status == 303
    response = await client.get("/login", params={"next": "/\t/evil.com"}, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/tickets"


# -- ownership ---------------------------------------------------------------------------------------

async def _task(db, assigned_to: int | None) -> int:
    async with db.pool.acquire() as conn:
        return await conn.fetchval("INSERT INTO callback_tasks (caller_phone, reason, assigned_to) "
                                   "VALUES ('13800000009', 'repeat_followup', $1) RETURNING id", assigned_to)


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
@pytest.mark.parametrize("owner", ["self", "other", "nobody"])
async def test_callback_task_actions_are_checked_against_the_owner(db, settings, users, role, owner):
    async with db.pool.acquire() as conn:
        other = await insert_user(conn, "agent2", "agent", PASSWORD)
    task = await _task(db, {"self": users[role], "other": other, "nobody": None}[owner])
    c = await open_client(make_app(db, settings))
    try:
        token = await sign_in(c, role)
        response = await c.post(f"/console/tasks/{task}", data={"action": "cancelled", "csrf_token": token},
                                allow_redirects=False)
        status = await db.pool.fetchval("SELECT status FROM callback_tasks WHERE id = $1", task)
        if owner == "other":
            assert response.status == 404 and status == "open"
        else:
            assert response.status == 302 and status == "cancelled"
    finally:
        await c.close()


async def test_another_agents_task_is_not_dialled(db, settings, users):
    class Dialer:
        placed: list = []

        def place_callback(self, username, phone):
            self.placed.append(phone)

    async with db.pool.acquire() as conn:
        other = await insert_user(conn, "agent2", "agent", PASSWORD)
    task = await _task(db, other)
    hotline = Dialer()
    c = await open_client(make_app(db, settings, hotline=hotline))
    try:
        token = await sign_in(c, "agent")
        response = await c.post(f"/console/tasks/{task}", data={"action": "call", "csrf_token": token},
                                allow_redirects=False)
        assert response.status == 404 and hotline.placed == []
    finally:
        await c.close()


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
@pytest.mark.parametrize("owner", ["self", "other", "nobody"])
async def test_counseling_records_are_checked_against_who_took_the_call(db, settings, users, role, owner):
    """An agent records only calls they answered; supervisors and admins (who review) any call."""
    agent_name = {"self": role, "other": "someone-else", "nobody": None}[owner]
    async with db.pool.acquire() as conn:
        await conn.execute("INSERT INTO hotline_calls (uniqueid, queue, caller_phone, joined_at, ended_at, "
                           "wait_seconds, agent, outcome) "
                           "VALUES ('u-1', 'counsel', '13800000009', now(), now(), 0, $1, $2)", agent_name,
                           "answered" if agent_name else "abandoned")
    c = await open_client(make_app(db, settings))
    try:
        token = await sign_in(c, role)
        response = await c.post("/console/records", data={
            "uniqueid": "u-1", "topic": "家庭", "emotional_state": "平稳", "risk_level": "low", "next_step": "",
            "csrf_token": token}, allow_redirects=False)
        assert response.status == 302
        stored = await db.pool.fetchval("SELECT count(*) FROM counseling_records")
        assert stored == (0 if owner == "other" and role == "agent" else 1)
    finally:
        await c.close()


# -- sessions and bad input --------------------------------------------------------------------------

async def test_a_stale_session_cookie_does_not_delete_the_fresh_one(client):
    client.session.cookie_jar.update_cookies({"cc_session": "stale-token-from-yesterday"})
    response = await login(client, "agent")
    assert response.status == 303
    fresh = response.cookies.get("cc_session")
    assert fresh is not None and fresh.value and fresh.value != "stale-token-from-yesterday"
    assert (await client.get("/api/me")).status == 200


async def test_hostile_sign_in_names_are_refused_not_crashed(client):
    incompressible = base64.b64encode(random.Random(7).randbytes(6000)).decode()    # beyond a btree index row
    for name in ("a\x00b", "x" * 5000, incompressible):
        response = await login(client, name)
        assert response.status == 400, name[:10]
        assert "系统内部错误" not in await response.text()


async def test_unicode_digits_huge_ids_edge_dates_and_deep_json_are_400s(client):
    token = await sign_in(client, "admin")
    for path in ("/tickets?department=²", "/tickets?department=2147483648", "/tickets?from=0001-01-01",
                 "/tickets?to=9999-12-31", "/calls?day=9999-12-31", "/audit?day=0001-01-01",
                 "/tickets?after=0001-01-01T00:00:00%2B00:00~1", "/console/tasks/²"):
        response = await client.get(path) if "console" not in path else await client.post(
            path, data={"csrf_token": token, "action": "done"})
        assert response.status in (200, 400, 404), (path, response.status)
        assert "系统内部错误" not in await response.text(), path
    deep = "[" * 100_000 + "]" * 100_000
    response = await client.post("/api/tickets/1/step", data=deep,
                                  headers={"Content-Type": "application/json", "X-CSRF-Token": token})
    assert response.status == 400 and "嵌套过深" in (await response.json())["message"]


def test_input_rules():
    with pytest.raises(InputError):
        bounded_int("²", "编号")
    with pytest.raises(InputError):
        bounded_int("2147483648", "单位", high=2 ** 31 - 1)
    assert bounded_int("42", "编号") == 42
    with pytest.raises(InputError, match="超出范围"):
        bounded_day("0001-01-01", "日期")
    assert bounded_day("2024-05-01", "日期") == date(2024, 5, 1)
    with pytest.raises(InputError, match="嵌套过深"):
        parse_json("[" * 50 + "]" * 50)
    with pytest.raises(InputError, match="NUL"):
        parse_json('{"a": "\\u0000"}')
    assert parse_json('{"a": [1, 2]}') == {"a": [1, 2]}


# -- importer, settings, operator errors -------------------------------------------------------------

def test_a_nul_in_a_csv_is_reported_with_its_line_and_column(tmp_path):
    from callcenter.transfer.reader import FileRejected, decode_text
    with pytest.raises(FileRejected, match="第 2 行第 8 个字符处含有 NUL"):
        decode_text("工单编号,标题\n2405,楼道\x00堆物\n".encode("utf-8"), "t.csv")
    with pytest.raises(FileRejected, match="UTF-16"):
        decode_text("工单编号,标题,来电时间\n".encode("utf-16-le"), "t.csv")


def test_ticket_numbers_longer_than_the_citys_are_refused():
    from callcenter.ledger import ticket_record as tr
    with pytest.raises(tr.FieldError, match="最长 32"):
        tr._ticket_no("9" * 40)
    with pytest.raises(tr.FieldError):
        tr._ticket_no("24\x0005")
    assert tr._ticket_no("2405010001") == "2405010001"


def test_config_check_names_unknown_callcenter_variables(monkeypatch, capsys):
    from callcenter.cli import main
    monkeypatch.setenv("CALLCENTER_AMI_HSOT", "10.0.0.5")
    assert main(["config", "check"]) == 2
    err = capsys.readouterr().err
    assert "CALLCENTER_AMI_HSOT" in err and "CALLCENTER_AMI_HOST" in err
    monkeypatch.delenv("CALLCENTER_AMI_HSOT")
    monkeypatch.setenv("CALLCENTER_WEB_COOKIE_SECURE", "yes")
    assert main(["config", "check"]) == 0
    assert "web_cookie_secure = True" in capsys.readouterr().out


def test_an_unreachable_database_is_one_sentence_and_exit_1(monkeypatch, capsys):
    from callcenter.cli import main
    monkeypatch.setenv("CALLCENTER_DSN", "postgresql://u:hunter2@127.0.0.1:1/x")
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and "hunter2" not in err
    assert "无法连接" in err and "127.0.0.1:1" in err
    assert main(["-v", "migrate"]) == 1
    assert "Traceback" in capsys.readouterr().err          # -v: the traceback for whoever debugs it


async def test_secure_cookies_by_setting_or_by_a_trusted_proxy(db, settings, users):  # noqa: F811
    from callcenter.web.core.config import WebConfig

    async def cookie_flags(config: WebConfig, headers: dict) -> str:
        c = await open_client(make_app(db, settings, web_config=config))
        try:
            response = await c.get("/login", headers=headers)
            return response.headers.get("Set-Cookie", "")
        finally:
            await c.close()
    proxy = {"X-Forwarded-Proto": "https"}
    assert "Secure" not in await cookie_flags(WebConfig(), proxy)                  # not trusted by default
    assert "Secure" in await cookie_flags(WebConfig(cookie_secure=True), {})
    assert "Secure" in await cookie_flags(WebConfig(trust_forwarded_proto=True), proxy)
    assert "Secure" not in await cookie_flags(WebConfig(trust_forwarded_proto=True), {})


def test_settings_reach_the_web_config():
    from callcenter.config import load_settings
    from callcenter.web.core.config import web_config_from
    s = load_settings(environ={"CALLCENTER_WEB_COOKIE_SECURE": "true", "CALLCENTER_WEB_TRUST_FORWARDED_PROTO": "1"})
    config = web_config_from(s)
    assert config.cookie_secure and config.trust_forwarded_proto


async def test_a_step_to_a_unit_that_does_not_exist_is_422_not_500(client, db):
    async with db.pool.acquire() as conn:
        ticket = await insert_ticket(conn, status="signed")
    token = await sign_in(client, "supervisor")
    response = await client.post(f"/api/tickets/{ticket}/step", json={"action": "dispatch", "unit_id": "999999"},
                                 headers={"X-CSRF-Token": token})
    assert response.status in (400, 422), response.status
    assert await db.pool.fetchval("SELECT status FROM tickets WHERE id = $1", ticket) == "signed"
    for deadline in ("0001-01-01T00:00", "9999-12-31T23:59"):       # 延期 at the edges of the calendar
        response = await client.post(f"/api/tickets/{ticket}/step", headers={"X-CSRF-Token": token},
                                     json={"action": "extend", "reason": "r", "new_deadline": deadline})
        assert response.status in (400, 403, 422), (deadline, response.status)
