"""Phone numbers are masked in every output the office reads; --unmasked shows them and leaves an audit row."""
from __future__ import annotations

import json

import pytest
from openpyxl import load_workbook

from callcenter.transfer.importer import import_tickets

from .cli_runner import cli
from .test_import import row, write_csv

FULL, MASKED = "13800000001", "138****0001"


@pytest.fixture
async def repeat_caller(db, db_dsn, monkeypatch, tmp_path):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    rows = [row(f"R{i}", 来电时间=f"2024-05-0{i + 1} 09:30:00", 派单时间="") for i in range(3)]
    await import_tickets(db.pool, write_csv(tmp_path / "t.csv", rows))
    return db


def cells_text(path) -> str:
    book = load_workbook(path)
    return "\n".join(str(c.value) for ws in book.worksheets for r in ws.iter_rows() for c in r if c.value is not None)


async def test_stats_and_the_monthly_workbook_mask_phones_by_default(repeat_caller, capsys, tmp_path):
    code, out, err = await cli(capsys, "stats", "--period", "2024-05")
    assert code == 0, err
    assert MASKED in out and FULL not in out
    code, out, _ = await cli(capsys, "stats", "--period", "2024-05", "--json")
    assert json.loads(out)["repeat_callers"] == [{"phone": MASKED, "tickets": 3}]
    book = tmp_path / "m.xlsx"
    code, _, err = await cli(capsys, "report", "monthly", "--period", "2024-05", "-o", str(book))
    assert code == 0, err
    assert MASKED in cells_text(book) and FULL not in cells_text(book)
    assert await repeat_caller.pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'unmasked_phones'") == 0


async def test_unmasked_shows_the_number_and_is_audited(repeat_caller, capsys, tmp_path):
    code, out, err = await cli(capsys, "stats", "--period", "2024-05", "--unmasked")
    assert code == 0, err
    assert FULL in out
    book = tmp_path / "m.xlsx"
    code, _, err = await cli(capsys, "report", "monthly", "--period", "2024-05", "--unmasked", "-o", str(book))
    assert code == 0, err
    assert FULL in cells_text(book)
    audit = await repeat_caller.pool.fetch(
        "SELECT actor, object_type, object_id FROM audit_log WHERE action = 'unmasked_phones' ORDER BY id")
    assert [(a["object_type"], a["object_id"]) for a in audit] == [("stats", "2024-05"), ("report monthly", "2024-05")]
    assert all(a["actor"].startswith("cli") for a in audit)
