"""The office's reports: weekly on the sample data (.docx with charts + .xlsx) checked against
``callcenter rates --format json`` and the ledger; windows; the 08:00 schedule; the 报表 page."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from docx import Document
from openpyxl import load_workbook

from callcenter.reports.schedule import due, write_due
from callcenter.reports.windows import WindowError, window
from callcenter.scoring.periods import Calendar
from callcenter.demo.ledger import SAMPLE_FILE

from .test_reports_monthly import cli
from .test_scoring_golden import build_month
from .test_web_helpers import client, sign_in, users  # noqa: F401

BJ = timezone(timedelta(hours=8))


def test_windows_say_what_a_period_means():
    cal = Calendar()
    w = window("weekly", cal, label="2024-W19")
    assert (w.start, w.end) == (datetime(2024, 5, 6, tzinfo=BJ), datetime(2024, 5, 13, tzinfo=BJ))
    assert window("weekly", cal, label="2024-05-09").label == "2024-W19" and w.month == "2024-05"
    d = window("daily", cal, label="2024-05-20")
    assert (d.start, d.end) == (datetime(2024, 5, 19, 12, tzinfo=BJ), datetime(2024, 5, 20, 12, tzinfo=BJ))
    s = window("special", cal, start_day=date(2024, 5, 1), end_day=date(2024, 5, 3))
    assert s.end - s.start == timedelta(days=3) and s.prev_end == s.start
    for bad in (dict(kind="weekly", label="2024-W99"), dict(kind="daily", label="May"),
                dict(kind="special", start_day=date(2024, 5, 3), end_day=date(2024, 5, 1))):
        with pytest.raises(WindowError):
            window(bad.pop("kind"), cal, **bad)


def test_the_schedule_is_daily_at_eight_and_weekly_on_monday():
    cal = Calendar()
    assert due(datetime(2024, 5, 21, 7, 59, tzinfo=BJ), cal) == []
    assert due(datetime(2024, 5, 21, 8, 0, tzinfo=BJ), cal) == [("daily", "2024-05-20")]
    assert due(datetime(2024, 5, 21, 15, 0, tzinfo=BJ), cal) == [("daily", "2024-05-20")]    # not tomorrow's
    assert due(datetime(2024, 5, 20, 9, 0, tzinfo=BJ), cal) == [("daily", "2024-05-19"), ("weekly", "2024-W20")]


@pytest.fixture
async def sample(db_dsn, monkeypatch, tmp_path):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    conn = await asyncpg.connect(db_dsn)
    try:
        await build_month(conn)                  # scored callbacks in assessment month 2024-05
    finally:
        await conn.close()


async def test_weekly_report_on_the_sample_data_matches_rates_json(sample, db_dsn, capsys, tmp_path):
    code, _, err = await cli(capsys, "import", "tickets", str(SAMPLE_FILE))
    assert code == 0, err
    code, out, err = await cli(capsys, "report", "weekly", "--period", "2024-W19", "--out-dir", str(tmp_path))
    assert code == 0, err
    code, rates_out, err = await cli(capsys, "rates", "--period", "2024-05", "--by", "street", "--format", "json")
    assert code == 0, err
    expected = {r["basis_label"]: r for r in json.loads(rates_out)["rows"]}
    xlsx = next(tmp_path.glob("接诉即办周报-2024-W19-*.xlsx"))
    book = load_workbook(xlsx)
    rows = list(book["三率"].iter_rows(min_row=3, values_only=True))
    assert {r[0] for r in rows} == {"全口径", "剔除后"}
    for basis, volume, effective, *figures in rows:
        want = expected[basis]
        assert (volume, effective) == (want["volume"], want["effective"])
        for got, key in zip(figures, ("response", "solved", "satisfied", "composite")):
            assert (None if got is None else Decimal(str(got))) == (None if want[key] is None else Decimal(want[key]))
    conn = await asyncpg.connect(db_dsn)
    try:
        week = await conn.fetchval("SELECT count(*) FROM tickets WHERE called_at >= $1 AND called_at < $2",
                                   datetime(2024, 5, 6, tzinfo=BJ), datetime(2024, 5, 13, tzinfo=BJ))
        logged = await conn.fetchrow("SELECT kind, label, docx_path FROM reports")
    finally:
        await conn.close()
    summary = dict(r[:2] for r in book["概况"].iter_rows(min_row=3, values_only=True))
    assert week > 0 and summary["工单量"] == week
    days = list(book["每日工单"].iter_rows(min_row=3, values_only=True))
    assert sum(n for _, n in days) == week and len(days) == 7
    doc = Document(str(xlsx.with_suffix(".docx")))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert f"本期共受理 12345 工单 {week} 件" in text
    composite = expected["剔除后"]["composite"]
    assert f"综合成绩 {composite} 分" in text
    assert len(doc.inline_shapes) >= 3                        # daily, ranking and category charts
    images = [p for p in doc.part.package.parts if p.content_type == "image/png"]
    assert len(images) >= 3 and all(len(p.blob) > 5000 for p in images)
    assert (logged["kind"], logged["label"]) == ("weekly", "2024-W19") and Path(logged["docx_path"]).exists()


async def test_a_community_report_gives_that_communitys_rates_not_the_streets(sample, db_dsn, capsys, tmp_path):
    code, _, err = await cli(capsys, "import", "tickets", str(SAMPLE_FILE))
    assert code == 0, err
    code, rates_out, err = await cli(capsys, "rates", "--period", "2024-05", "--by", "community", "--format", "json")
    assert code == 0, err
    rows = [r for r in json.loads(rates_out)["rows"] if r["basis_label"] == "剔除后" and r["effective"]]
    _, street_out, _ = await cli(capsys, "rates", "--period", "2024-05", "--by", "street", "--format", "json")
    street = next(r for r in json.loads(street_out)["rows"] if r["basis_label"] == "剔除后")
    chosen = next(r for r in rows if r["composite"] != street["composite"])
    code, _, err = await cli(capsys, "report", "special", "--from", "2024-04-19", "--to", "2024-05-18",
                             "--community", chosen["unit"], "--out-dir", str(tmp_path))
    assert code == 0, err
    xlsx = next(tmp_path.glob("*.xlsx"))
    excluded = next(r for r in load_workbook(xlsx)["三率"].iter_rows(min_row=3, values_only=True) if r[0] == "剔除后")
    assert (excluded[1], excluded[2]) == (chosen["volume"], chosen["effective"])
    assert Decimal(str(excluded[6])) == Decimal(chosen["composite"])
    text = "\n".join(p.text for p in Document(str(xlsx.with_suffix(".docx"))).paragraphs)
    summary = dict(r[:2] for r in load_workbook(xlsx)["概况"].iter_rows(min_row=3, values_only=True))
    assert summary["三率范围"] == f"社区「{chosen['unit']}」"
    assert f"社区「{chosen['unit']}」" in text and f"综合成绩 {chosen['composite']} 分" in text


async def test_bad_period_is_a_usage_error(sample, capsys, tmp_path):
    code, _, err = await cli(capsys, "report", "weekly", "--period", "next week", "--out-dir", str(tmp_path))
    assert code == 2 and "YYYY-Www" in err


async def test_service_writes_each_scheduled_report_once_and_the_page_lists_it(client, db, users, tmp_path):
    monday = datetime(2024, 5, 20, 8, 30, tzinfo=BJ)
    assert await write_due(db.pool, tmp_path, monday) == ["daily 2024-05-19", "weekly 2024-W20"]
    assert await write_due(db.pool, tmp_path, monday + timedelta(minutes=1)) == []
    assert len(list(tmp_path.glob("*.docx"))) == 2
    await sign_in(client, "agent")
    page = await (await client.get("/reports")).text()
    assert "2024-W20" in page and "系统 (service)" in page
    async with db.pool.acquire() as conn:
        report_id = await conn.fetchval("SELECT id FROM reports WHERE kind = 'weekly'")
    download = await client.get(f"/reports/{report_id}/docx")
    assert download.status == 200 and (await download.read())[:2] == b"PK"
    assert (await client.get("/reports/999999/docx")).status == 404
