"""The shared request-value readers (callcenter.web.core.params, .paging): page keys, ids, days, units, deadlines."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from callcenter.db.review_queries import AttemptKey
from callcenter.db.ticket_queries import PageKey
from callcenter.ledger import flow
from callcenter.web.calls import call_view
from callcenter.web.tickets import ticket_filters
from callcenter.web.core.paging import BAD_KEY, after_key, list_context
from callcenter.web.core.params import MAX_ID, MAX_UNIT_ID, office_datetime, optional_day, optional_id, unit_id

instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=8))]))


@given(instants, st.integers(1, MAX_ID))
def test_a_ledger_page_key_survives_the_url(at, ident):
    key = PageKey(at, ident)
    assert ticket_filters.decode_key(ticket_filters.encode_key(key)) == key


@given(instants, st.uuids())
def test_a_call_list_page_key_survives_the_url(at, ident):
    key = AttemptKey(at, ident)
    assert call_view.decode_key(call_view.encode_key(key)) == key


@pytest.mark.parametrize("raw", ["", "~", "2024-05-01T10:00:00~5", "2024-05-01T10:00:00+08:00",
                                 "2024-05-01T10:00:00+08:00~x", f"2024-05-01T10:00:00+08:00~{MAX_ID + 1}", "坏~1"])
def test_a_bad_ledger_key_is_refused_in_one_message(raw):
    with pytest.raises(ValueError, match=BAD_KEY):
        ticket_filters.decode_key(raw)


@pytest.mark.parametrize("raw", ["", "2024-05-01T10:00:00~1c00aced-4e4d-40d7-adaa-5fa0cf88942f", "2024-05-01T10:00:00+08:00~7"])
def test_a_bad_call_list_key_is_refused_in_one_message(raw):
    with pytest.raises(ValueError, match=BAD_KEY):
        call_view.decode_key(raw)


def test_after_key_reports_a_bad_key_and_starts_at_the_first_page():
    errors: list[str] = []
    assert after_key({}, ticket_filters.decode_key, errors) is None and errors == []
    assert after_key({"after": "junk"}, ticket_filters.decode_key, errors) is None and errors == [BAD_KEY]


def test_list_context_links_keep_the_filter_and_add_the_next_key():
    parsed = ticket_filters.parse_query({"status": "signed", "q": "噪音"})

    class Page:
        rows = ["r1"]
        next_key = PageKey(datetime(2024, 5, 1, 10, tzinfo=timezone.utc), 9)
    context = list_context("/tickets", parsed, Page(), ticket_filters.encode_key)
    assert context["rows"] == ["r1"] and context["paged"] is False and context["errors"] == []
    assert context["first_url"] == "/tickets?status=signed&q=%E5%99%AA%E9%9F%B3"
    assert context["next_url"] == context["first_url"] + "&after=2024-05-01T10%3A00%3A00%2B00%3A00~9"
    assert list_context("/tickets", parsed, None, ticket_filters.encode_key)["next_url"] is None


@pytest.mark.parametrize("raw, expected, wrong", [("", None, False), ("1", 1, False), (str(MAX_ID), MAX_ID, False),
                                                  ("0", None, True), (str(MAX_ID + 1), None, True),
                                                  ("-3", None, True), ("1.5", None, True)])
def test_optional_id(raw, expected, wrong):
    errors: list[str] = []
    assert optional_id(raw, errors, "bad id") == expected
    assert errors == (["bad id"] if wrong else [])


def test_optional_day():
    errors: list[str] = []
    assert optional_day("", errors, "bad day") is None
    assert optional_day("2024-02-29", errors, "bad day") == date(2024, 2, 29) and errors == []
    assert optional_day("2023-02-29", errors, "bad day") is None and errors == ["bad day"]


def test_unit_id_raises_the_flows_own_error():
    assert unit_id("", flow.FlowError) is None
    assert unit_id(str(MAX_UNIT_ID), flow.FlowError) == MAX_UNIT_ID
    for raw in (str(MAX_UNIT_ID + 1), "abc", "-1"):
        with pytest.raises(flow.FlowError, match="承办单位无效"):
            unit_id(raw, flow.FlowError)


def test_office_datetime_is_beijing_wall_time():
    at = office_datetime("2024-05-01T18:00", flow.FlowError, "新的办结期限")
    assert at == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    assert office_datetime("", flow.FlowError, "x") is None
    with pytest.raises(flow.FlowError, match="新的办结期限格式无效: 明天"):
        office_datetime("明天", flow.FlowError, "新的办结期限")
