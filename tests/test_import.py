"""Ticket import: validation of every column, all-or-nothing, rejects file, idempotence, encodings, CLI."""
from __future__ import annotations

import asyncio
import csv
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, strategies as st

from callcenter import cli
from callcenter.db import tickets as ticket_repo
from callcenter.ledger import city_status, flow
from callcenter.ledger import ticket_record as tr
from callcenter.ledger.deadlines import DEFAULT_POLICY, compute_deadlines
from callcenter.ledger.timezone import OFFICE_TZ
from callcenter.transfer import sample
from callcenter.transfer.importer import ImportRejected, import_tickets, rejects_path
from callcenter.transfer.reader import FileRejected, UnsupportedFile, decode_text

SHIPPED_SAMPLE = Path(__file__).resolve().parent.parent / "callcenter" / "data" / "sample_tickets.csv"


def row(no: str = "2405010001", **changes: str) -> dict[str, str]:
    """A valid row of the city's export; ``changes`` by Chinese header."""
    base = {
        "工单编号": no, "工单类型": "诉求", "诉求类别": "投诉", "一级分类": "物业管理", "二级分类": "电梯",
        "三级分类": "电梯故障", "标题": "电梯故障", "主要内容": "来电人反映电梯停运。", "紧急程度": "一般",
        "来电人": "王女士", "来电人电话": "138-0000-0001", "被反映区": "海淀区", "被反映街乡镇": "西三旗街道",
        "所在社区": "育新花园社区", "问题点位": "育新花园3号楼", "主办单位": "海淀区西三旗街道办事处",
        "承办科室": "社区建设办公室", "来电时间": "2024-05-01 09:30:00", "派单时间": "2024/5/1 11:00",
        "办理时限": "168", "办结时间": "", "工单状态": "办理中", "办理结果": "", "是否有效回访": "",
        "是否联系": "", "是否解决": "", "是否满意": "",
    }
    unknown = set(changes) - set(base)
    assert not unknown, unknown
    base.update(changes)
    return base


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8-sig",
              headers: list[str] | None = None) -> Path:
    headers = headers or list(rows[0] if rows else tr.HEADERS)
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        for r in rows:
            writer.writerow([r.get(h, "") for h in headers])
    return path


async def count(db, table: str = "tickets") -> int:
    assert table in {"tickets", "ticket_events", "units"}
    return await db.pool.fetchval(f"SELECT count(*) FROM {table}")


# --- pure parsing -------------------------------------------------------------------------

mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@given(mobiles, st.sampled_from(["{}", "+86{}", "+86 {}", "0086-{}", "86{}", "{a} {b} {c}", "{a}-{b}-{c}",
                                 " ({a}) {b}{c} "]))
def test_mobile_spellings_normalise_to_the_eleven_digits(number, pattern):
    text = pattern.format(number, a=number[:3], b=number[3:7], c=number[7:])
    assert tr.normalize_phone(text) == number


@pytest.mark.parametrize("text, expected", [
    ("010-62345678", "01062345678"),
    ("(010) 6234 5678", "01062345678"),
    ("+86 10 6234 5678", "01062345678"),
    ("0086-10-62345678", "01062345678"),
    ("0571-87654321", "057187654321"),
    ("022 2345 6789", "02223456789"),
    ("", ""),
    ("   ", ""),
])
def test_landlines_keep_their_area_code_and_empty_is_anonymous(text, expected):
    assert tr.normalize_phone(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("62345678", "区号"),
    ("1380000000", "0"),          # a landline whose leading 0 Excel dropped, or a short mobile
    ("12345678901", "无效"),
    ("138000000011", "无效"),
    ("+44 20 7946 0958", "中国大陆"),
    ("138O0000001", "非数字"),
])
def test_bad_phone_numbers_say_why(text, reason):
    with pytest.raises(tr.FieldError, match=reason):
        tr.normalize_phone(text)


BEIJING_0930 = datetime(2024, 5, 1, 9, 30, tzinfo=OFFICE_TZ)


