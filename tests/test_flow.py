"""The ticket flow: every legal and illegal transition, and replay of the audit trail."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from callcenter.db import tickets as repo
from callcenter.ledger import flow
from callcenter.ledger.flow import Action, State, Step

from .factories import insert_ticket, insert_unit

EXPECTED = {
    (State.RECEIVED, Action.SIGN): State.SIGNED,
    (State.RECEIVED, Action.RETURN): State.RETURNED,
    (State.SIGNED, Action.RETURN): State.RETURNED,
    (State.RETURNED, Action.RETURN_REJECTED): State.RECEIVED,
    (State.RETURNED, Action.RETURN_APPROVED): State.RETURN_APPROVED,
    (State.SIGNED, Action.DISPATCH): State.DISPATCHED,
    (State.DISPATCHED, Action.REDISPATCH): State.DISPATCHED,
    (State.HANDLING, Action.REDISPATCH): State.DISPATCHED,
    (State.DISPATCHED, Action.ACCEPT): State.HANDLING,
    (State.HANDLING, Action.CONTACT): State.HANDLING,
    (State.HANDLING, Action.EXTEND): State.HANDLING,
    (State.HANDLING, Action.FEEDBACK): State.FEEDBACK,
    (State.FEEDBACK, Action.REVIEW_PASS): State.AWAITING_CALLBACK,
    (State.FEEDBACK, Action.REVIEW_REJECT): State.HANDLING,
    (State.AWAITING_CALLBACK, Action.CALLBACK_DONE): State.CALLED_BACK,
    (State.AWAITING_CALLBACK, Action.CALLBACK_FAILED): State.CALLBACK_FAILED,
    (State.CALLED_BACK, Action.REOPEN): State.HANDLING,
    (State.CALLBACK_FAILED, Action.REOPEN): State.HANDLING,
}

DEADLINE = datetime(2024, 5, 20, 10, tzinfo=timezone.utc)


def full_step(action: Action) -> Step:
    """A step carrying everything any action may need."""
    return Step(action, reason="原因", unit_id=1, new_deadline=DEADLINE)


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", list(Action))
def test_every_pair_is_legal_exactly_as_specified(state, action):
    expected = EXPECTED.get((state, action))
    if expected is None:
        with pytest.raises(flow.IllegalTransition) as err:
            flow.apply(state, full_step(action))
        # The error names both the state and the action, in words a person reads.
        assert state.value in str(err.value) and action.value in str(err.value)
        assert state.label in str(err.value) and action.label in str(err.value)
    else:
        assert flow.apply(state, full_step(action)) is expected


@pytest.mark.parametrize("action", [a for a, r in flow.RULES.items() if r.needs_reason])
def test_reason_is_required_where_the_domain_needs_one(action):
    state = next(iter(flow.RULES[action].sources))
    with pytest.raises(flow.FlowError, match="原因"):
        flow.apply(state, Step(action, reason="   ", unit_id=1, new_deadline=DEADLINE))


def test_dispatch_needs_a_unit_and_extension_a_deadline():
    with pytest.raises(flow.FlowError, match="承办"):
        flow.apply(State.SIGNED, Step(Action.DISPATCH))
    with pytest.raises(flow.FlowError, match="期限"):
        flow.apply(State.HANDLING, Step(Action.EXTEND, reason="复杂"))


def test_unknown_names_are_clear_errors():
    with pytest.raises(flow.FlowError, match="未知工单状态"):
        flow.apply("limbo", full_step(Action.SIGN))
    with pytest.raises(flow.FlowError, match="未知操作"):
        flow.apply(State.RECEIVED, Step("teleport"))  # type: ignore[arg-type]


@given(st.lists(st.sampled_from(list(Action)), max_size=40))
def test_random_sequences_replay_to_the_final_state(actions):
    """Apply random actions, keep the legal ones as an audit trail; the trail replays exactly."""
    state, trail = State.RECEIVED, []
    for action in actions:
        try:
            new = flow.apply(state, full_step(action))
        except flow.IllegalTransition:
            continue
        trail.append((action.value, new.value))
        state = new
    assert flow.replay(State.RECEIVED, trail) is state


def test_replay_rejects_a_tampered_trail():
    with pytest.raises(flow.FlowError, match="不一致"):
        flow.replay(State.RECEIVED, [("sign", "handling")])
    with pytest.raises(flow.IllegalTransition):
        flow.replay(State.RECEIVED, [("review_pass", "awaiting_callback")])


async def make_ticket(conn, no="T1", **cols) -> int:
    cols.setdefault("dispatched_at", datetime(2024, 5, 1, 10, tzinfo=timezone.utc))
    return await insert_ticket(conn, no, **cols)


async def test_steps_are_stored_with_who_when_why_and_replay(db):
    async with db.pool.acquire() as conn:
        dept = await insert_unit(conn, "城管科")
        tid = await make_ticket(conn)
        path = [Step(Action.SIGN), Step(Action.DISPATCH, unit_id=dept), Step(Action.ACCEPT),
                Step(Action.CONTACT), Step(Action.FEEDBACK, reason="已清理"),
                Step(Action.REVIEW_REJECT, reason="照片不清"), Step(Action.FEEDBACK, reason="补充照片"),
                Step(Action.REVIEW_PASS)]
        for step in path:
            await repo.apply_step(conn, tid, step, actor="wang")
        with pytest.raises(flow.IllegalTransition):
            await repo.apply_step(conn, tid, Step(Action.SIGN), actor="wang")
        ticket = await repo.get_ticket(conn, tid)
        events = await repo.history(conn, tid)
    assert ticket["status"] == "awaiting_callback"
    assert ticket["department_id"] == dept and ticket["signed_at"] and ticket["first_contact_at"]
    assert [e["action"] for e in events] == [s.action.value for s in path]
    assert all(e["actor"] == "wang" for e in events)
    assert events[5]["reason"] == "照片不清" and events[5]["from_state"] == "feedback"
    assert flow.replay(State.RECEIVED, [(e["action"], e["to_state"]) for e in events]).value == ticket["status"]


async def test_a_refused_step_leaves_no_trace(db):
    async with db.pool.acquire() as conn:
        tid = await make_ticket(conn)
        with pytest.raises(flow.FlowError):
            await repo.apply_step(conn, tid, Step(Action.RETURN, reason=""), actor="li")
        with pytest.raises(flow.FlowError, match="不存在"):
            await repo.apply_step(conn, tid, Step(Action.SIGN), actor="li")  # fine…
            await repo.apply_step(conn, tid, Step(Action.DISPATCH, unit_id=999), actor="li")
        assert (await repo.get_ticket(conn, tid))["status"] == "signed"
        assert len(await repo.history(conn, tid)) == 1


async def test_a_step_on_the_status_just_seen_is_one_write_and_a_stale_one_is_decided_under_lock(db):
    async with db.pool.acquire() as conn:
        fresh = await make_ticket(conn, "T-seen", status="awaiting_callback")
        done = await repo.apply_step(conn, fresh, Step(Action.CALLBACK_DONE), actor="dialer",
                                     seen=State.AWAITING_CALLBACK)
        assert (done.from_state, done.to_state) == (State.AWAITING_CALLBACK, State.CALLED_BACK)
        events = await repo.history(conn, fresh)
        assert [(e["id"], e["action"], e["from_state"], e["to_state"], e["actor"]) for e in events] == [
            (done.event_id, "callback_done", "awaiting_callback", "called_back", "dialer")]
        assert (await repo.get_ticket(conn, fresh))["status"] == "called_back"

        moved = await make_ticket(conn, "T-moved", status="called_back")      # seen a moment before it moved
        with pytest.raises(flow.IllegalTransition):
            await repo.apply_step(conn, moved, Step(Action.CALLBACK_DONE), actor="dialer",
                                  seen=State.AWAITING_CALLBACK)
        assert await repo.history(conn, moved) == [] and (await repo.get_ticket(conn, moved))["status"] == "called_back"

        other = await make_ticket(conn, "T-other", status="awaiting_callback")   # a stale "seen" that forbids it
        result = await repo.apply_step(conn, other, Step(Action.CALLBACK_DONE), actor="dialer", seen=State.RECEIVED)
        assert result.from_state == State.AWAITING_CALLBACK and len(await repo.history(conn, other)) == 1


async def test_deadline_warnings_follow_the_open_step(db):
    now = datetime(2024, 5, 1, 11, 30, tzinfo=timezone.utc)
    async with db.pool.acquire() as conn:
        await make_ticket(conn, "A")                                   # sign due 12:00
        urgent = await make_ticket(conn, "B", urgency="紧急")                      # contact due 12:00
        await repo.apply_step(conn, urgent, Step(Action.SIGN), actor="x")
        fresh = await make_ticket(conn, "C", dispatched_at=now + timedelta(hours=5))
        warnings = await repo.deadline_warnings(conn, now=now, warn_within=timedelta(hours=1))
        overdue = await repo.deadline_warnings(conn, now=now + timedelta(hours=2), warn_within=timedelta(0))
    got = {(w.ticket_no, w.kind) for w in warnings}
    assert got == {("A", "sign"), ("B", "contact")}
    assert not any(w.overdue for w in warnings)
    assert {(w.ticket_no, w.kind) for w in overdue} == {("A", "sign"), ("B", "contact")}
    assert all(w.overdue for w in overdue)
    assert fresh not in {w.ticket_id for w in warnings}
