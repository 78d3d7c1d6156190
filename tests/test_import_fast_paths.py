"""The import's shortcuts give what the plain code gives: timestamp columns, deadline policies, staging states."""
from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone

import pytest

from callcenter.db import ticket_import
from callcenter.ledger import city_status, ticket_record as tr
from callcenter.ledger.deadlines import DeadlinePolicy, PoliciesByDay, policy_in_force
from callcenter.ledger.flow import State
from callcenter.ledger.ticket_columns import ColumnParser

CATEGORIES = frozenset({"物业管理"})
#: Written times the quick path must hand to the field parser (or read exactly as it does).
TIMES = ["2024-05-01 09:30:00", "2024-05-01 09:30:01", "2024-02-29 23:59:59", "2024-02-30 10:00:00",
         "2023-02-29 10:00:00", "2024-05-01 24:00:00", "2024-05-01 23:59:60", "2024-05-01 09:60:00",
         "２０２４-05-01 09:30:00", "2024-05-01 09:30:0０", "1999-12-31 23:59:59", "2000-01-01 00:00:00",
         "2099-12-31 23:59:59", "2100-01-01 00:00:00", "2024-05-01 9:30:00", "2024-05-01T09:30:00",
         "2024-05-01 09:30:00+08:00", "", "  ", "昨天", "2024-05-01 09:30:00\x00"]


def row_by_row(rows, headers, lines):
    return [tr.parse_row(cells, headers, line, CATEGORIES) for cells, line in zip(rows, lines)]


def columnar_and_row_by_row(rows, headers, block):
    """The column parser's results, fed ``block`` rows at a time, beside ``parse_row``'s for each row."""
    lines = list(range(2, len(rows) + 2))
    parser = ColumnParser(headers, CATEGORIES)
    columnar = []
    for start in range(0, len(rows), block):
        columnar += parser.parse(lines[start:start + block], rows[start:start + block])
    return columnar, row_by_row(rows, headers, lines)


@pytest.mark.parametrize("block", [1, 4, len(TIMES)])
def test_timestamp_columns_of_text_read_as_parse_row_reads_each_row(block):
    """All-text timestamp columns take the quick path; every record and error matches the row parser's."""
    headers = tr.resolve_headers(["工单编号", "一级分类", "来电时间", "派单时间", "办结时间", "回访时间"])
    rows = [[f"A{i}", "物业管理", TIMES[i], TIMES[-1 - i], TIMES[(i * 7) % len(TIMES)], "2024-06-01 08:00:00"]
            for i in range(len(TIMES))]
    columnar, expected = columnar_and_row_by_row(rows, headers, block)
    assert columnar == expected
    assert any(isinstance(r, tr.TicketRecord) for r in expected) and any(isinstance(r, list) for r in expected)
    for record in (r for r in columnar if isinstance(r, tr.TicketRecord)):
        assert record.called_at.tzinfo is tr.OFFICE_TZ


POLICIES = [DeadlinePolicy(date(2023, 1, 1), sign_hours=2), DeadlinePolicy(date(2024, 5, 2), sign_hours=3),
            DeadlinePolicy(date(2024, 5, 1), sign_hours=4)]


def test_policies_by_day_answer_as_policy_in_force_across_beijing_midnight():
    lookup = PoliciesByDay(POLICIES)
    start = datetime(2024, 4, 30, 14, 0, tzinfo=timezone.utc)      # 22:00 in Beijing
    for hours in range(0, 72, 1):
        at = start + timedelta(hours=hours)
        assert lookup(at) == policy_in_force(POLICIES, at), at
    before = datetime(2022, 12, 31, 15, 59, tzinfo=timezone.utc)   # 23:59 on 12-31 in Beijing
    with pytest.raises(LookupError):
        lookup(before)
    assert lookup(before + timedelta(minutes=1)) == POLICIES[0]


