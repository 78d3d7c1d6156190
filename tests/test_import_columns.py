"""The fast import paths give exactly what the row-by-row ones give: column-wise parsing, calamine, dates."""
from __future__ import annotations

import dataclasses
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings, strategies as st

from callcenter.ledger import ticket_record as tr
from callcenter.ledger.deadlines import DEFAULT_POLICY
from callcenter.ledger.ticket_columns import ColumnParser
from callcenter.scoring.rules import DEFAULT_RULE_SET, RuleSet
from callcenter.transfer import reader, sample, xlsx_fast
from callcenter.transfer.importer import validate_file

CATEGORIES = frozenset({"物业管理", "水电气热", "城乡建设", "公共服务", "环境保护", "市场管理", "住房", "交通管理",
                        "供暖"})
GOOD = {
    "工单编号": "2405010001", "工单类型": "诉求", "诉求类别": "投诉", "一级分类": "物业管理", "二级分类": "电梯",
    "三级分类": "电梯故障", "标题": "电梯故障", "主要内容": "来电人反映电梯停运。", "紧急程度": "一般",
    "来电人": "王女士", "来电人电话": "138-0000-0001", "被反映区": "海淀区", "被反映街乡镇": "西三旗街道",
    "所在社区": "育新花园社区", "问题点位": "育新花园3号楼", "主办单位": "海淀区西三旗街道办事处",
    "承办科室": "社区建设办公室", "来电时间": "2024-05-01 09:30:00", "派单时间": "2024/5/1 11:00",
    "办理时限": "168", "办结时间": "", "工单状态": "办理中", "办理结果": "", "是否有效回访": "",
    "是否联系": "", "是否解决": "", "是否满意": "", "回访时间": "",
}
#: Cells that are valid, invalid, or tricky somewhere: each column draws from all of them.
ODD_CELLS = [
    None, "", "  ", "\x00", "是", "否", "满意", "比较满意", "还行", "已解决", "基本解决", "已联系", "紧急", "特急",
    "很急", "咨询", "表扬", "外星事务", "物业管理", "办理中", "已办结", "已回访", "坏状态", "0", "1", "-3", "7天",
    "168", "168.0", "9999999", "12345", "13800000001", "+86 138 0000 0002", "010-62345678", "62345678",
    "1380000000", "2024-05-01 09:30:00", "2024-05-01 09:29:59", "2024-02-30 10:00:00", "1899-12-31 00:00:00",
    "2100-01-01 00:00:00", "2024-05-01 9:30:00", " 2024-05-01 09:30:00", "2024-05-01T09:30:00+08:00",
    "20240501093000", "昨天", "A1", "A1", "a b", "x" * 40, True, False, 1, 1.0, 0, 168, 168.5, 13800000003,
    13800000003.0, datetime(2024, 5, 1, 9, 30), datetime(2024, 5, 2, 10, 0), datetime(2024, 4, 30, 8, 0),
    datetime(1899, 12, 31), datetime(2024, 5, 1, 9, 29, 59, 999_600), date(2024, 5, 1), time(9, 30),
    timedelta(hours=3),
]
#: A later rule set that accepts one more label: which rule set reads a row depends on its 来电时间.
LATE_RULES = dataclasses.replace(DEFAULT_RULE_SET, name="2024-05-02 规则", effective_from=date(2024, 5, 2),
                                 answer_labels=DEFAULT_RULE_SET.answer_labels + (("satisfied", "还行", "基本满意"),))


def rule_set_on(day: date) -> RuleSet:
    return LATE_RULES if day >= LATE_RULES.effective_from else DEFAULT_RULE_SET


def row_by_row(rows, headers, lines):
    return [tr.parse_row(cells, headers, line, CATEGORIES, rule_set_on) for cells, line in zip(rows, lines)]


@st.composite
def tables(draw):
    """A header layout (columns dropped, shuffled, unknown ones added) and rows mixing good and odd cells."""
    rng = random.Random(draw(st.integers(0, 2 ** 32)))
    headers = [h for h in GOOD if h in ("工单编号", "一级分类", "来电时间") or rng.random() < 0.85]
    headers += ["备注"] * rng.randint(0, 1)
    rng.shuffle(headers)
    rows = []
    for _ in range(draw(st.integers(1, 40))):
        cells = [GOOD.get(h, "x") if rng.random() < 0.93 else rng.choice(ODD_CELLS) for h in headers]
        rows.append(cells[:rng.randint(1, len(cells))] if rng.random() < 0.1 else cells)   # short rows too
    return headers, rows


@settings(max_examples=200, deadline=None, database=None)
@given(tables(), st.integers(1, 17))
def test_column_wise_parsing_matches_parse_row_exactly(table, block):
    """Same records, same errors in the same order, whatever the blocks (the caches outlive a block)."""
    headers, rows = table
    header_map = tr.resolve_headers(headers)
    lines = list(range(2, len(rows) + 2))
    parser = ColumnParser(header_map, CATEGORIES, rule_set_on)
    columnar = []
    for start in range(0, len(rows), block):
        columnar += parser.parse(lines[start:start + block], rows[start:start + block])
    assert columnar == row_by_row(rows, header_map, lines)


