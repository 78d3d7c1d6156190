"""Call outcomes from what the PBX reports, and what happens next.

Asterisk tells us how an unanswered Originate ended through
``OriginateResponse.Reason`` and the hangup cause; an answered call's outcome
comes from what the IVR stored.  See ../shared/asterisk for the real shapes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from .windows import CallingWindows


class Outcome(str, Enum):
    ANSWERED_COMPLETE = "answered-complete"
    ANSWERED_PARTIAL = "answered-partial"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    INVALID_NUMBER = "invalid-number"
    REFUSED = "refused"


# Q.850 causes that mean the number itself is wrong: never retry it.
_INVALID_CAUSES = {1, 3, 22, 28}
_BUSY_CAUSES = {17}
_NO_ANSWER_CAUSES = {18, 19, 21}   # 21 Call Rejected: the citizen pressed "decline" — try again later


def outcome_of_unanswered(reason: int | None, cause: int | None) -> Outcome:
    """Classify a failed Originate from its Reason (0,1,3,5,8) and the hangup cause if any.

    ``invalid-number`` is final (the citizen is never called again), so it is
    given only when the PBX said so for this very call: a hang-up cause that
    means the number is wrong.  Reason 0 alone is ambiguous (a rejected call, a
    missing route, and a call lost to a PBX restart all report it) and counts
    as ``failed``, which is retried.
    """
    if cause in _INVALID_CAUSES:
        return Outcome.INVALID_NUMBER
    if reason == 5 or cause in _BUSY_CAUSES:
        return Outcome.BUSY
    if reason in (1, 3) or cause in _NO_ANSWER_CAUSES:
        return Outcome.NO_ANSWER
    return Outcome.FAILED                  # 8 congestion, a lost link or restart, anything unexplained


#: Outcomes after which the ticket is done, whatever attempts remain.
FINAL = frozenset({Outcome.ANSWERED_COMPLETE, Outcome.INVALID_NUMBER, Outcome.REFUSED})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    delays: dict[Outcome, timedelta] = field(default_factory=lambda: {
        Outcome.BUSY: timedelta(minutes=30),
        Outcome.NO_ANSWER: timedelta(hours=2),
        Outcome.FAILED: timedelta(hours=1),
        Outcome.ANSWERED_PARTIAL: timedelta(hours=2),
    })
    no_answer_elsewhere: bool = True      # retry an unanswered citizen in another window segment

    def __post_init__(self):
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


@dataclass(frozen=True)
class NextStep:
    retry_at: datetime | None      # None: no more attempts for this ticket
    ticket_action: str | None      # flow action for the ticket: callback_done, callback_failed, or None (retry)

    def __post_init__(self):
        if self.retry_at is not None and self.ticket_action is not None:
            raise ValueError("a step retries or moves the ticket on, not both")   # db.dialer.settle relies on it


def next_step(outcome: Outcome, attempt_no: int, ended_at: datetime,
              policy: RetryPolicy, windows: CallingWindows) -> NextStep:
    """Decide what follows an attempt: a retry (when, inside the windows) or the end.

    A citizen who was reached and answered part of the survey is 已回访 once
    attempts run out (their answers count); everyone never reached, refusing,
    or on a wrong number is 回访不成功, which leaves the rates' denominator.
    """
    if outcome is Outcome.ANSWERED_COMPLETE:
        return NextStep(None, "callback_done")
    if outcome in FINAL or attempt_no >= policy.max_attempts:
        reached = outcome is Outcome.ANSWERED_PARTIAL
        return NextStep(None, "callback_done" if reached else "callback_failed")
    earliest = ended_at + policy.delays.get(outcome, timedelta(hours=1))
    # A citizen who did not pick up is tried at another time of day, as the city does.
    avoid = ended_at if outcome is Outcome.NO_ANSWER and policy.no_answer_elsewhere else None
    return NextStep(windows.next_open(earliest, skip_segment_of=avoid), None)
