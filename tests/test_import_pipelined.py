"""An import merged block by block while the file is read leaves the ledger as one merge at the end did.

callcenter.db.ticket_import.TicketUpsert merges every MERGE_ROWS staged rows; these tests
force two-row blocks and a merge after each, run the same files with one merge at the end
(MERGE_ROWS larger than any file) and compare every column the imports leave behind:
tickets, their units (by name), events, scores, the counts and the rejects file.  Each
variant gets its own ticket numbers and unit names (a prefix), taken off before comparing.
"""
from __future__ import annotations

import threading
from pathlib import Path

import asyncpg
import pytest

from callcenter.db import ticket_import
from callcenter.ledger.ticket_columns import ColumnParser
from callcenter.transfer import importer
from callcenter.transfer.importer import ImportRejected, import_tickets

from .test_import import row, write_csv

ONE_MERGE = 10 ** 9


@pytest.fixture
def merges(monkeypatch) -> list[int]:
    """The staged rows of each merge, as they happen (the merge itself unchanged)."""
    seen: list[int] = []
    merge = ticket_import.TicketUpsert._merge_staged

    async def counted(self):
        seen.append(self._staged)
        await merge(self)
    monkeypatch.setattr(ticket_import.TicketUpsert, "_merge_staged", counted)
    return seen


def blocks(monkeypatch, merge_rows: int) -> None:
    """Two-row blocks from the reader; a merge once ``merge_rows`` rows are staged."""
    monkeypatch.setattr(importer, "CHUNK_ROWS", 2)
    monkeypatch.setattr(ticket_import, "MERGE_ROWS", merge_rows)


def tagged(prefix: str, no: int, **changes: str) -> dict[str, str]:
    """A row whose ticket number and units carry the variant's prefix."""
    units = {"承办科室": f"{prefix}科室{no % 3}", "所在社区": f"{prefix}社区{no % 4}"}
    units.update(changes)
    return row(f"{prefix}{no}", **units)


def files(tmp_path: Path, prefix: str) -> dict[str, Path]:
    """A first import, a re-import (changed, unchanged, new), a narrower file, one with bad rows."""
    first = [tagged(prefix, 0), tagged(prefix, 1, 工单状态="待签收"),
             tagged(prefix, 2, 是否有效回访="否", 工单状态="已办结", 办结时间="2024-05-02 10:00"),
             tagged(prefix, 3, 办理时限=""), tagged(prefix, 4, 所在社区=""),
             tagged(prefix, 5, 工单状态="已办结", 办结时间="2024-05-02 10:00", 是否联系="是", 是否解决="已解决",
                    是否满意="满意"),
             tagged(prefix, 6, 工单类型="咨询")]
    again = [tagged(prefix, 0),                                                       # unchanged
             tagged(prefix, 1, 工单状态="已办结", 办结时间="2024-05-03 10:00"),          # forward
             tagged(prefix, 2, 是否有效回访="", 工单状态="已办结", 办结时间="2024-05-02 10:00"),
             tagged(prefix, 3, 办理时限="72"),
             tagged(prefix, 4, 来电时间="2024-05-01 09:30:01"),
             tagged(prefix, 5, 工单状态="待签收"),                                        # behind the ledger
             tagged(prefix, 7), tagged(prefix, 8, 承办科室=f"{prefix}新科室"), tagged(prefix, 9)]    # new
    narrow_headers = ["工单编号", "一级分类", "来电时间", "标题"]
    narrow = [{"工单编号": f"{prefix}{i}", "一级分类": "物业管理", "来电时间": "2024-05-01 09:30",
               "标题": "电梯故障" if i % 2 else "新标题"} for i in range(10)]
    bad = [tagged(prefix, 10), tagged(prefix, 11, 来电时间="昨天"), tagged(prefix, 12), tagged(prefix, 1),
           tagged(prefix, 13, 一级分类="不存在"), tagged(prefix, 14), tagged(prefix, 15)]
    made = {"first": (first, None), "again": (again, None), "narrow": (narrow, narrow_headers), "bad": (bad, None)}
    return {name: write_csv(tmp_path / f"{prefix}-{name}.csv", rows, headers=headers)
            for name, (rows, headers) in made.items()}


async def ledger_of(db, prefix: str) -> dict[str, list]:
    """Every column of the prefix's tickets, events and scores (units by name, no ids or now()), unprefixed."""
    def plain(value):
        return value.replace(prefix, "") if isinstance(value, str) else value

    def rows(records, skip=frozenset()):
        return [{k: plain(v) for k, v in r.items() if k not in skip} for r in records]
    tickets = await db.pool.fetch(
        "SELECT t.*, d.name AS department_unit, c.name AS community_unit FROM tickets t "
        "LEFT JOIN units d ON d.id = t.department_id LEFT JOIN units c ON c.id = t.community_id "
        "WHERE t.ticket_no LIKE $1 || '%' ORDER BY t.ticket_no", prefix)
    events = await db.pool.fetch(
        "SELECT t.ticket_no, e.actor, e.action, e.from_state, e.to_state, e.data - 'source' AS data, "
        "e.data->>'source' AS source FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
        "WHERE t.ticket_no LIKE $1 || '%' ORDER BY t.ticket_no, e.id", prefix)
    scores = await db.pool.fetch(
        "SELECT t.ticket_no, s.*, d.name AS department_unit, c.name AS community_unit FROM ticket_scores s "
        "JOIN tickets t ON t.id = s.ticket_id LEFT JOIN units d ON d.id = s.department_id "
        "LEFT JOIN units c ON c.id = s.community_id WHERE t.ticket_no LIKE $1 || '%' ORDER BY t.ticket_no", prefix)
    units = await db.pool.fetch("SELECT kind, name FROM units WHERE name LIKE $1 || '%' ORDER BY kind, name", prefix)
    ids = {"id", "ticket_id", "department_id", "community_id", "created_at", "updated_at", "awaiting_since"}
    return {"tickets": rows(tickets, ids), "events": rows(events), "scores": rows(scores, ids),
            "units": rows(units)}


