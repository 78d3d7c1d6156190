"""The urban case flow (legal and illegal steps, what each step needs) and overdue detection."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from callcenter.ledger import urban as ub

BJ = timezone(timedelta(hours=8))
T0 = datetime(2024, 6, 3, 9, tzinfo=BJ)
DUE = T0 + timedelta(days=2)


def test_the_whole_flow_from_review_to_closed():
    s = ub.apply(ub.State.REVIEW, ub.Step(ub.Action.ACCEPT))
    assert s is ub.State.ACCEPTED
    s = ub.apply(s, ub.Step(ub.Action.DISPATCH, unit_id=1, deadline=DUE, at=T0))
    assert s is ub.State.DISPATCHED
    s = ub.apply(s, ub.Step(ub.Action.HANDLE, result="已清理", photo_count=1))
    assert s is ub.State.HANDLED
    assert ub.apply(s, ub.Step(ub.Action.SEND_BACK, reason="照片不清")) is ub.State.DISPATCHED
    assert ub.apply(s, ub.Step(ub.Action.CLOSE)) is ub.State.CLOSED
    assert ub.apply("review", ub.Step(ub.Action.REJECT, reason="属清河街道")) is ub.State.REJECTED


def test_replay_reproduces_the_state_and_rejects_a_forged_trail():
    trail = [("accept", "accepted"), ("dispatch", "dispatched"), ("handle", "handled"),
             ("send_back", "dispatched"), ("handle", "handled"), ("close", "closed")]
    assert ub.replay(trail) is ub.State.CLOSED
    with pytest.raises(ub.IllegalTransition):
        ub.replay([("accept", "accepted"), ("close", "closed")])
    with pytest.raises(ub.UrbanFlowError, match="不一致"):
        ub.replay([("accept", "dispatched")])



@given(st.sampled_from(list(ub.State)), st.sampled_from(list(ub.Action)))
def test_every_pair_is_legal_exactly_when_the_table_says(state, action):
    step = ub.Step(action, reason="r", unit_id=1, deadline=DUE, result="x", photo_count=1)
    if state in ub.RULES[action].sources:
        assert ub.apply(state, step) is ub.RULES[action].target
    else:
        with pytest.raises(ub.IllegalTransition) as info:
            ub.apply(state, step)
        assert state.value in str(info.value) and action.value in str(info.value)


@pytest.mark.parametrize("state, step, message", [
    ("review", ub.Step(ub.Action.REJECT), "原因"),
    ("accepted", ub.Step(ub.Action.DISPATCH, deadline=DUE), "承办"),
    ("accepted", ub.Step(ub.Action.DISPATCH, unit_id=1), "期限"),
    ("accepted", ub.Step(ub.Action.DISPATCH, unit_id=1, deadline=DUE.replace(tzinfo=None)), "时区"),
    ("accepted", ub.Step(ub.Action.DISPATCH, unit_id=1, deadline=T0, at=T0), "晚于"),
    ("dispatched", ub.Step(ub.Action.HANDLE, photo_count=1), "处置结果"),
    ("dispatched", ub.Step(ub.Action.HANDLE, result="已清理"), "照片"),
    ("handled", ub.Step(ub.Action.SEND_BACK), "原因"),
])
def test_a_step_missing_what_it_needs_is_refused(state, step, message):
    with pytest.raises(ub.UrbanFlowError, match=message):
        ub.apply(state, step)


@pytest.mark.parametrize("state, now, overdue", [
    ("dispatched", DUE - timedelta(seconds=1), False),
    ("dispatched", DUE, False),
    ("dispatched", DUE + timedelta(seconds=1), True),
    ("handled", DUE + timedelta(days=1), True),      # reported, but not yet confirmed
    ("closed", DUE + timedelta(days=1), False),
    ("rejected", DUE + timedelta(days=1), False),
    ("accepted", DUE + timedelta(days=1), False),   # no unit owes it yet
])
def test_overdue_across_the_deadline(state, now, overdue):
    assert ub.is_overdue(state, DUE, now) is overdue


def test_on_time_closure_and_due_soon():
    assert ub.closed_on_time(DUE, DUE) is True
    assert ub.closed_on_time(DUE, DUE + timedelta(minutes=1)) is False
    assert ub.closed_on_time(None, DUE) is None and ub.closed_on_time(DUE, None) is None
    assert ub.due_soon("dispatched", DUE, DUE - timedelta(hours=3), timedelta(hours=4))
    assert not ub.due_soon("dispatched", DUE, DUE - timedelta(hours=5), timedelta(hours=4))
    assert not ub.due_soon("closed", DUE, DUE - timedelta(hours=3), timedelta(hours=4))