def test_a_cell_that_reads_differently_by_type_is_not_confused_by_the_cache():
    """True == 1 == 1.0 in Python, but 是/1 to a clerk: one column holding all three stays apart."""
    headers = tr.resolve_headers(["工单编号", "一级分类", "来电时间", "是否有效回访", "标题"])
    rows = [["A1", "物业管理", "2024-05-01 09:30:00", True, True], ["A2", "物业管理", "2024-05-01 09:30:00", 1, 1],
            ["A3", "物业管理", "2024-05-01 09:30:00", 1.0, 1.0], ["A4", "物业管理", "2024-05-01 09:30:00", 2, 2.0]]
    lines = [2, 3, 4, 5]
    parsed = ColumnParser(headers, CATEGORIES).parse(lines, rows)
    assert parsed == row_by_row(rows, headers, lines)
    assert [r.title for r in parsed[:3]] == ["是", "1", "1"]
    assert [(e.line, e.column, e.value) for e in parsed[3]] == [(5, "是否有效回访", "2")]


def test_record_of_is_the_dataclass_record():
    values = {"ticket_no": "A1", "category_l1": "物业管理", "called_at": datetime(2024, 5, 1, 9, 30, tzinfo=tr.OFFICE_TZ),
              "title": "t", "time_limit_hours": 24}
    fast = tr.record_of(values)
    assert fast == tr.TicketRecord(**values) and hash(fast) == hash(tr.TicketRecord(**values))
    with pytest.raises(AttributeError):
        fast.title = "changed"          # still frozen
    with pytest.raises(TypeError):
        tr.record_of({"ticket_no": "A1"})


@pytest.mark.parametrize("text", ["2024-05-01 09:30:00", "2024-02-30 10:00:00", "2024-13-01 00:00:00",
                                  "1999-12-31 23:59:59", "2000-01-01 00:00:00", "2099-12-31 23:59:59",
                                  "2100-01-01 00:00:00", "2024-05-01 24:00:00", "2024-05-01 09:60:00",
                                  "２０２４-05-01 09:30:00"])
def test_the_quick_path_for_written_times_says_what_the_general_one_says(text):
    """A leading space sends the same text down the general pattern (cells are stripped first)."""
    def outcome(value):
        try:
            return tr.parse_time(value)
        except tr.FieldError as exc:
            return str(exc)
    quick, general = outcome(text), outcome(" " + text)
    assert quick == general
    if isinstance(quick, datetime):
        assert quick.tzinfo is tr.OFFICE_TZ and quick.utcoffset() == general.utcoffset()


# --- xlsx: calamine gives openpyxl's cells -----------------------------------------------

def openpyxl_rows(path: Path) -> list[list]:
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


def same_cell(ours, theirs) -> bool:
    """calamine's cell stands for openpyxl's: equal and of the same type ('' for an empty cell)."""
    if theirs is None:
        return ours == ""
    return type(ours) is type(theirs) and ours == theirs


def assert_same_rows(path: Path):
    ours, theirs = xlsx_fast.read_rows(path), openpyxl_rows(path)
    assert ours is not None
    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs):
        other = other + [None] * (len(mine) - len(other))
        assert all(same_cell(a, b) for a, b in zip(mine, other)), (mine, other)