def report_of(report) -> tuple:
    rejects = report.rejects_file.read_text(encoding="utf-8-sig") if report.rejects_file else None
    return (report.rows, report.inserted, report.updated, report.unchanged, report.rejected, report.units_created,
            [(e.line, e.column, e.reason) for e in report.errors], None if rejects is None else rejects)


async def run(db, tmp_path: Path, prefix: str) -> list:
    made = files(tmp_path, prefix)
    reports = [await import_tickets(db.pool, made[name]) for name in ("first", "again", "again", "narrow")]
    reports.append(await import_tickets(db.pool, made["bad"], skip_invalid=True))
    return [report_of(r) for r in reports]


async def test_merging_per_block_leaves_the_ledger_as_one_merge(db, tmp_path, monkeypatch, merges):
    blocks(monkeypatch, 1)
    pipelined = await run(db, tmp_path, "Blk")
    assert len(merges) > 10 and max(merges) == 2          # a merge after each two-row block
    merges.clear()
    blocks(monkeypatch, ONE_MERGE)
    single = await run(db, tmp_path, "One")
    assert len(merges) == 5 and max(merges) > 2           # one per import

    assert [r[:6] for r in pipelined] == [r[:6] for r in single]
    assert [(7, 7, 0, 0, 0, 7), (9, 3, 5, 1, 0, 1), (9, 0, 0, 9, 0, 0), (10, 0, 5, 5, 0, 0),
            (7, 4, 1, 0, 2, 0)] == [r[:6] for r in single]
    assert [r[6] for r in pipelined] == [r[6] for r in single]
    assert pipelined[4][7].replace("Blk", "") == single[4][7].replace("One", "")
    assert await ledger_of(db, "Blk") == await ledger_of(db, "One")


async def test_units_created_add_up_over_the_merges(db, tmp_path, monkeypatch, merges):
    """A unit named in several blocks is created (and counted) once."""
    blocks(monkeypatch, 1)
    path = write_csv(tmp_path / "u.csv", [tagged("U", i) for i in range(12)])
    report = await import_tickets(db.pool, path)
    assert len(merges) >= 6
    assert report.units_created == 3 + 4
    assert await db.pool.fetchval("SELECT count(*) FROM units WHERE name LIKE 'U%'") == 7


async def test_a_bad_row_after_merged_blocks_leaves_nothing(db, tmp_path, monkeypatch, merges):
    blocks(monkeypatch, 1)
    merged = threading.Event()
    merge = ticket_import.TicketUpsert._merge_staged

    async def signalled(self):
        await merge(self)
        merged.set()
    monkeypatch.setattr(ticket_import.TicketUpsert, "_merge_staged", signalled)
    parse = ColumnParser.parse

    def late(self, lines, cells):
        """The block with the bad row is read only once an earlier block is merged."""
        if max(lines) >= 9:
            assert merged.wait(30)
        return parse(self, lines, cells)
    monkeypatch.setattr(ColumnParser, "parse", late)
    rows = [tagged("L", i) for i in range(7)] + [tagged("L", 7, 来电时间="昨天"), tagged("L", 8)]
    with pytest.raises(ImportRejected) as refused:
        await import_tickets(db.pool, write_csv(tmp_path / "late.csv", rows))
    assert merges, "no block was merged before the bad row"
    assert str(refused.value) == "1 / 9 行有错误, 未导入任何数据"
    assert [(e.line, e.column) for e in refused.value.errors] == [(9, "来电时间")]
    for table in ("tickets", "ticket_events", "ticket_scores"):
        assert await db.pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    assert await db.pool.fetchval("SELECT count(*) FROM units WHERE name LIKE 'L%'") == 0


async def test_a_database_error_in_a_merge_of_an_invalid_file_reports_its_rows(db, tmp_path, monkeypatch):
    """A merge that fails before a later bad row is read: the file is refused for its rows, as before."""
    blocks(monkeypatch, 1)

    async def failing(self):
        raise asyncpg.exceptions.CheckViolationError("merge failed")
    monkeypatch.setattr(ticket_import.TicketUpsert, "_merge_staged", failing)
    rows = [tagged("E", i) for i in range(5)] + [tagged("E", 5, 来电时间="昨天")]
    with pytest.raises(ImportRejected) as refused:
        await import_tickets(db.pool, write_csv(tmp_path / "bad.csv", rows))
    assert [(e.line, e.column) for e in refused.value.errors] == [(7, "来电时间")]
    with pytest.raises(asyncpg.exceptions.CheckViolationError):
        await import_tickets(db.pool, write_csv(tmp_path / "good.csv", rows[:5]))
    assert await db.pool.fetchval("SELECT count(*) FROM tickets") == 0


async def test_stored_tickets_are_looked_up_by_index_even_with_a_plan_made_over_an_empty_ledger(db):
    """A prepared statement's generic plan, made while the ledger is empty, must not scan the ledger per block."""
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM tickets") == 0
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute("PREPARE stored(text[]) AS " + ticket_import._STORED.replace("$1::text[]", "$1"))
        plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN EXECUTE stored('{A1,A2}')"))
        await conn.execute("DEALLOCATE stored; RESET plan_cache_mode")
    assert "Index Scan using tickets_ticket_no_key" in plan and "Seq Scan on tickets" not in plan, plan