@pytest.mark.parametrize("text", [
    "2024-05-01 09:30:00", "2024-05-01 09:30", "2024/5/1 9:30", "2024.05.01 09:30:00",
    "2024年5月1日 9时30分", "2024年05月01日 09:30:00", "20240501093000", "2024-05-01T09:30:00+08:00",
    "2024-05-01T01:30:00Z", datetime(2024, 5, 1, 9, 30), datetime(2024, 5, 1, 9, 29, 59, 999_600),
])
def test_date_spellings_and_native_xlsx_datetimes_are_beijing_time(text):
    assert tr.parse_time(text) == BEIJING_0930


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
def test_written_times_parse_back(moment):
    moment = moment.replace(microsecond=0)
    assert tr.parse_time(tr.cell_text(moment)) == moment.replace(tzinfo=OFFICE_TZ)


@pytest.mark.parametrize("text", ["2024-13-01", "2024-02-30 10:00", "昨天下午", "1899-12-31", "05/01/2024"])
def test_bad_dates_are_rejected(text):
    with pytest.raises(tr.FieldError):
        tr.parse_time(text)


def test_headers_name_every_missing_required_column():
    with pytest.raises(tr.HeaderError) as err:
        tr.resolve_headers(["工单编号", "标题", "主要内容"])
    assert "一级分类" in str(err.value) and "来电时间" in str(err.value)
    assert "工单编号" not in str(err.value)


def test_english_aliases_and_decorated_headers_are_accepted():
    headers = tr.resolve_headers(["\ufeffticket_no", " 一级分类 ", "*来电时间", "CALLED_AT_x"])
    assert headers.positions == {"ticket_no": 0, "category_l1": 1, "called_at": 2}
    assert headers.ignored == ("CALLED_AT_x",)


plain_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30).filter(
    lambda t: t == t.strip())
beijing_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=OFFICE_TZ))


@st.composite
def ticket_records(draw) -> tr.TicketRecord:
    called = draw(beijing_times)
    later = st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)).map(
        lambda d: called + timedelta(seconds=int(d.total_seconds())))
    texts = {c: draw(plain_text) for c in ("category_l2", "category_l3", "title", "content", "caller_name",
                                             "district", "street", "community_name", "address", "host_unit",
                                             "department_name", "handling_result")}
    return tr.TicketRecord(
        ticket_no=draw(st.from_regex(r"[A-Za-z0-9\-]{1,20}", fullmatch=True)),
        category_l1=draw(st.sampled_from(sorted(CATEGORY_NAMES))), called_at=called,
        ticket_type=draw(st.sampled_from(tr.TICKET_TYPES)), appeal_kind=draw(st.sampled_from(tr.APPEAL_KINDS)),
        urgency=draw(st.sampled_from(tr.URGENCIES)), caller_phone=draw(st.just("") | mobiles),
        dispatched_at=draw(later), closed_at=draw(later),
        time_limit_hours=draw(st.none() | st.integers(1, tr.MAX_TIME_LIMIT_HOURS)),
        city_effective_callback=draw(st.sampled_from([None, True, False])),
        city_status=draw(st.sampled_from(("", *KNOWN_CITY_STATUSES))),
        city_contacted=draw(st.sampled_from(("", *tr.CONTACTED))),
        city_solved=draw(st.sampled_from(("", *tr.SOLVED))),
        city_satisfied=draw(st.sampled_from(("", *tr.SATISFIED))),
        **texts)


KNOWN_CITY_STATUSES = city_status.KNOWN_LABELS
CATEGORY_NAMES = frozenset({"物业管理", "水电气热", "城乡建设", "其他"})
ALL_COLUMNS = tr.resolve_headers(tr.HEADERS)


@given(ticket_records(), st.booleans())
def test_any_record_written_out_parses_back_to_itself(record, as_text):
    """What the exporter writes (native xlsx cells, or CSV text) is exactly what the importer reads."""
    cells = tr.to_cells(record)
    if as_text:
        cells = [tr.cell_text(c) for c in cells]
    assert tr.parse_row(cells, ALL_COLUMNS, 2, CATEGORY_NAMES) == record


# --- import into the ledger --------------------------------------------------------------

