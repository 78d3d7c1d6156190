"""A CSV read in two halves (callcenter.transfer.csv_split) gives what one pass gives: rows, lines, errors, order.

The cut is forced at every line end of awkward files (quoted newlines, stray quotes, CRLF,
blank rows, duplicates across the halves, a malformed row), and each result is held to
the one-pass reading of the same file.
"""
from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from callcenter.ledger.deadlines import DeadlinePolicy
from callcenter.transfer import csv_split, importer, reader
from callcenter.transfer.importer import ImportRejected, import_tickets
from callcenter.transfer.reader import FileRejected

from .test_import import row

CATEGORIES = frozenset({"物业管理", "市容环卫"})
POLICIES = [DeadlinePolicy(effective_from=date(2024, 1, 1))]


def csv_text(rows: list[dict[str, str]], line_end: str = "\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(list(rows[0]))
    for r in rows:
        writer.writerow(list(r.values()))
    return out.getvalue()


def awkward_rows() -> list[dict[str, str]]:
    """Good rows and bad ones, quoted newlines and quotes, a duplicate of an earlier number, a too-old ticket."""
    rows = []
    for i in range(24):
        changes: dict[str, str] = {}
        if i % 5 == 1:
            changes["主要内容"] = f"第一行\n第二行 “引号” \"quoted\"\n第三行 {i}"
        if i % 8 == 5:
            changes["办理结果"] = "甲\r乙"                    # a lone CR: a line end to csv's line count
        if i % 7 == 3:
            changes["标题"] = 'ab"c'                       # a stray quote in an unquoted cell
        if i % 6 == 2:
            changes["紧急程度"] = "很急"                      # a bad cell
        if i % 9 == 4:
            changes["一级分类"] = "不存在的分类"
        rows.append(row(f"S{i:03d}", **changes))
    rows.append(row("S001"))                                  # duplicates a row of the head
    rows.append(row("S100", 来电时间="2023-05-01 09:30:00", 派单时间=""))   # older than every policy
    rows.append(row("S100"))                                  # duplicates a row that policy rejected
    return rows


def validate(path: Path, cut: int | None, monkeypatch) -> tuple[importer.Validated, bool | None]:
    """validate_file with the cut forced at ``cut`` (None: one pass); also whether the head ended at the cut."""
    seen: list[csv_split.CsvSplit] = []
    original = csv_split.CsvSplit.start

    def start(self, *args):
        seen.append(self)
        original(self, *args)

    with monkeypatch.context() as patch:
        patch.setattr(reader, "cut_point", lambda text: cut)
        patch.setattr(csv_split.CsvSplit, "start", start)
        validated = importer.validate_file(path, CATEGORIES, POLICIES)
    assert len(seen) == (cut is not None)
    return validated, seen[0].clean if seen else None


def same(a: importer.Validated, b: importer.Validated) -> None:
    assert (a.headers, a.encoding, a.header_map) == (b.headers, b.encoding, b.header_map)
    assert a.records == b.records and a.lines == b.lines
    assert [(r.line, r.cells, r.errors) for r in a.rejected] == [(r.line, r.cells, r.errors) for r in b.rejected]


def line_ends(text: str) -> list[int]:
    return [i + 1 for i, c in enumerate(text) if c == "\n" and i + 1 < len(text)]


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_cut_at_any_line_end_reads_as_one_pass(tmp_path, monkeypatch, line_end):
    text = csv_text(awkward_rows(), line_end)
    blank = text.index("S010,")                   # blank rows (skipped, but they count as lines)
    text = text[:blank] + f",,{line_end} {line_end}{line_end}" + text[blank:]
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8-sig", newline="")
    whole, _ = validate(path, None, monkeypatch)
    assert whole.rejected and any(r.errors[0].reason.startswith("工单编号与第") for r in whole.rejected)
    cuts = line_ends(text)
    outcomes = set()
    for cut in cuts[1::2]:                        # every other line end: inside quoted cells and between rows
        halves, clean = validate(path, cut, monkeypatch)
        outcomes.add(clean)
        same(halves, whole)
    assert outcomes == {True, False}              # both the clean cut and the fall-back were taken


def test_the_guessed_cut_skips_a_quoted_newline_where_it_would_fall(monkeypatch):
    monkeypatch.setattr(csv_split, "_cores", lambda: 2)
    quoted = '"' + "\n".join(["第几行"] * 40) + '"'
    text = "工单编号,主要内容\n" + "A1,x\n" * 10 + f"A2,{quoted}\n" + "A3,y\n" * 10
    opening = text.index('"')
    closing = text.index('"', opening + 1)
    assert opening < len(text) * csv_split.HEAD_SHARE < closing     # the cut's place falls inside the quoted cell
    cut = csv_split.cut_point(text, min_chars=0)
    assert cut == closing + 2 and text[cut:].startswith("A3,y")


def test_a_malformed_row_in_the_tail_is_reported_on_its_line(tmp_path, monkeypatch):
    rows = [row(f"M{i}") for i in range(10)]
    rows[7]["主要内容"] = "长" * (csv.field_size_limit() + 1)
    text = csv_text(rows)
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FileRejected) as one_pass:
        validate(path, None, monkeypatch)
    with pytest.raises(FileRejected) as halves:
        validate(path, line_ends(text)[3], monkeypatch)
    assert str(halves.value) == str(one_pass.value) and "第 9 行" in str(one_pass.value)


async def test_an_import_read_in_halves_reports_and_writes_as_one_pass(db, tmp_path, monkeypatch):
    rows = [row(f"H{i:03d}", 主要内容=f"第 {i} 行\n续行") for i in range(40)]
    text = csv_text(rows)
    (one := tmp_path / "one.csv").write_text(text, encoding="utf-8")
    bad_text = text.replace("H020,", "H001,", 1)
    (bad := tmp_path / "bad.csv").write_text(bad_text, encoding="utf-8")
    monkeypatch.setattr(csv_split, "MIN_SPLIT_CHARS", 0)
    monkeypatch.setattr(csv_split, "_cores", lambda: 2)
    with pytest.raises(ImportRejected) as rejected:
        await import_tickets(db.pool, bad)
    assert [(e.line, e.column, e.reason) for e in rejected.value.errors] == [(42, "工单编号", "工单编号与第 4 行重复")]
    assert await db.pool.fetchval("SELECT count(*) FROM tickets") == 0
    report = await import_tickets(db.pool, one)
    assert (report.rows, report.inserted, report.rejected) == (40, 40, 0)
    stored = await db.pool.fetch("SELECT ticket_no, content FROM tickets ORDER BY ticket_no")
    assert [(r["ticket_no"], r["content"]) for r in stored] == [(f"H{i:03d}", f"第 {i} 行\n续行") for i in range(40)]
    report = await import_tickets(db.pool, bad, skip_invalid=True)
    assert (report.rows, report.rejected, report.unchanged) == (40, 1, 39)
    with report.rejects_file.open(encoding="utf-8-sig", newline="") as f:
        rejects = list(csv.reader(f))
    assert rejects[1][:2] == ["H001", "诉求"] and rejects[1][-3:] == ["42", "工单编号", "工单编号与第 4 行重复"]


def test_a_child_that_dies_leaves_the_tail_to_this_process(tmp_path, monkeypatch):
    text = csv_text(awkward_rows())
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    whole, _ = validate(path, None, monkeypatch)
    monkeypatch.setattr(csv_split.sys, "executable", "/bin/false")      # the child exits at once, unheard
    halves, clean = validate(path, line_ends(text)[-3], monkeypatch)
    assert clean
    same(halves, whole)