def tricky_book(path: Path, *, with_error: bool = False) -> Path:
    """Ticket rows with native cells: numbers for phones and 时限, Excel dates (midnight too), blanks, merges."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(tr.HEADERS))
    for i, (phone, called, limit) in enumerate([
            (13800000003, datetime(2024, 5, 2, 8, 15), 168), (13800000004.0, datetime(2024, 5, 2), 168.0),
            ("010-62345678", date(2024, 5, 3), 24), (12345, datetime(2024, 5, 1, 9, 29, 59, 999_600), 1.5),
            ("", datetime(1899, 12, 31), "7天"), (True, "2024-05-02 08:15:00", None)]):
        cells = dict(GOOD, 工单编号=f"X{i}", 来电人电话=phone, 来电时间=called, 派单时间=None, 办理时限=limit)
        sheet.append([cells.get(h) for h in tr.HEADERS])
        sheet.append([None] * len(tr.HEADERS))                       # blank rows: skipped, still counted
    sheet.cell(row=14, column=1, value=44000).number_format = "yyyy-mm-dd"      # a date-formatted number
    sheet.cell(row=14, column=2, value=0.25).number_format = "hh:mm"
    sheet.cell(row=14, column=3, value=44000.5).number_format = "yyyy-mm-dd hh:mm"
    sheet.merge_cells("D14:E14")
    if with_error:
        sheet.cell(row=3, column=7, value="#N/A")                    # openpyxl stores it as an error cell
    book.save(path)
    return path


def test_calamine_gives_openpyxl_cells_on_the_shipped_sample_as_xlsx(tmp_path):
    path = tmp_path / "sample.xlsx"
    sample.write_sample(path, 300, seed=sample.SHIPPED_SEED, start=sample.SHIPPED_START, months=1, fmt="xlsx")
    assert_same_rows(path)


def test_calamine_gives_openpyxl_cells_on_tricky_cells(tmp_path):
    assert_same_rows(tricky_book(tmp_path / "tricky.xlsx"))


def validated(path: Path):
    v = validate_file(path, CATEGORIES, [DEFAULT_POLICY])
    return v.records, v.lines, [(r.line, r.cells, r.errors) for r in v.rejected], v.header_map, v.rows


def test_an_xlsx_validates_the_same_through_calamine_and_openpyxl(tmp_path, monkeypatch):
    path = tricky_book(tmp_path / "tricky.xlsx")
    fast = validated(path)
    monkeypatch.setattr(reader, "read_rows", lambda p: None)
    slow = validated(path)
    assert fast[0] == slow[0] and fast[1] == slow[1] and fast[3:] == slow[3:]
    # Rejected rows: the same errors; their cells the same as the clerk sees them (rejects file).
    assert [(line, errors) for line, _, errors in fast[2]] == [(line, errors) for line, _, errors in slow[2]]
    assert [[tr.cell_text(c) for c in cells] for _, cells, _ in fast[2]] == \
        [[tr.cell_text(c) for c in cells] for _, cells, _ in slow[2]]
    assert fast[2], "the tricky book has bad rows"


def test_a_sheet_with_error_cells_is_read_by_openpyxl(tmp_path):
    """calamine reads #N/A as an empty cell; openpyxl as the text the importer then reports."""
    path = tricky_book(tmp_path / "errors.xlsx", with_error=True)
    assert xlsx_fast.has_error_cells(path)
    assert xlsx_fast.read_rows(path) is None
    [rejected] = [r for r in validate_file(path, CATEGORIES, [DEFAULT_POLICY]).rejected if r.line == 3]
    assert rejected.cells[6] == "#N/A"
    assert not xlsx_fast.has_error_cells(tricky_book(tmp_path / "clean.xlsx"))


def test_the_error_scan_finds_a_mark_split_across_chunks(tmp_path, monkeypatch):
    path = tricky_book(tmp_path / "errors.xlsx", with_error=True)
    for size in (1, 2, 3, 5, 7):
        monkeypatch.setattr(xlsx_fast, "_SCAN_CHUNK", size)
        assert xlsx_fast.has_error_cells(path)


def test_a_file_calamine_cannot_open_gets_openpyxls_message(tmp_path):
    (tmp_path / "t.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    assert xlsx_fast.read_rows(tmp_path / "t.xlsx") is None
    with pytest.raises(reader.FileRejected, match="不是有效的 xlsx 文件 \\(File is not a zip file\\)"):
        validate_file(tmp_path / "t.xlsx", CATEGORIES, [DEFAULT_POLICY])


# --- staging block by block: still all or nothing ------------------------------------------

def ticket_csv(path: Path, rows: list[dict]) -> Path:
    import csv
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(list(tr.STANDARD_HEADERS))
        for r in rows:
            writer.writerow([r.get(h, "") for h in tr.STANDARD_HEADERS])
    return path


async def test_a_bad_row_in_a_later_block_leaves_nothing_written(db, tmp_path, monkeypatch):
    """Blocks 1–2 are staged before block 3 turns out bad: the rollback takes them back."""
    from callcenter.transfer import importer
    monkeypatch.setattr(importer, "CHUNK_ROWS", 2)
    rows = [dict(GOOD, 工单编号=f"B{i}") for i in range(7)]
    rows[5]["来电人电话"] = "1"
    with pytest.raises(importer.ImportRejected) as err:
        await importer.import_tickets(db.pool, ticket_csv(tmp_path / "t.csv", rows))
    assert [(e.line, e.column) for e in err.value.errors] == [(7, "来电人电话")]
    for table in ("tickets", "ticket_events", "units"):
        assert await db.pool.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_small_blocks_import_and_reimport_like_one_block(db, tmp_path, monkeypatch):
    from callcenter.transfer import importer
    monkeypatch.setattr(importer, "CHUNK_ROWS", 3)
    rows = [dict(GOOD, 工单编号=f"C{i}", 承办科室=f"科室{i % 2}") for i in range(8)]
    rows[4]["紧急程度"] = "很急"
    path = ticket_csv(tmp_path / "t.csv", rows)
    report = await importer.import_tickets(db.pool, path, skip_invalid=True)
    assert (report.rows, report.inserted, report.rejected, report.units_created) == (8, 7, 1, 3)
    again = await importer.import_tickets(db.pool, path, skip_invalid=True)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 7)
    assert await db.pool.fetchval("SELECT count(*) FROM ticket_events WHERE action = 'import'") == 7
