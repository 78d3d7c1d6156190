"""Assessment months and daily windows: the 19th → 18th convention, in Beijing time."""
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from callcenter.scoring.periods import (Calendar, PeriodError, day_window, period, period_containing, previous,
                                        report_day)

BJ = timezone(timedelta(hours=8))


def test_period_label_is_the_month_it_ends_in():
    p = period("2024-05")
    assert p.start == datetime(2024, 4, 19, tzinfo=BJ)
    assert p.end == datetime(2024, 5, 19, tzinfo=BJ)
    assert (p.first_day, p.last_day) == (date(2024, 4, 19), date(2024, 5, 18))


def test_january_period_starts_in_previous_year():
    p = period("2024-01")
    assert p.start == datetime(2023, 12, 19, tzinfo=BJ)


@pytest.mark.parametrize("at, label", [
    (datetime(2024, 5, 18, 23, 59, 59, tzinfo=BJ), "2024-05"),
    (datetime(2024, 5, 19, 0, 0, 0, tzinfo=BJ), "2024-06"),
    # 2024-05-18 16:00 UTC is 2024-05-19 00:00 in Beijing: the next period.
    (datetime(2024, 5, 18, 16, 0, 0, tzinfo=timezone.utc), "2024-06"),
    (datetime(2024, 5, 18, 15, 59, 59, tzinfo=timezone.utc), "2024-05"),
    (datetime(2023, 12, 19, 0, 0, tzinfo=BJ), "2024-01"),
])
def test_boundaries_in_beijing_time(at, label):
    assert period_containing(at).label == label
    assert period(label).contains(at)


def test_start_day_one_is_the_calendar_month():
    cal = Calendar(period_start_day=1)
    p = period("2024-02", cal)
    assert (p.start, p.end) == (datetime(2024, 2, 1, tzinfo=BJ), datetime(2024, 3, 1, tzinfo=BJ))
    assert period_containing(datetime(2024, 2, 29, 23, 59, tzinfo=BJ), cal).label == "2024-02"


@pytest.mark.parametrize("bad", ["2024-13", "2024-5", "May", "2024-00", ""])
def test_bad_labels_are_rejected(bad):
    with pytest.raises(PeriodError):
        period(bad)


def test_calendar_rejects_impossible_settings():
    with pytest.raises(PeriodError):
        Calendar(period_start_day=29)
    with pytest.raises(PeriodError):
        Calendar(daily_cut_hour=24)


def test_daily_report_runs_noon_to_noon():
    assert report_day(datetime(2024, 5, 10, 11, 59, 59, tzinfo=BJ)) == date(2024, 5, 10)
    assert report_day(datetime(2024, 5, 10, 12, 0, tzinfo=BJ)) == date(2024, 5, 11)
    assert day_window(date(2024, 5, 10)) == (datetime(2024, 5, 9, 12, tzinfo=BJ), datetime(2024, 5, 10, 12, tzinfo=BJ))
    midnight = Calendar(daily_cut_hour=0)
    assert report_day(datetime(2024, 5, 10, 23, 59, tzinfo=BJ), midnight) == date(2024, 5, 10)
    assert day_window(date(2024, 5, 10), midnight) == (datetime(2024, 5, 10, tzinfo=BJ), datetime(2024, 5, 11, tzinfo=BJ))


instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(tzinfo=timezone.utc))


@given(instants, st.integers(1, 28), st.integers(0, 23))
def test_every_instant_is_in_exactly_its_period_and_day(at, start_day, cut):
    cal = Calendar(period_start_day=start_day, daily_cut_hour=cut)
    p = period_containing(at, cal)
    assert p.contains(at)
    assert not previous(p, cal).contains(at)
    assert previous(p, cal).end == p.start
    start, end = day_window(report_day(at, cal), cal)
    assert start <= at < end
