"""The CLI (rates, explain, ruleset, report monthly) and the .xlsx workbook, on the hand-computed month."""
from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from docx import Document
from openpyxl import load_workbook

from callcenter.cli import main

from .test_scoring_golden import build_month

BJ = timezone(timedelta(hours=8))
AS_OF = "2024-06-01T00:00"


@pytest.fixture
async def month(db_dsn, monkeypatch, tmp_path):
    """The golden month, with its units, reachable through the CLI's settings."""
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    conn = await asyncpg.connect(db_dsn)
    try:
        ids = await build_month(conn)
        dept = {name: await conn.fetchval("INSERT INTO units (kind, name) VALUES ('department', $1) RETURNING id", name)
                for name in ("物业科", "城管科")}
        # F and G (the costly ones) belong to 物业科, everything else effective to 城管科.
        costly = ids["F"] + ids["G"]
        await conn.execute("UPDATE tickets SET department_id = $1 WHERE id = ANY($2::bigint[])", dept["物业科"], costly)
        await conn.execute("UPDATE tickets SET department_id = $1 WHERE department_id IS NULL", dept["城管科"])
        # Last period: 物业科 was perfect (so it drops), 城管科 had one 不满意.
        for n, sat in enumerate(["satisfied", "satisfied", "dissatisfied"]):
            tid = await conn.fetchval(
                """INSERT INTO tickets (ticket_no, category_l1, called_at, department_id, status)
                   VALUES ($1, '物业管理', $2, $3, 'called_back') RETURNING id""",
                f"PREV{n}", datetime(2024, 4, 1, tzinfo=BJ), dept["城管科"] if sat == "dissatisfied" or n == 1 else dept["物业科"])
            aid = await conn.fetchval(
                """INSERT INTO callback_attempts (id, ticket_id, attempt_no, phone, state, answered_at)
                   VALUES (gen_random_uuid(), $1, 1, '1', 'finished', $2) RETURNING id""", tid, datetime(2024, 4, 5, tzinfo=BJ))
            await conn.executemany(
                "INSERT INTO callback_answers (attempt_id, question, intent, source) VALUES ($1, $2, $3, 'dtmf')",
                [(aid, "contacted", "yes"), (aid, "solved", "solved"), (aid, "satisfaction", sat)])
    finally:
        await conn.close()
    return ids


async def cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_rates_json_names_period_and_rule_set(month, capsys):
    code, out, _ = await cli(capsys, "rates", "--period", "2024-05", "--by", "street", "--format", "json",
                             "--as-of", AS_OF)
    assert code == 0
    data = json.loads(out)
    assert data["period"] == "2024-05" and data["from"].startswith("2024-04-19T00:00:00+08")
    assert "默认" in data["rule_set"] and "k=0.9" in data["rule_set"]
    by_basis = {r["basis"]: r for r in data["rows"]}
    assert by_basis["all"]["composite"] == "79.89" and by_basis["excluded"]["composite"] == "84.73"
    assert by_basis["excluded"]["response"] == "96.97" and by_basis["all"]["effective"] == 35


async def test_rates_csv_and_table_by_department(month, capsys):
    code, out, _ = await cli(capsys, "rates", "--period", "2024-05", "--by", "department", "--basis", "excluded",
                             "--format", "csv", "--as-of", AS_OF)
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:4] == ["period", "rule_set", "科室", "口径"]
    wuye = next(r for r in rows[1:] if r[2] == "物业科")
    # 物业科 剔除后: only the two F tickets remain (G granted): 是/未解决/不满意 → 响应 100, 解决 0, 满意 0, 综合 10.
    assert wuye[3:] == ["剔除后", "4", "2", "100.00", "0.00", "0.00", "10.00"]
    code, out, _ = await cli(capsys, "rates", "--period", "2024-05", "--by", "street", "--as-of", AS_OF)
    assert code == 0 and "79.89" in out and "84.73" in out and "全口径" in out and "默认" in out


async def test_bad_period_is_a_usage_error(month, capsys):
    code, _, err = await cli(capsys, "rates", "--period", "2024-13")
    assert code == 2 and "YYYY-MM" in err


async def test_explain_names_the_costly_tickets(month, capsys):
    code, out, _ = await cli(capsys, "explain", "--period", "2024-05", "--department", "物业科", "--as-of", AS_OF)
    assert code == 0
    assert "这 2 件不满意工单使满意率损失 100.00 个百分点" in out
    code, out, _ = await cli(capsys, "explain", "--period", "2024-05", "--as-of", AS_OF)
    assert code == 0 and "待审申诉 1 件全部通过" in out      # H's pending appeal
    code, _, err = await cli(capsys, "explain", "--period", "2024-05", "--department", "无此科")
    assert code == 2 and "无此科" in err


