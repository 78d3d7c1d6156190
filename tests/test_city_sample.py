"""The shipped sample file, imported as a new user would: states, 时限 figures and 失分分析 against a hand count."""
from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date, datetime, timedelta

import docx
import pytest
from openpyxl import load_workbook

from callcenter.appeals_templates.docx import statement_docx
from callcenter.db import appeals as appeals_repo
from callcenter.ledger.timezone import OFFICE_TZ

from .cli_runner import cli
from .test_import import SHIPPED_SAMPLE, row, write_csv

AS_OF = "2024-05-25T12:00"
PERIOD_START, PERIOD_END = datetime(2024, 4, 19, tzinfo=OFFICE_TZ), datetime(2024, 5, 19, tzinfo=OFFICE_TZ)


def beijing(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=OFFICE_TZ)


def hand_count() -> dict:
    """The figures counted straight from the CSV, without any of the product's code."""
    with open(SHIPPED_SAMPLE, encoding="utf-8-sig", newline="") as f:
        rows = [r for r in csv.DictReader(f) if PERIOD_START <= beijing(r["来电时间"]) < PERIOD_END]
    now = datetime.fromisoformat(AS_OF).replace(tzinfo=OFFICE_TZ)
    close = Counter()
    for r in rows:
        due = beijing(r["派单时间"]) + timedelta(hours=int(r["办理时限"]))
        if r["办结时间"]:
            close["on_time" if beijing(r["办结时间"]) <= due else "late"] += 1
        else:   # 办理中: still held by the street, its 办结 deadline known
            close["overdue" if due < now else "pending"] += 1
    # Every sample ticket is 办理中 / 已办结 / 已回访: past 签收, and (办理中 or later) past 首次联系,
    # with neither time in the file.
    return {"tickets": len(rows), "sign_unknown": len(rows), "contact_unknown": len(rows), "close": close,
            "states": Counter(r["工单状态"] for r in rows)}


@pytest.fixture
async def imported(db, db_dsn, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    code, _, err = await cli(capsys, "import", "tickets", str(SHIPPED_SAMPLE))
    assert code == 0, err
    return db


async def test_sample_tickets_enter_where_the_file_says(imported):
    with open(SHIPPED_SAMPLE, encoding="utf-8-sig", newline="") as f:
        by_city = Counter(r["工单状态"] for r in csv.DictReader(f))
    states = dict(await imported.pool.fetch("SELECT status, count(*) FROM tickets GROUP BY 1"))
    assert states == {"called_back": by_city["已回访"], "awaiting_callback": by_city["已办结"],
                      "handling": by_city["办理中"]}
    # One import event per ticket, naming the city status; no invented 签收/派单 steps.
    events = await imported.pool.fetch("SELECT action, count(*) FROM ticket_events GROUP BY 1")
    assert [(e["action"], e["count"]) for e in events] == [("import", sum(by_city.values()))]
    assert await imported.pool.fetchval("SELECT count(*) FROM tickets WHERE signed_at IS NOT NULL "
                                        "OR first_contact_at IS NOT NULL") == 0


async def test_stats_on_time_figures_match_a_hand_count(imported, capsys):
    expected = hand_count()
    code, out, err = await cli(capsys, "stats", "--period", "2024-05", "--as-of", AS_OF, "--json")
    assert code == 0, err
    compliance = {c["kind"]: c for c in json.loads(out)["compliance"]}
    for kind in ("sign", "contact"):
        c = compliance[kind]
        assert (c["on_time"], c["late"], c["overdue"], c["pending"]) == (0, 0, 0, 0)
        assert c["unknown"] == expected[f"{kind}_unknown"] == expected["tickets"]
        assert c["on_time_rate"] is None          # no known time: no rate, never 0 %
    close = compliance["close"]
    assert {k: close[k] for k in ("on_time", "late", "overdue", "pending")} == {
        k: expected["close"][k] for k in ("on_time", "late", "overdue", "pending")}
    assert close["unknown"] == 0
    assert float(close["on_time_rate"]) == pytest.approx(100 * expected["close"]["on_time"]
                                              / (expected["close"]["on_time"] + expected["close"]["late"]
                                                 + expected["close"]["overdue"]), abs=0.005)
    code, out, _ = await cli(capsys, "stats", "--period", "2024-05", "--as-of", AS_OF)
    assert "时间未知" in out


async def test_explain_groups_add_up_for_the_street_and_every_department(imported, capsys):
    departments = [r["name"] for r in await imported.pool.fetch(
        "SELECT name FROM units WHERE kind = 'department' ORDER BY name")]
    assert departments
    for unit in [[], *(["--department", name] for name in departments)]:
        code, out, err = await cli(capsys, "explain", "--period", "2024-05", "--as-of", AS_OF, "--json", *unit)
        assert code == 0, err
        doc = json.loads(out)
        if doc["composite"] is None:
            continue
        assert abs(sum(g["composite_points"] for g in doc["groups"]) - doc["gap"]) < 0.01, (unit, doc)
        assert abs(doc["gap"] - (100 - doc["composite"])) < 0.01


UTC_MARKS = ("+0000", "+00:00", "UTC")


def workbook_text(path) -> str:
    book = load_workbook(path)
    return "\n".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row
                     if c.value is not None)


