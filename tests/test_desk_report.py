"""坐席统计 in the monthly report: the 分中心 workbook and the office's 月报 show the /desk/stats figures.

One seeded assessment month (2024-05 = 04-19 … 05-18), counted by hand, then
read back from the page, the workbook, the office's .xlsx and its .docx.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

from aiohttp.test_utils import TestClient, TestServer
from docx import Document
from openpyxl import load_workbook

from callcenter.db import hotline, quality
from callcenter.db.callbacks import correct_answer
from callcenter.desk.quality import AGENT_HEADERS
from callcenter.ledger.timezone import OFFICE_TZ

from .cli_runner import cli
from .factories import insert_user
from .test_desk_quality import SCORES, _desk_call
from .test_web_helpers import PASSWORD, make_app, sign_in


def bj(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=OFFICE_TZ)


#: By hand.  a: 3 calls in 3 clock hours, talk 60 + 120 s (the busy call never connected), 2 of 3 complete,
#: QA 93 (the corrected grade), 1 answer corrected.  b: one 300 s call, QA 80.  c: a graded hotline call only.
EXPECTED = {"a": ["a", "3", "1.00", "3.0", "66.67", "93.00", "1"],
            "b": ["b", "1", "1.00", "5.0", "100.00", "80.00", "0"],
            "c": ["c", "0", "—", "0.0", "—", "96.00", "0"]}


async def _seed(db) -> None:
    async with db.pool.acquire() as conn:
        await insert_user(conn, "supervisor", "supervisor", PASSWORD)
        a1 = await _desk_call(conn, "a", "A1", start=bj(4, 19, 0, 5), talk_s=60)         # the month's first hour
        await _desk_call(conn, "a", "A2", start=bj(4, 25, 10, 40), talk_s=120)
        await _desk_call(conn, "a", "A3", start=bj(5, 10, 14, 10), talk_s=30, outcome="busy")
        b1 = await _desk_call(conn, "b", "B1", start=bj(5, 18, 23, 30), talk_s=300)      # the month's last hour
        await _desk_call(conn, "b", "B0", start=bj(4, 18, 23, 50), talk_s=300)           # the month before
        late = await _desk_call(conn, "b", "B2", start=bj(5, 19, 0, 10), talk_s=300)     # the month after
        await correct_answer(conn, a1, "solved", intent="partly", reason="复听", by="王主任")
        await correct_answer(conn, late, "solved", intent="partly", reason="复听", by="王主任")
        await quality.save_grade(conn, "desk", str(a1), SCORES, by="王主任")                          # 90
        await quality.save_grade(conn, "desk", str(a1), {**SCORES, "closing": "10"}, by="王主任", reason="更正")
        await quality.save_grade(conn, "desk", str(b1), {**SCORES, "script": "20"}, by="王主任")      # 80
        await quality.save_grade(conn, "desk", str(late), SCORES, by="王主任")                        # next month
        await hotline.record_call(conn, hotline.CallRow(
            uniqueid="1714500000.7", queue="counsel", caller_phone="13900001111", channel="PJSIP/x",
            joined_at=bj(5, 1, 9), ended_at=bj(5, 1, 9, 20), wait_seconds=5, talk_seconds=1200, agent="c",
            outcome="answered"))
        await quality.save_grade(conn, "hotline", "1714500000.7", {**SCORES, "script": "30", "closing": "10",
                                                                   "courtesy": "20", "faithful": "26"}, by="王主任")


def same_as_page(row, shown: list[str]) -> bool:
    """A report row (numbers) says what the page's row (text) says: equal values, empty where the page has —."""
    if len(row) < len(shown) or row[0] != shown[0]:
        return False
    return all((got is None) if text == "—" else (got is not None and Decimal(str(got)) == Decimal(text))
               for got, text in zip(row[1:len(shown)], shown[1:]))


async def test_the_monthly_reports_show_the_pages_agent_figures(db, db_dsn, settings, monkeypatch, capsys, tmp_path):
    await _seed(db)
    async with TestClient(TestServer(make_app(db, settings))) as client:
        await sign_in(client, "supervisor")
        page = await (await client.get("/desk/stats?period=2024-05")).text()
    assert "2024-05 考核月" in page
    table = page.split('id="agent-stats"')[1].split("</table>")[0]
    head, *rows = [re.findall(r"<t[hd]>(.*?)</t[hd]>", r) for r in table.split("</tr>") if "<t" in r]
    assert head == list(AGENT_HEADERS)
    assert {r[0]: r for r in rows} == EXPECTED

    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    target = tmp_path / "may.xlsx"
    code, _, err = await cli(capsys, "report", "monthly", "--period", "2024-05", "-o", str(target),
                             "--as-of", "2024-06-01T00:00")
    assert code == 0, err

    sheet = load_workbook(target)["坐席统计"]
    found = [[c.value for c in r] for r in sheet.iter_rows(min_row=5) if r[0].value is not None]
    assert found[0] == list(AGENT_HEADERS)
    body = {r[0]: r for r in found[1:4]}
    assert set(body) == set(EXPECTED)
    assert all(same_as_page(body[agent], EXPECTED[agent]) for agent in EXPECTED), body
    assert "质检均分取每通评分" in found[4][0]

    office = next(tmp_path.glob("接诉即办月报-2024-05-*.xlsx"))
    rows = list(load_workbook(office)["坐席统计"].iter_rows(min_row=2, values_only=True))
    assert list(rows[0]) == list(AGENT_HEADERS)
    office_rows = {r[0]: r for r in rows[1:]}
    assert set(office_rows) == set(EXPECTED)
    assert all(same_as_page(office_rows[agent], EXPECTED[agent]) for agent in EXPECTED), office_rows
    text = "\n".join(p.text for p in Document(str(office.with_suffix(".docx"))).paragraphs)
    assert "人工回访坐席统计" in text and "本期人工回访坐席 3 人, 拨打 4 通" in text


async def test_a_month_without_agents_has_no_agent_sheet_in_the_workbook(db):
    from callcenter.reports.monthly_xlsx import build_workbook
    from callcenter.reports.scorecard import monthly
    async with db.pool.acquire() as conn:
        report = await monthly(conn, "2024-05", as_of=bj(6, 1, 0))
    assert report.agents == () and "坐席统计" not in build_workbook(report).sheetnames