async def test_ruleset_add_validates_and_is_dated(month, capsys):
    code, _, err = await cli(capsys, "ruleset", "add", "--name", "x", "--effective-from", "2024-05-19",
                             "--k", "0.6", "--weights", "30/35/30")
    assert code == 3 and "sum" in err
    code, _, err = await cli(capsys, "ruleset", "add", "--name", "x", "--effective-from", "2024-05-19",
                             "--k", "1.5", "--weights", "30/35/35")
    assert code == 3 and "k" in err
    code, out, _ = await cli(capsys, "ruleset", "add", "--name", "西宁式", "--effective-from", "2024-04-19",
                             "--k", "0.6", "--weights", "30/35/35", "--by", "admin")
    assert code == 0
    code, _, err = await cli(capsys, "ruleset", "add", "--name", "again", "--effective-from", "2024-04-19",
                             "--k", "0.6", "--weights", "0.3/0.35/0.35")
    assert code == 3 and "2024-04-19" in err
    code, out, _ = await cli(capsys, "ruleset", "list")
    assert code == 0 and "西宁式" in out and "默认" in out
    # The May period now starts on the new rule set's first day: second-rule-set golden figures.
    code, out, _ = await cli(capsys, "rates", "--period", "2024-05", "--by", "street", "--format", "json",
                             "--as-of", AS_OF)
    data = json.loads(out)
    assert "西宁式" in data["rule_set"]
    assert {r["basis"]: r["composite"] for r in data["rows"]} == {"all": "81.03", "excluded": "85.94"}


async def test_monthly_workbook(month, capsys, tmp_path):
    target = tmp_path / "may.xlsx"
    code, out, _ = await cli(capsys, "report", "monthly", "--period", "2024-05", "-o", str(target), "--as-of", AS_OF)
    assert code == 0 and target.exists()
    wb = load_workbook(target)
    assert wb.sheetnames == ["汇总", "科室排名", "社区排名", "分类统计", "日趋势", "不满意未解决", "热点与重复"]
    summary = wb["汇总"]
    assert "默认" in summary["A3"].value
    assert [c.value for c in summary[6]][:7] == ["全口径", 40, 35, 91.43, 74.29, 84, 79.89]
    assert [c.value for c in summary[7]][:7] == ["剔除后", 40, 33, 96.97, 78.79, 89.09, 84.73]
    ranking = wb["科室排名"]
    table = [[c.value for c in row] for row in ranking.iter_rows(min_row=6, max_row=7)]
    assert [r[:3] for r in table] == [[1, "城管科", 36], [2, "物业科", 4]]
    assert table[1][8:10] == [1, -1]                       # 物业科 was first last period
    assert len(ranking._charts) == 1 and len(wb["日趋势"]._charts) == 2 and len(wb["分类统计"]._charts) == 1
    problems = wb["不满意未解决"]
    rows = [[c.value for c in row] for row in problems.iter_rows(min_row=6) if row[0].value]
    assert len(rows) == 10                                 # C 3 + D 1 + E 1 + F 2 + G 2 + H 1
    assert sum(1 for r in rows if r[-1] == "是") == 2       # G: 已核减
    # the office's own 月报 beside it: a .docx with charts and an .xlsx, as for 日报 / 周报
    docx = next(tmp_path.glob("接诉即办月报-2024-05-*.docx"))
    assert docx.with_suffix(".xlsx").exists()
    assert len(Document(str(docx)).inline_shapes) >= 1


async def test_report_refuses_other_formats(month, capsys, tmp_path):
    code, _, err = await cli(capsys, "report", "monthly", "--period", "2024-05", "-o", str(tmp_path / "x.csv"))
    assert code == 2 and not (tmp_path / "x.csv").exists()


async def test_stats_for_a_period_and_a_daily_window(month, capsys):
    code, out, _ = await cli(capsys, "stats", "--period", "2024-05", "--format", "json", "--as-of", AS_OF)
    assert code == 0
    data = json.loads(out)
    # 42 tickets in the ledger were received 2024-04-19 → 05-18, minus two received earlier (A's boundary ones).
    assert data["categories"] == [{"category": "物业管理", "tickets": 40, "previous": 4}]
    assert data["hour"] == [{"key": "10", "tickets": 40}]
    code, out, _ = await cli(capsys, "stats", "--period", "2024-05", "--day", "2024-05-02", "--format", "json")
    day = json.loads(out)
    assert day["from"] == "2024-05-01T12:00:00+08:00" and day["to"] == "2024-05-02T12:00:00+08:00"
    # The 8 tickets made by city_ticket() were received 05-02 10:00; the other 32 of the period on 05-01 10:00.
    assert day["categories"] == [{"category": "物业管理", "tickets": 8, "previous": 32}]
    code, out, _ = await cli(capsys, "stats", "--period", "2024-05")
    assert code == 0 and "来电时段" in out and "时限执行" in out


async def test_calendar_change_moves_the_period(month, capsys):
    code, out, _ = await cli(capsys, "ruleset", "calendar", "--start-day", "29")
    assert code == 3
    code, out, _ = await cli(capsys, "ruleset", "calendar", "--start-day", "1", "--cut-hour", "0")
    assert code == 0 and "每月 1 日" in out
    code, out, _ = await cli(capsys, "rates", "--period", "2024-05", "--by", "street", "--format", "json",
                             "--as-of", AS_OF)
    data = json.loads(out)
    assert data["from"] == "2024-05-01T00:00:00+08:00" and data["to"] == "2024-06-01T00:00:00+08:00"
    # The calendar May: the golden 40 but the one called back 04-19 00:00, plus the one called back 05-19 00:00.
    assert {r["basis"]: r["volume"] for r in data["rows"]} == {"all": 40, "excluded": 40}
