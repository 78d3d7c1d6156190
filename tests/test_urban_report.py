"""The monthly report's 城市管理 sheet, from the statistics function it calls."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from openpyxl import load_workbook

from callcenter.db import urban as repo
from callcenter.reports.monthly_xlsx import write_monthly
from callcenter.reports.scorecard import monthly

from .factories import insert_unit
from .test_urban_db import close_case, record

BJ = timezone(timedelta(hours=8))
T0 = datetime(2024, 6, 3, 9, tzinfo=BJ)


async def test_the_monthly_workbook_has_the_urban_sheet(db, tmp_path):
    async with db.pool.acquire() as conn:
        unit = await insert_unit(conn, "城管科")
        due = T0 + timedelta(days=1)
        first = await repo.create_case(conn, record("C1"), actor="x")
        second = await repo.create_case(conn, record("C2", case_type="违规停车"), actor="x")
        await repo.create_case(conn, record("LATER", reported_at=datetime(2024, 6, 25, tzinfo=BJ)), actor="x")
        await close_case(conn, first, unit, deadline=due, closed_at=due - timedelta(hours=1))
        await close_case(conn, second, unit, deadline=due, closed_at=due + timedelta(hours=1))
        report = await monthly(conn, "2024-06", as_of=datetime(2024, 7, 1, tzinfo=BJ))
    assert report.urban.total == 2                     # 2024-06 runs 05-19 → 06-19: LATER is outside
    wb = load_workbook(write_monthly(report, tmp_path / "m.xlsx"))
    ws = wb["城市管理"]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=5) if row[0].value is not None]
    assert rows[0] == ["上报案件", "已结案", "按期结案", "按期结案率(%)", None]
    assert rows[1][:4] == [2, 2, 1, 50]
    assert ["暴露垃圾", 1] in [r[:2] for r in rows] and ["违规停车", 1] in [r[:2] for r in rows]
    assert ["城管科", 2, 2, 1, 50] in rows
    assert ["育新花园东门", 2, "暴露垃圾、违规停车", None, None] in rows


async def test_a_period_without_cases_has_no_urban_sheet(db, tmp_path):
    async with db.pool.acquire() as conn:
        report = await monthly(conn, "2024-06", as_of=datetime(2024, 7, 1, tzinfo=BJ))
    assert report.urban.total == 0
    assert "城市管理" not in load_workbook(write_monthly(report, tmp_path / "m.xlsx")).sheetnames