async def test_a_valid_file_creates_tickets_units_events_and_deadlines(db, tmp_path):
    path = write_csv(tmp_path / "t.csv", [row("A1"), row("A2", 紧急程度="紧急", 一级分类="水电气热",
                                                          承办科室="民生保障办公室", 所在社区="永泰园社区",
                                                          来电人电话="")])
    report = await import_tickets(db.pool, path)
    assert (report.inserted, report.updated, report.unchanged, report.rejected) == (2, 0, 0, 0)
    assert report.units_created == 4
    t = await db.pool.fetchrow("SELECT * FROM tickets WHERE ticket_no = 'A1'")
    # The file says 办理中: the ticket enters there, its 签收 and 首次联系 times unknown (not invented).
    assert t["status"] == "handling" and t["caller_phone"] == "13800000001"
    assert (t["signed_at"], t["first_contact_at"]) == (None, None)
    assert (t["sign_time_unknown"], t["contact_time_unknown"], t["close_time_unknown"]) == (True, True, False)
    assert t["called_at"] == BEIJING_0930
    dispatched = datetime(2024, 5, 1, 11, tzinfo=OFFICE_TZ)
    due = compute_deadlines(DEFAULT_POLICY, dispatched, urgent=False, category_l1="物业管理", time_limit_hours=168)
    assert (t["sign_due_at"], t["contact_due_at"], t["close_due_at"]) == (
        due.sign_due_at, due.contact_due_at, due.close_due_at)
    assert await db.pool.fetchval("SELECT name FROM units WHERE id = $1", t["department_id"]) == "社区建设办公室"
    assert await db.pool.fetchval("SELECT kind FROM units WHERE id = $1", t["community_id"]) == "community"
    urgent = await db.pool.fetchrow("SELECT * FROM tickets WHERE ticket_no = 'A2'")
    assert urgent["caller_phone"] == ""
    assert urgent["contact_due_at"] == dispatched + timedelta(hours=2)
    events = await db.pool.fetch("SELECT ticket_id, actor, action, from_state, to_state, data FROM ticket_events")
    assert sorted((e["actor"], e["action"], e["from_state"], e["to_state"]) for e in events) == [
        ("import", "import", None, "handling")] * 2
    assert {e["data"]["city_status"] for e in events} == {"办理中"}
    assert {e["ticket_id"] for e in events} == {t["id"], urgent["id"]}


BAD_CELLS = [
    ("来电人电话", "12345", "电话"),
    ("来电时间", "2024-02-30 10:00", "日期"),
    ("派单时间", "下午三点", "日期"),
    ("一级分类", "外星事务", "未知一级分类"),
    ("紧急程度", "很急", "无效取值"),
    ("工单类型", "表扬", "无效取值"),
    ("诉求类别", "吐槽", "无效取值"),
    ("是否满意", "还行", "无效取值"),
    ("是否有效回访", "也许", "无效取值"),
    ("办理时限", "-3", "正整数"),
    ("办理时限", "7天", "正整数"),
    ("办理时限", "0", "大于 0"),
    ("工单编号", "", "不能为空"),
    ("来电时间", "", "不能为空"),
    ("派单时间", "2024-04-30 10:00", "早于来电时间"),
]


@pytest.mark.parametrize("column, value, reason", BAD_CELLS)
async def test_each_kind_of_bad_cell_rejects_the_file_and_says_where(db, tmp_path, column, value, reason):
    path = write_csv(tmp_path / "t.csv", [row("A1"), row("A2", **{column: value}), row("A3")])
    with pytest.raises(ImportRejected) as err:
        await import_tickets(db.pool, path)
    assert [(e.line, e.column) for e in err.value.errors] == [(3, column)]
    assert reason in err.value.errors[0].reason
    assert await count(db) == 0 and await count(db, "ticket_events") == 0 and await count(db, "units") == 0


async def test_duplicate_ticket_numbers_in_a_file_are_rejected_naming_the_first(db, tmp_path):
    path = write_csv(tmp_path / "t.csv", [row("A1"), row("A2"), row("A1", 标题="again")])
    with pytest.raises(ImportRejected) as err:
        await import_tickets(db.pool, path)
    [error] = err.value.errors
    assert (error.line, error.column, error.value) == (4, "工单编号", "A1")
    assert "第 2 行" in error.reason
    assert await count(db) == 0