def test_record_deadlines_take_the_lookup_or_the_list():
    record = tr.TicketRecord(ticket_no="A1", category_l1="物业管理", urgency="紧急",
                             called_at=datetime(2024, 5, 1, 23, 30, tzinfo=tr.OFFICE_TZ))
    by_list = tr.record_deadlines(record, POLICIES, utility_categories=frozenset(), is_complex=True)
    assert by_list == tr.record_deadlines(record, PoliciesByDay(POLICIES), utility_categories=frozenset(),
                                          is_complex=True)
    assert by_list.sign_due_at == record.called_at + timedelta(hours=4)


def stored_rows():
    """What _STORED could say of a known ticket: every state, with every combination of step flags."""
    for state, *flags in itertools.product(State, *[[False, True]] * 5):
        yield dict(zip(ticket_import._STORED_PLACE_COLUMNS, (state.value, *flags)))


def uncached(record, stored, has_status):
    """The staging row's state columns as written before the cache (from the domain functions directly)."""
    ledger = None if stored is None else city_status.LedgerPlace(
        State(stored["status"]), stored["signed"], stored["contacted"], stored["sign_time_unknown"],
        stored["contact_time_unknown"], stored["close_time_unknown"])
    city = ledger.state if ledger is not None and not has_status else city_status.entry_state(
        record.city_status, record.city_effective_callback)
    placed = city_status.place(city, ledger)
    return (city.value, None if ledger is None else ledger.state.value, placed.state.value,
            placed.sign_unknown, placed.contact_unknown, placed.close_skipped)


@pytest.mark.parametrize("has_status", [True, False])
def test_cached_placements_are_the_domains_for_every_status_and_ledger_state(has_status):
    placements = ticket_import._Placements(has_status)
    called = datetime(2024, 5, 1, 9, 30, tzinfo=tr.OFFICE_TZ)
    for _ in range(2):                   # the second pass answers from the cache
        for label, callback in itertools.product(("", *city_status.KNOWN_LABELS), (None, True, False)):
            record = tr.TicketRecord(ticket_no="A1", category_l1="物业管理", called_at=called, city_status=label,
                                     city_effective_callback=callback)
            for stored in (None, *stored_rows()):
                assert placements(record, stored) == uncached(record, stored, has_status), (label, callback, stored)


class Moment(datetime):
    """A datetime subclass (as pandas' Timestamp is): never taken by the quick path."""


#: What an xlsx reader can hand a timestamp column.
CELL_TIMES = [datetime(2024, 5, 1, 9, 30), datetime(2024, 5, 1, 23, 59, 59), datetime(2024, 5, 1, 9, 29, 59, 999_600),
              datetime(2024, 5, 1, 9, 30, 0, 400_000), datetime(1899, 12, 31), datetime(2100, 1, 1),
              datetime(2024, 5, 1, 1, 30, tzinfo=timezone.utc), Moment(2024, 5, 1, 9, 30), date(2024, 5, 1),
              "2024-05-01 09:30:00", "", None, 45413.5, 1, True]


@pytest.mark.parametrize("block", [1, 5, len(CELL_TIMES)])
def test_timestamp_columns_of_cells_read_as_parse_row_reads_each_row(block):
    """datetimes, dates, numbers and text mixed in one column: the same records and errors as the row parser."""
    headers = tr.resolve_headers(["工单编号", "一级分类", "来电时间", "派单时间", "办结时间"])
    rows = [[f"A{i}", "物业管理", CELL_TIMES[i], CELL_TIMES[-1 - i], CELL_TIMES[(i * 4) % len(CELL_TIMES)]]
            for i in range(len(CELL_TIMES))]
    columnar, expected = columnar_and_row_by_row(rows, headers, block)
    assert columnar == expected
    assert any(isinstance(r, tr.TicketRecord) for r in expected) and any(isinstance(r, list) for r in expected)
    assert all(r.called_at.tzinfo is tr.OFFICE_TZ for r in columnar if isinstance(r, tr.TicketRecord))