async def test_no_utc_in_any_table_workbook_or_statement_the_office_receives(imported, capsys, tmp_path):
    outputs = []
    for argv in (["rates", "--period", "2024-05", "--as-of", AS_OF], ["rates", "--period", "2024-05", "--by", "day"],
                 ["explain", "--period", "2024-05", "--as-of", AS_OF], ["stats", "--period", "2024-05"]):
        code, out, err = await cli(capsys, *argv)
        assert code == 0, err
        outputs.append(out)
    assert "核减截至 2024-05-25 12:00" in outputs[0]
    book = tmp_path / "m.xlsx"
    code, _, err = await cli(capsys, "report", "monthly", "--period", "2024-05", "--as-of", AS_OF, "-o", str(book))
    assert code == 0, err
    outputs.append(workbook_text(book))
    assert "核减截至 2024-05-25 12:00" in outputs[-1]
    async with imported.pool.acquire() as conn:
        ticket_id = await conn.fetchval("SELECT id FROM tickets WHERE status = 'called_back' ORDER BY id LIMIT 1")
        dossier = await appeals_repo.dossier(conn, await appeals_repo.create_appeal(conn, ticket_id, actor="sup"))
    document = docx.Document(io.BytesIO(statement_docx(dossier, street="西三旗街道", today=date(2024, 5, 26))))
    statement = "\n".join(p.text for p in document.paragraphs)
    outputs.append(statement)
    for text in outputs:
        for mark in UTC_MARKS:
            assert mark not in text
    # 办理情况 tells the import in words: the city's status and result, never "import import".
    assert "import" not in statement
    assert "市级系统 工单导入（市级工单状态：已回访），本街道状态记为 已回访" in statement
    assert "办理结果（市级系统）：" in statement


async def test_monthly_sheets_date_city_results_on_one_named_base(imported, capsys, tmp_path):
    book_path = tmp_path / "m.xlsx"
    code, _, err = await cli(capsys, "report", "monthly", "--period", "2024-05", "--as-of", AS_OF, "-o", str(book_path))
    assert code == 0, err
    book = load_workbook(book_path)
    daily = [[c.value for c in r] for r in book["日趋势"].iter_rows()]
    head = next(i for i, r in enumerate(daily) if r[0] == "日期")
    assert "按回访日期" in str(daily[0][0]) and daily[head][1] == "工单量"
    days = [r for r in daily[head + 1:] if r[0]]
    assert days and all(r[2] <= r[1] for r in days)          # never more effective callbacks than tickets
    problems = [[c.value for c in r] for r in book["不满意未解决"].iter_rows()]
    head = next(i for i, r in enumerate(problems) if r[0] == "工单编号")
    columns = problems[head]
    rows = [dict(zip(columns, r)) for r in problems[head + 1:] if r[0]]
    assert "回访时间/办结时间" in columns and rows
    assert {r["时间依据"] for r in rows} == {"办结时间"}        # the sample's results are all the city's
    with open(SHIPPED_SAMPLE, encoding="utf-8-sig", newline="") as f:
        closed = {r["工单编号"]: r["办结时间"][:16] for r in csv.DictReader(f)}
    assert all(r["回访时间/办结时间"] == closed[r["工单编号"]] for r in rows)


async def test_a_city_result_is_dated_by_the_citys_callback_time_when_the_file_has_one(db, db_dsn, monkeypatch,
                                                                                        tmp_path, capsys):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    answered = dict(工单状态="已回访", 是否有效回访="是", 是否联系="是", 是否解决="未解决", 是否满意="不满意",
                    办结时间="2024-05-17 10:00:00")
    rows = [{**row("CB1", **answered), "回访时间": "2024-05-20 09:00:00"}, {**row("CB2", **answered), "回访时间": ""}]
    path = write_csv(tmp_path / "t.csv", rows)
    code, _, err = await cli(capsys, "import", "tickets", str(path))
    assert code == 0, err
    for period, expected in (("2024-05", {"CB2"}), ("2024-06", {"CB1"})):
        code, out, err = await cli(capsys, "rates", "--period", period, "--by", "street", "--basis", "all", "--json")
        assert code == 0, err
        assert json.loads(out)["rows"][0]["effective"] == len(expected)
        book = tmp_path / f"{period}.xlsx"
        code, _, err = await cli(capsys, "report", "monthly", "--period", period, "-o", str(book))
        sheet = [[c.value for c in r] for r in load_workbook(book)["不满意未解决"].iter_rows()]
        head = next(i for i, r in enumerate(sheet) if r[0] == "工单编号")
        rows = {r[0]: dict(zip(sheet[head], r)) for r in sheet[head + 1:] if r[0]}
        assert set(rows) == expected
    assert rows["CB1"]["时间依据"] == "市级回访时间" and rows["CB1"]["回访时间/办结时间"] == "2024-05-20 09:00"