async def test_a_duplicate_of_an_invalid_row_is_reported_in_the_same_pass(db, tmp_path):
    path = write_csv(tmp_path / "t.csv", [row("A1", 来电人电话="1"), row("A1"), row("A1", 紧急程度="?")])
    with pytest.raises(ImportRejected) as err:
        await import_tickets(db.pool, path)
    assert [(e.line, e.column) for e in err.value.errors] == [
        (2, "来电人电话"), (3, "工单编号"), (4, "工单编号"), (4, "紧急程度")]


async def test_every_bad_row_and_every_bad_cell_is_listed(db, tmp_path):
    rows = [row("A1"), row("A2", 来电人电话="123", 紧急程度="?"), row("A3"), row("A4", 一级分类="无此类"),
            row("A5"), row("A6", 来电时间="坏日期")]
    path = write_csv(tmp_path / "t.csv", rows)
    with pytest.raises(ImportRejected) as err:
        await import_tickets(db.pool, path)
    assert sorted((e.line, e.column) for e in err.value.errors) == [
        (3, "来电人电话"), (3, "紧急程度"), (5, "一级分类"), (7, "来电时间")]
    assert err.value.rows == 6
    assert "3 / 6" in str(err.value)


async def test_a_rejected_file_leaves_existing_tickets_untouched(db, tmp_path):
    await import_tickets(db.pool, write_csv(tmp_path / "first.csv", [row("A1")]))
    before = await db.pool.fetchrow("SELECT * FROM tickets WHERE ticket_no = 'A1'")
    path = write_csv(tmp_path / "second.csv", [row("A1", 标题="新标题"), row("A2"), row("A3", 来电人电话="1")])
    with pytest.raises(ImportRejected):
        await import_tickets(db.pool, path)
    assert await db.pool.fetchrow("SELECT * FROM tickets WHERE ticket_no = 'A1'") == before
    assert await count(db) == 1 and await count(db, "ticket_events") == 1


async def test_skip_invalid_imports_the_rest_and_writes_rejects_with_reasons(db, tmp_path):
    rows = [row("A1"), row("A2", 来电人电话="123"), row("A3"), row("A4", 是否满意="还行", 紧急程度="x")]
    path = write_csv(tmp_path / "tickets.csv", rows)
    report = await import_tickets(db.pool, path, skip_invalid=True)
    assert (report.inserted, report.rejected) == (2, 2)
    assert report.rejects_file == tmp_path / "tickets.rejects.csv" == rejects_path(path)
    assert sorted(await db.pool.fetchval("SELECT array_agg(ticket_no) FROM tickets")) == ["A1", "A3"]
    with report.rejects_file.open(encoding="utf-8-sig", newline="") as f:
        rejects = list(csv.DictReader(f))
    assert [r["工单编号"] for r in rejects] == ["A2", "A4"]
    assert [r["行号"] for r in rejects] == ["3", "5"]
    assert rejects[0]["来电人电话"] == "123" and "电话" in rejects[0]["原因"]
    assert set(rejects[1]["列"].split("；")) == {"是否满意", "紧急程度"}
    assert len(rejects[1]["原因"].split("；")) == 2
    # Fixed rejects re-import cleanly (the extra columns are ignored).
    fixed = [dict(r, 来电人电话="13800000002", 是否满意="满意", 紧急程度="一般") for r in rejects]
    again = await import_tickets(db.pool, write_csv(tmp_path / "fixed.csv", fixed))
    assert again.inserted == 2 and set(again.ignored_headers) == {"行号", "列", "原因"}


