"""Ticket export: month in Beijing time, the city's headers, BOM CSV and xlsx, and the round trip."""
from __future__ import annotations

import asyncio
import csv
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from callcenter import cli
from callcenter.db.ticket_export import tickets_called_between
from callcenter.ledger import ticket_record as tr
from callcenter.ledger.deadlines import DeadlinePolicy
from callcenter.ledger.timezone import OFFICE_TZ
from callcenter.transfer import sample
from callcenter.transfer.exporter import export_tickets, month_bounds
from callcenter.transfer.importer import import_tickets, validate_file

from .test_import import row, write_csv

CATEGORIES = frozenset({t.l1 for t in sample.TOPICS})


def records_of(path: Path) -> list[tr.TicketRecord]:
    """Every record in a ticket file, as the importer reads it."""
    validated = validate_file(path, CATEGORIES, [DeadlinePolicy(date(2000, 1, 1))])
    assert not validated.rejected, validated.errors
    return validated.records


def test_month_bounds_are_beijing_calendar_months():
    assert month_bounds("2024-05") == (datetime(2024, 5, 1, tzinfo=OFFICE_TZ), datetime(2024, 6, 1, tzinfo=OFFICE_TZ))
    assert month_bounds("2024-12")[1] == datetime(2025, 1, 1, tzinfo=OFFICE_TZ)
    for bad in ("2024-13", "2024/05", "May", "2024-00", ""):
        with pytest.raises(ValueError, match="YYYY-MM"):
            month_bounds(bad)


async def test_month_is_chosen_by_call_time_in_beijing(db, tmp_path):
    rows = [row("LAST-MAY", 来电时间="2024-05-31 23:30", 派单时间=""),            # 15:30 UTC, May 31
            row("FIRST-JUNE", 来电时间="2024-06-01 00:10", 派单时间=""),          # 16:10 UTC, May 31
            row("FIRST-MAY", 来电时间="2024-05-01T00:00:00+08:00", 派单时间=""),
            row("APRIL", 来电时间="2024-04-30 23:59:59", 派单时间="")]
    await import_tickets(db.pool, write_csv(tmp_path / "in.csv", rows))
    assert await export_tickets(db.pool, month_bounds("2024-05"), tmp_path / "may.csv", "csv", mask_phones=False) == 2
    assert [r.ticket_no for r in records_of(tmp_path / "may.csv")] == ["FIRST-MAY", "LAST-MAY"]
    assert await export_tickets(db.pool, month_bounds("2024-06"), tmp_path / "june.csv", "csv", mask_phones=False) == 1
    assert [r.ticket_no for r in records_of(tmp_path / "june.csv")] == ["FIRST-JUNE"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_export_reimports_unchanged_and_round_trips_every_field(db, tmp_path, fmt):
    source = tmp_path / "sample.csv"
    written = sample.write_sample(source, 300, seed=5, start=date(2024, 4, 19), months=1)
    first = await import_tickets(db.pool, source)
    assert first.inserted == written
    may = [r for r in records_of(source) if r.called_at.month == 5]
    assert may
    out = tmp_path / f"may.{fmt}"
    assert await export_tickets(db.pool, month_bounds("2024-05"), out, fmt, mask_phones=False) == len(may)
    assert records_of(out) == may                                  # every field survives
    again = await import_tickets(db.pool, out)
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, len(may), 0)
    assert await db.pool.fetchval("SELECT count(*) FROM tickets") == written
    assert await db.pool.fetchval("SELECT count(*) FROM ticket_events") == written


