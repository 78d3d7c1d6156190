"""Deadline judgement and action forms of the ticket page (pure functions)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from callcenter.ledger.flow import Action
from callcenter.web.tickets.ticket_view import action_forms, deadline_views

T0 = datetime(2024, 5, 1, 9, tzinfo=timezone.utc)


def ticket(status: str, **overrides):
    row = {"status": status, "sign_due_at": T0 + timedelta(hours=2), "contact_due_at": T0 + timedelta(hours=24),
           "close_due_at": T0 + timedelta(days=7), "extended_due_at": None, "signed_at": None,
           "first_contact_at": None}
    row.update(overrides)
    return row


def by_label(views):
    return {v.label.split("(")[0]: v for v in views}


def test_pending_then_overdue_while_the_step_is_open():
    before = by_label(deadline_views(ticket("received"), [], T0 + timedelta(hours=1)))
    after = by_label(deadline_views(ticket("received"), [], T0 + timedelta(hours=3)))
    assert (before["签收"].status, before["签收"].overdue) == ("未到期", False)
    assert (after["签收"].status, after["签收"].overdue) == ("已超期", True)
    assert after["首次联系"].status == "无"          # contact does not run before signing


def test_met_late_is_still_marked_overdue_and_met_in_time_is_not():
    late = ticket("handling", signed_at=T0 + timedelta(hours=5), first_contact_at=T0 + timedelta(hours=1))
    views = by_label(deadline_views(late, [], T0 + timedelta(days=30)))
    assert (views["签收"].status, views["签收"].overdue) == ("超期完成", True)
    assert (views["首次联系"].status, views["首次联系"].overdue) == ("按时完成", False)
    assert views["办结"].status == "已超期"


def test_closure_is_judged_by_the_feedback_time_and_an_extension_moves_it():
    events = [{"to_state": "feedback", "at": T0 + timedelta(days=8)}]
    closed = by_label(deadline_views(ticket("awaiting_callback"), events, T0 + timedelta(days=40)))
    assert closed["办结"].status == "超期完成"
    extended = ticket("awaiting_callback", extended_due_at=T0 + timedelta(days=15))
    views = deadline_views(extended, events, T0 + timedelta(days=40))
    assert views[2].label == "办结(已延期)" and views[2].status == "按时完成"


def test_forms_follow_the_flow_and_the_role():
    agent = {f.action for f in action_forms("feedback", "agent")}
    boss = {f.action for f in action_forms("feedback", "supervisor")}
    assert agent == set() and boss == {Action.REVIEW_PASS, Action.REVIEW_REJECT}
    dispatch = next(f for f in action_forms("signed", "agent") if f.action is Action.DISPATCH)
    assert dispatch.needs_unit and not dispatch.needs_reason
    assert next(f for f in action_forms("handling", "admin") if f.action is Action.EXTEND).needs_deadline