async def test_reimport_is_idempotent_and_updates_only_city_fields(db, tmp_path):
    rows = [row(f"A{i}", 工单状态="待签收") for i in range(5)]
    path = write_csv(tmp_path / "t.csv", rows)
    await import_tickets(db.pool, path)
    again = await import_tickets(db.pool, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    assert await count(db) == 5 and await count(db, "ticket_events") == 5

    # The street signs A0 and A2; then the city's file closes A0, changes A1's urgency, and
    # still says 待签收 for A2 (behind the ledger) with a new 办理结果.
    a0, a2 = [await ticket_repo.ticket_id_by_no(db.pool, no) for no in ("A0", "A2")]
    async with db.pool.acquire() as conn:
        for ticket_id in (a0, a2):
            await ticket_repo.apply_step(conn, ticket_id, flow.Step(flow.Action.SIGN), actor="clerk")
    signed = await db.pool.fetchrow("SELECT status, signed_at FROM tickets WHERE id = $1", a0)
    rows[0] = row("A0", 工单状态="已办结", 办结时间="2024-05-03 10:00", 办理结果="已解决")
    rows[1] = row("A1", 紧急程度="紧急", 工单状态="待签收")
    rows[2] = row("A2", 工单状态="待签收", 办理结果="市级备注")
    report = await import_tickets(db.pool, write_csv(tmp_path / "t2.csv", rows))
    assert (report.inserted, report.updated, report.unchanged) == (0, 3, 2)
    t0 = await db.pool.fetchrow("SELECT * FROM tickets WHERE id = $1", a0)
    # Forward to 待回访; our 签收 time stays, 首次联系 was skipped without a time, 办结 has the city's.
    assert (t0["status"], t0["signed_at"]) == ("awaiting_callback", signed["signed_at"])
    assert (t0["sign_time_unknown"], t0["contact_time_unknown"], t0["close_time_unknown"]) == (False, True, False)
    assert t0["city_status"] == "已办结" and t0["handling_result"] == "已解决"
    t1 = await db.pool.fetchrow("SELECT * FROM tickets WHERE ticket_no = 'A1'")
    assert t1["urgency"] == "紧急" and t1["status"] == "received"
    assert t1["contact_due_at"] == datetime(2024, 5, 1, 13, tzinfo=OFFICE_TZ)   # 2 h after dispatch
    t2 = await db.pool.fetchrow("SELECT * FROM tickets WHERE id = $1", a2)
    assert t2["status"] == "signed" and t2["handling_result"] == "市级备注"     # never moved back
    imports = await db.pool.fetch("SELECT ticket_id, from_state, to_state, data FROM ticket_events "
                                  "WHERE action = 'import' AND from_state IS NOT NULL ORDER BY ticket_id")
    assert [(e["ticket_id"], e["from_state"], e["to_state"]) for e in imports] == [
        (a0, "signed", "awaiting_callback"), (a2, "signed", "signed")]
    assert imports[0]["data"]["city_status"] == "已办结" and "disagreement" not in imports[0]["data"]
    assert imports[1]["data"]["city_state"] == "received" and "领先" in imports[1]["data"]["disagreement"]
    assert await count(db) == 5 and await count(db, "ticket_events") == 9      # 5 imports + 2 signs + 2


async def test_a_file_with_fewer_columns_never_blanks_what_it_does_not_mention(db, tmp_path):
    await import_tickets(db.pool, write_csv(tmp_path / "full.csv", [row("A1")]))
    narrow = write_csv(tmp_path / "narrow.csv", [{"ticket_no": "A1", "category_l1": "物业管理",
                                                  "called_at": "2024-05-01 09:30", "title": "新标题"}])
    report = await import_tickets(db.pool, narrow)
    assert report.updated == 1
    t = await db.pool.fetchrow("SELECT * FROM tickets WHERE ticket_no = 'A1'")
    assert t["title"] == "新标题"
    assert (t["caller_phone"], t["department_name"], t["time_limit_hours"]) == ("13800000001", "社区建设办公室", 168)


class RecordingProgress:
    def __init__(self):
        self.phases: list[list] = []

    def phase(self, description, total):
        self.phases.append([description, total, 0])

    def advance(self, amount=1):
        self.phases[-1][2] += amount


async def test_progress_covers_reading_and_writing(db, tmp_path):
    progress = RecordingProgress()
    rows = [row(f"A{i}") for i in range(1203)] + [row("BAD", 来电人电话="1")]
    await import_tickets(db.pool, write_csv(tmp_path / "t.csv", rows), skip_invalid=True, progress=progress)
    (read, read_total, read_done), (write, write_total, write_done), merge = progress.phases
    assert "read" in read and read_total == read_done == 1204
    assert "write" in write and write_total == write_done == 1203
    assert merge == ["合并 merge", 1, 1]


async def test_gb18030_file_imports(db, tmp_path):
    path = write_csv(tmp_path / "gbk.csv", [row("G1", 来电人="𠀾先生"), row("G2")], encoding="gb18030")
    report = await import_tickets(db.pool, path)
    assert report.encoding == "gb18030" and report.inserted == 2
    assert await db.pool.fetchval("SELECT caller_name FROM tickets WHERE ticket_no = 'G1'") == "𠀾先生"


async def test_xlsx_with_native_cells_imports(db, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(tr.HEADERS))
    for no, phone in (("X1", 13800000003), ("X2", "010-62345678")):
        cells = row(no)
        cells.update(来电时间=datetime(2024, 5, 2, 8, 15), 派单时间=datetime(2024, 5, 2, 9, 45),
                     办理时限=168.0, 来电人电话=phone)
        sheet.append([cells.get(h) or None for h in tr.HEADERS])
    path = tmp_path / "t.xlsx"
    book.save(path)
    report = await import_tickets(db.pool, path)
    assert report.inserted == 2 and report.encoding == "xlsx"
    rows = await db.pool.fetch("SELECT ticket_no, caller_phone, called_at, time_limit_hours FROM tickets ORDER BY 1")
    assert [(r["ticket_no"], r["caller_phone"], r["time_limit_hours"]) for r in rows] == [
        ("X1", "13800000003", 168), ("X2", "01062345678", 168)]
    assert rows[0]["called_at"] == datetime(2024, 5, 2, 0, 15, tzinfo=timezone.utc)


async def test_xlsx_errors_use_sheet_row_numbers(db, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(tr.HEADERS))
    sheet.append([row("X1").get(h) for h in tr.HEADERS])
    sheet.append([None] * len(tr.HEADERS))                   # blank rows are skipped, still counted
    sheet.append([row("X2", 一级分类="无此类").get(h) for h in tr.HEADERS])
    book.save(tmp_path / "t.xlsx")
    with pytest.raises(ImportRejected) as err:
        await import_tickets(db.pool, tmp_path / "t.xlsx")
    assert [(e.line, e.column) for e in err.value.errors] == [(4, "一级分类")]


async def test_xlsx_rejects_are_written_as_csv_with_readable_cells(db, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(tr.HEADERS))
    for no, category in (("X1", "物业管理"), ("X2", "无此类")):
        cells = row(no, 一级分类=category)
        cells.update(来电时间=datetime(2024, 5, 2, 8, 15), 派单时间=None, 办理时限=168)
        sheet.append([cells.get(h) for h in tr.HEADERS])
    book.save(tmp_path / "city.xlsx")
    report = await import_tickets(db.pool, tmp_path / "city.xlsx", skip_invalid=True)
    assert (report.inserted, report.rejected) == (1, 1)
    assert report.rejects_file == tmp_path / "city.rejects.csv"
    with report.rejects_file.open(encoding="utf-8-sig", newline="") as f:
        [reject] = list(csv.DictReader(f))
    assert (reject["工单编号"], reject["来电时间"], reject["办理时限"], reject["行号"], reject["列"]) == (
        "X2", "2024-05-02 08:15:00", "168", "3", "一级分类")


def shift_jis_file(path: Path) -> Path:
    path.write_bytes("顧客番号,件名,受付日時\nA001,騒音の苦情です,2024/05/01 09:30\n".encode("shift_jis"))
    return path


@pytest.mark.parametrize("make", [
    lambda p: p.write_bytes(",".join(tr.HEADERS).encode("utf-16")),
    lambda p: p.write_bytes(",".join(tr.HEADERS).encode("utf-16-le")),
    shift_jis_file,
    lambda p: p.write_bytes("numéro,catégorie,reçu à\nA1,bruit élevé,2024-05-01\n".encode("latin-1")),
    lambda p: p.write_bytes(codecs_bom_utf8() + "工单编号".encode("gb18030")),
])
async def test_files_in_other_encodings_are_refused_clearly(db, tmp_path, make):
    path = tmp_path / "t.csv"
    make(path)
    with pytest.raises(FileRejected, match="编码|UTF-8"):
        await import_tickets(db.pool, path)
    assert await count(db) == 0


def codecs_bom_utf8() -> bytes:
    return b"\xef\xbb\xbf"


def test_garbage_from_gb18030_decoding_is_told_apart_from_chinese():
    good = ",".join(tr.HEADERS) + "\n" + ",".join(row().values())
    assert decode_text(good.encode("gb18030")) == (good, "gb18030")
    with pytest.raises(FileRejected, match="乱码"):
        decode_text("顧客番号,件名,受付日時,騒音の苦情です,ｶﾀｶﾅ".encode("shift_jis"))


async def test_missing_required_columns_are_named(db, tmp_path):
    path = write_csv(tmp_path / "t.csv", [row()], headers=["工单编号", "标题", "来电人电话"])
    with pytest.raises(FileRejected) as err:
        await import_tickets(db.pool, path)
    assert "一级分类" in str(err.value) and "来电时间" in str(err.value)


@pytest.mark.parametrize("name, message", [("t.xls", "xlsx"), ("t.json", "csv"), ("missing.csv", "不存在")])
async def test_unreadable_paths_are_usage_errors(db, tmp_path, name, message):
    path = tmp_path / name
    if name != "missing.csv":
        path.write_text("{}")
    with pytest.raises(UnsupportedFile, match=message):
        await import_tickets(db.pool, path)


async def test_a_corrupt_xlsx_is_refused(db, tmp_path):
    (tmp_path / "t.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(FileRejected, match="xlsx"):
        await import_tickets(db.pool, tmp_path / "t.xlsx")


# --- sample data -------------------------------------------------------------------------

def test_sample_is_reproducible_and_uses_fictitious_numbers_only():
    first = list(sample.generate(400, seed=7, start=date(2024, 1, 19), months=2))
    assert first == list(sample.generate(400, seed=7, start=date(2024, 1, 19), months=2))
    assert first != list(sample.generate(400, seed=8, start=date(2024, 1, 19), months=2))
    low, high = sample.TEST_PHONE_RANGE
    assert all(r.caller_phone == "" or low <= int(r.caller_phone) <= high for r in first)
    assert len({r.ticket_no for r in first}) == 400
    window = (datetime(2024, 1, 19, tzinfo=OFFICE_TZ), datetime(2024, 3, 19, tzinfo=OFFICE_TZ))
    for r in first:
        assert window[0] <= r.called_at < window[1] and 7 <= r.called_at.hour < 22
        assert timedelta(hours=1) <= r.dispatched_at - r.called_at <= timedelta(hours=3)
        assert r.closed_at is None or r.dispatched_at < r.closed_at < window[1]
        assert r.category_l1 in {t.l1 for t in sample.TOPICS}
    closed = [r for r in first if r.closed_at]
    on_time = [r for r in closed if r.closed_at <= r.dispatched_at + timedelta(hours=r.time_limit_hours)]
    assert len(on_time) > 0.8 * len(closed) > 0
    assert 0 < sum(r.urgency == "紧急" for r in first) < 0.2 * len(first)


async def test_shipped_sample_is_the_generator_output_and_imports_cleanly(db, tmp_path):
    regenerated = tmp_path / "sample.csv"
    rows = sample.write_sample(regenerated, sample.SHIPPED_ROWS)
    assert regenerated.read_bytes() == SHIPPED_SAMPLE.read_bytes()
    assert SHIPPED_SAMPLE.stat().st_size < 1_000_000
    report = await import_tickets(db.pool, SHIPPED_SAMPLE)
    assert (report.inserted, report.rejected) == (rows, 0) and rows == sample.SHIPPED_ROWS
    units = await db.pool.fetch("SELECT kind, name FROM units")
    assert {u["name"] for u in units if u["kind"] == "community"} <= set(sample.COMMUNITIES)
    last = await db.pool.fetchval("SELECT max(called_at) FROM tickets")
    assert last < datetime(2024, 6, 19, tzinfo=OFFICE_TZ)


# --- the command line --------------------------------------------------------------------

@pytest.fixture
def cli_env(monkeypatch, db_dsn, tmp_path):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CALLCENTER_CONFIG", raising=False)
    return db_dsn


async def run_cli(*argv: str) -> int:
    return await asyncio.to_thread(cli.main, list(argv))


async def test_cli_import_exit_codes(db, cli_env, tmp_path, capsys):
    good = write_csv(tmp_path / "good.csv", [row("A1"), row("A2")])
    assert await run_cli("import", "tickets", str(good)) == 0
    out = capsys.readouterr().out
    assert "inserted 2" in out and "rejected 0" in out
    assert await run_cli("import", "tickets", str(good)) == 0
    assert "unchanged 2" in capsys.readouterr().out

    bad = write_csv(tmp_path / "bad.csv", [row("B1", 来电人电话="1"), row("B2"), row("B3", 来电时间="x")])
    assert await run_cli("import", "tickets", str(bad)) == 3
    err = capsys.readouterr().err
    assert "第 2 行" in err and "来电人电话" in err and "第 4 行" in err and "来电时间" in err
    assert await count(db) == 2

    assert await run_cli("import", "tickets", "--skip-invalid", str(bad)) == 0
    out = capsys.readouterr().out
    assert "inserted 1" in out and "rejected 2" in out and "bad.rejects.csv" in out
    assert (tmp_path / "bad.rejects.csv").is_file()

    assert await run_cli("import", "tickets", str(shift_jis_file(tmp_path / "sjis.csv"))) == 3
    assert "编码" in capsys.readouterr().err
    missing = write_csv(tmp_path / "cols.csv", [row()], headers=["工单编号"])
    assert await run_cli("import", "tickets", str(missing)) == 3
    assert "一级分类" in capsys.readouterr().err
    assert await run_cli("import", "tickets", str(tmp_path / "nope.csv")) == 2
    assert await run_cli("import", "tickets") == 2
    assert await count(db) == 3


def test_cli_help_exits_zero(capsys):
    for argv in (["import", "tickets", "--help"], ["export", "tickets", "--help"], ["sample", "tickets", "--help"]):
        assert cli.main(argv) == 0
    assert "Asia/Shanghai" in capsys.readouterr().out


def test_cli_sample_writes_a_reproducible_file(tmp_path, capsys):
    args = ["sample", "tickets", "--rows", "50", "--seed", "3", "--start", "2024-01-19", "--months", "1"]
    assert cli.main([*args, "--out", str(tmp_path / "a.csv")]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "b.csv")]) == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert cli.main([*args, "--out", str(tmp_path / "c.xlsx")]) == 0
    assert openpyxl.load_workbook(tmp_path / "c.xlsx").active.max_row == 51
    assert cli.main([*args, "--out", str(tmp_path / "d.txt")]) == 2
    assert cli.main(["sample", "tickets", "--rows", "-1", "--out", str(tmp_path / "e.csv")]) == 2
    assert cli.main(["sample", "tickets", "--start", "2024-02-30", "--out", str(tmp_path / "e.csv")]) == 2
    assert not (tmp_path / "e.csv").exists()


def test_cli_reports_an_unreachable_database_as_a_failure(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CALLCENTER_DSN", "postgresql://nobody@127.0.0.1:1/none")
    good = write_csv(tmp_path / "good.csv", [row("A1")])
    assert cli.main(["import", "tickets", str(good)]) == 1
    assert cli.main(["export", "tickets", "--month", "2024-05", "--out", str(tmp_path / "o.csv")]) == 1
    assert capsys.readouterr().err.count("无法连接数据库") == 2
    assert not (tmp_path / "o.csv").exists()


def test_the_bar_shows_on_a_terminal_only(capsys):
    from callcenter.transfer.progress import NullProgress, RichProgress, terminal_progress
    with terminal_progress() as progress:           # pytest's captured stdout is no terminal
        assert isinstance(progress, NullProgress)
    with terminal_progress(True) as progress:
        assert isinstance(progress, RichProgress)
        progress.phase("读取校验 read", 4)
        progress.advance(4)
        progress.phase("写入 write", None)
        progress.advance(3)
    out = capsys.readouterr().out
    assert "4/4" in out and "3/3" in out