async def test_csv_has_bom_and_the_city_headers_and_xlsx_the_same_headers(db, tmp_path):
    await import_tickets(db.pool, write_csv(tmp_path / "in.csv", [row("A1", 来电人电话="+86 138 0000 0009")]))
    await export_tickets(db.pool, month_bounds("2024-05"), tmp_path / "out.csv", "csv", mask_phones=False)
    data = (tmp_path / "out.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(data.decode("utf-8-sig").splitlines()))
    assert lines[0] == list(tr.HEADERS)
    exported = dict(zip(lines[0], lines[1]))
    assert exported["来电人电话"] == "13800000009" and exported["来电时间"] == "2024-05-01 09:30:00"
    await export_tickets(db.pool, month_bounds("2024-05"), tmp_path / "out.xlsx", "xlsx", mask_phones=False)
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx", read_only=True).worksheets[0]
    header, first = list(sheet.iter_rows(values_only=True))[:2]
    assert list(header) == list(tr.HEADERS)
    assert first[tr.HEADERS.index("来电时间")] == datetime(2024, 5, 1, 9, 30)   # a real date cell


async def test_an_empty_month_writes_just_the_headers(db, tmp_path):
    assert await export_tickets(db.pool, month_bounds("2030-01"), tmp_path / "empty.csv", "csv", mask_phones=False) == 0
    assert (tmp_path / "empty.csv").read_text(encoding="utf-8-sig").splitlines() == [",".join(tr.HEADERS)]


async def test_a_failed_export_leaves_no_partial_file(db, tmp_path, monkeypatch):
    await import_tickets(db.pool, write_csv(tmp_path / "in.csv", [row("A1"), row("A2")]))
    calls = 0

    def explode(record):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("disk full")
        return tr.to_cells(record)
    monkeypatch.setattr(tr, "to_cells", explode)
    with pytest.raises(RuntimeError):
        await export_tickets(db.pool, month_bounds("2024-05"), tmp_path / "out.csv", "csv", mask_phones=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


async def test_reads_are_batched_through_a_cursor(db, tmp_path):
    rows = [row(f"A{i:02}", 来电时间=f"2024-05-{i + 1:02} 10:00", 派单时间="") for i in range(25)]
    await import_tickets(db.pool, write_csv(tmp_path / "in.csv", rows))
    start, end = month_bounds("2024-05")
    async with db.pool.acquire() as conn:
        got = [r["ticket_no"] async for r in tickets_called_between(conn, start, end, batch=4)]
    assert got == [f"A{i:02}" for i in range(25)]


async def test_cli_export_exit_codes_and_audit(db, db_dsn, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    await import_tickets(db.pool, write_csv(tmp_path / "in.csv", [row("A1"), row("A2")]))
    out = tmp_path / "may.xlsx"
    assert await asyncio.to_thread(cli.main, ["export", "tickets", "--month", "2024-05", "--unmasked",
                                              "--out", str(out)]) == 0
    assert "exported 2" in capsys.readouterr().out
    assert [r.ticket_no for r in records_of(out)] == ["A1", "A2"]
    audit = await db.pool.fetchrow("SELECT actor, action, object_id, detail FROM audit_log")
    assert (audit["action"], audit["object_id"], audit["detail"]["rows"]) == ("export_tickets", "2024-05", 2)
    assert (audit["detail"]["basis"], audit["detail"]["unmasked"]) == ("自然月", True)
    assert audit["actor"].startswith("cli")
    for bad in (["--month", "2024-13"], ["--month", "2024-05", "--out", str(tmp_path / "x.pdf")],
                ["--month", "2024-05", "--format", "pdf"], ["--period", "2024-13"],
                ["--period", "2024-05", "--month", "2024-05"]):
        assert await asyncio.to_thread(cli.main, ["export", "tickets", *bad]) == 2
    assert not (tmp_path / "x.pdf").exists()


async def test_period_is_the_assessment_month_and_phones_are_masked_by_default(db, db_dsn, monkeypatch, tmp_path,
                                                                               capsys):
    """--period 2024-05 is 2024-04-19 → 2024-05-19; --month 2024-05 the calendar month; phones masked."""
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    rows = [row("APR20", 来电时间="2024-04-20 10:00", 派单时间=""), row("MAY10", 来电时间="2024-05-10 10:00", 派单时间=""),
            row("MAY25", 来电时间="2024-05-25 10:00", 派单时间="")]
    await import_tickets(db.pool, write_csv(tmp_path / "in.csv", rows))

    def exported(path):
        with open(path, encoding="utf-8-sig", newline="") as f:
            return [(r["工单编号"], r["来电人电话"]) for r in csv.DictReader(f)]
    out = tmp_path / "p.csv"
    assert await asyncio.to_thread(cli.main, ["export", "tickets", "--period", "2024-05", "--out", str(out)]) == 0
    assert "考核月 2024-05 (来电时间 2024-04-19 00:00 → 2024-05-19 00:00" in capsys.readouterr().out
    assert exported(out) == [("APR20", "138****0001"), ("MAY10", "138****0001")]
    assert await asyncio.to_thread(cli.main, ["export", "tickets", "--month", "2024-05", "--out", str(out)]) == 0
    assert exported(out) == [("MAY10", "138****0001"), ("MAY25", "138****0001")]
    audit = await db.pool.fetch("SELECT detail FROM audit_log ORDER BY id")
    assert [(a["detail"]["basis"], a["detail"]["unmasked"]) for a in audit] == [("考核月", False), ("自然月", False)]
    help_text = subprocess.run([sys.executable, "-m", "callcenter", "export", "tickets", "--help"],
                               capture_output=True, text=True, check=True).stdout
    assert "assessment month" in help_text and "--unmasked" in help_text
