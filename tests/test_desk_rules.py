"""The desk's pure rules: which robot results go to people, and who holds a ticket when."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from callcenter.desk.escalation import Answer, EscalationRules, escalation_reason
from callcenter.desk.lease import Hold, holder, may_call, may_claim

T0 = datetime(2024, 5, 1, 2, tzinfo=timezone.utc)
DEFAULT = EscalationRules()


@pytest.mark.parametrize("outcome,attempts,answers,expected", [
    ("no-answer", 2, {}, None),                     # the robot still has attempts to make
    ("no-answer", 3, {}, "unreached"),
    ("busy", 4, {}, "unreached"),
    ("failed", 3, {}, "unreached"),
    ("refused", 1, {}, "refused"),
    ("answered-partial", 1, {"contacted": Answer("yes")}, "partial"),
    ("answered-complete", 1, {"contacted": Answer("yes"), "solved": Answer("solved"),
                              "satisfaction": Answer("dissatisfied")}, "dissatisfied"),
    ("answered-partial", 1, {"satisfaction": Answer("dissatisfied")}, "dissatisfied"),
    ("answered-complete", 1, {"contacted": Answer("yes"), "solved": Answer("solved"),
                              "satisfaction": Answer("satisfied", needs_review=True)}, "low-confidence"),
    ("answered-complete", 1, {"contacted": Answer("yes"), "solved": Answer("solved"),
                              "satisfaction": Answer("satisfied")}, None),
    ("invalid-number", 1, {}, None),
])
def test_default_rules(outcome, attempts, answers, expected):
    assert escalation_reason(DEFAULT, outcome=outcome, robot_attempts=attempts, answers=answers) == expected


def test_a_campaign_turns_rules_off():
    off = EscalationRules(unreached_after=None, partial=False, refused=False, dissatisfied=False,
                          low_confidence=False)
    for outcome in ("no-answer", "refused", "answered-partial"):
        assert escalation_reason(off, outcome=outcome, robot_attempts=9,
                                 answers={"satisfaction": Answer("dissatisfied", True)}) is None
    disabled = EscalationRules(enabled=False)
    assert escalation_reason(disabled, outcome="refused", robot_attempts=1, answers={}) is None
    assert escalation_reason(EscalationRules(unreached_after=1), outcome="busy", robot_attempts=1,
                             answers={}) == "unreached"


def test_lease_lapses_unless_a_call_is_up():
    hold = Hold("a", T0 + timedelta(seconds=90))
    assert holder(hold, T0) == "a"
    assert not may_claim(hold, "b", T0) and may_claim(hold, "a", T0)
    assert holder(hold, T0 + timedelta(seconds=90)) is None
    assert may_claim(hold, "b", T0 + timedelta(seconds=91))
    calling = Hold("a", T0, call_live=True)
    assert holder(calling, T0 + timedelta(hours=1)) == "a"
    assert not may_claim(calling, "b", T0 + timedelta(hours=1))
    assert may_call(hold, "a", T0) and not may_call(hold, "b", T0) and not may_call(calling, "a", T0)
