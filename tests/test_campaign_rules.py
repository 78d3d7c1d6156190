"""Calling windows and retry rules: the invariants the dialer relies on."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from callcenter.campaigns.outcomes import Outcome, RetryPolicy, next_step, outcome_of_unanswered
from callcenter.campaigns.windows import CallingWindows, WindowError
from callcenter.ledger.timezone import OFFICE_TZ

WINDOWS = CallingWindows.parse(["09:00-12:00", "14:00-20:00"], holidays=[date(2024, 10, 1), date(2024, 10, 2)])
instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2025, 12, 31),
                        timezones=st.just(timezone.utc))


def local(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=OFFICE_TZ)


@pytest.mark.parametrize("at,open_", [
    (local(2024, 5, 6, 8, 59), False), (local(2024, 5, 6, 9, 0), True), (local(2024, 5, 6, 11, 59), True),
    (local(2024, 5, 6, 12, 0), False), (local(2024, 5, 6, 13, 30), False), (local(2024, 5, 6, 19, 59), True),
    (local(2024, 5, 6, 20, 0), False), (local(2024, 5, 6, 23, 0), False), (local(2024, 10, 1, 10, 0), False),
])
def test_window_edges(at, open_):
    assert WINDOWS.is_open(at) is open_


@given(instants)
def test_next_open_is_open_and_never_earlier(at):
    nxt = WINDOWS.next_open(at)
    assert nxt >= at and WINDOWS.is_open(nxt)
    assert 9 <= nxt.astimezone(OFFICE_TZ).hour < 20          # never at night


@given(instants)
def test_nothing_open_is_skipped(at):
    """next_open returns the FIRST open instant: every whole minute before it is closed."""
    nxt = WINDOWS.next_open(at)
    probe = at
    while probe < nxt and probe < at + timedelta(days=3):
        assert not WINDOWS.is_open(probe)
        probe += timedelta(minutes=13)


def test_holidays_are_skipped_and_windows_validated():
    assert WINDOWS.next_open(local(2024, 9, 30, 21, 0)) == local(2024, 10, 3, 9, 0)
    with pytest.raises(WindowError, match="时段重叠"):
        CallingWindows.parse(["09:00-12:00", "11:00-13:00"])
    with pytest.raises(WindowError, match="时:分-时:分"):
        CallingWindows.parse(["9-12"])
    with pytest.raises(WindowError, match="结束时间早于开始时间"):
        CallingWindows.parse(["12:00-09:00"])


@pytest.mark.parametrize("reason,cause,expected", [
    (4, 16, None), (5, 17, Outcome.BUSY), (8, 34, Outcome.FAILED), (3, 19, Outcome.NO_ANSWER),
    (0, 21, Outcome.NO_ANSWER), (0, None, Outcome.FAILED), (1, None, Outcome.NO_ANSWER),
    (0, 1, Outcome.INVALID_NUMBER), (8, None, Outcome.FAILED),
])
def test_unanswered_outcomes_follow_the_transcripts(reason, cause, expected):
    if expected is None:
        return  # reason 4 is an answered call: its outcome comes from the IVR
    assert outcome_of_unanswered(reason, cause) is expected


@given(st.sampled_from(list(Outcome)), instants, st.integers(1, 5))
def test_never_more_attempts_than_allowed(outcome, ended_at, max_attempts):
    policy = RetryPolicy(max_attempts=max_attempts)
    attempt_no, at, steps = 1, ended_at, 0
    while True:
        step = next_step(outcome, attempt_no, at, policy, WINDOWS)
        if step.retry_at is None:
            assert step.ticket_action in ("callback_done", "callback_failed")
            break
        assert step.ticket_action is None
        assert WINDOWS.is_open(step.retry_at) and step.retry_at > at
        attempt_no, at, steps = attempt_no + 1, step.retry_at, steps + 1
    assert attempt_no <= max_attempts


@given(instants)
def test_no_answer_retries_at_another_time_of_day(ended_at):
    if not WINDOWS.is_open(ended_at):
        ended_at = WINDOWS.next_open(ended_at)
    step = next_step(Outcome.NO_ANSWER, 1, ended_at, RetryPolicy(), WINDOWS)
    assert WINDOWS.segment_at(step.retry_at) != WINDOWS.segment_at(ended_at)


def test_no_answer_may_retry_in_the_same_window_when_the_campaign_says_so():
    at = local(2024, 5, 6, 10)
    policy = RetryPolicy(delays={Outcome.NO_ANSWER: timedelta(minutes=5)}, no_answer_elsewhere=False)
    step = next_step(Outcome.NO_ANSWER, 1, at, policy, WINDOWS)
    assert step.retry_at == at + timedelta(minutes=5)
    assert WINDOWS.segment_at(step.retry_at) == WINDOWS.segment_at(at)


def test_final_outcomes_decide_the_ticket():
    at = local(2024, 5, 6, 10)
    assert next_step(Outcome.ANSWERED_COMPLETE, 1, at, RetryPolicy(), WINDOWS).ticket_action == "callback_done"
    assert next_step(Outcome.REFUSED, 1, at, RetryPolicy(), WINDOWS).ticket_action == "callback_failed"
    assert next_step(Outcome.INVALID_NUMBER, 1, at, RetryPolicy(), WINDOWS).ticket_action == "callback_failed"
    assert next_step(Outcome.ANSWERED_PARTIAL, 3, at, RetryPolicy(), WINDOWS).ticket_action == "callback_done"
    assert next_step(Outcome.BUSY, 3, at, RetryPolicy(), WINDOWS).ticket_action == "callback_failed"
    busy = next_step(Outcome.BUSY, 1, at, RetryPolicy(), WINDOWS)
    assert busy.retry_at == at + timedelta(minutes=30)
