"""A citizen's answer as the IVR hears it, where it goes, and what the answers make of the call.

The runner hands each :class:`Answer` to an :class:`AnswerSink` the moment
it is understood, before the next prompt plays, so a hang-up can never lose
an answer already given.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

ANSWERED_COMPLETE = "answered-complete"
ANSWERED_PARTIAL = "answered-partial"
REFUSED = "refused"
#: Picked up, but no answer at all (hung up in the greeting, silent throughout): not reached.
NOT_REACHED = "no-answer"


@dataclass(frozen=True)
class Answer:
    question: str                       # contacted | solved | satisfaction | dissatisfaction_reason | …
    intent: str | None                  # None: heard but not understood (a supervisor decides)
    source: str                         # 'dtmf' | 'speech'
    digits: str | None = None
    transcript: str | None = None
    confidence: float | None = None
    recording_path: str | None = None
    needs_review: bool = False


class AnswerSink(Protocol):
    async def store(self, answer: Answer) -> bool:
        """Store as the citizen's version 1; False if one already existed (it is kept, never overwritten)."""


def outcome_of(complete_when: Iterable[str], answers: Iterable[Answer], forced: str | None = None) -> str:
    """answered-complete when every required question has an understood answer; else partial or not reached."""
    if forced:
        return forced
    answers = list(answers)
    understood = {a.question for a in answers if a.intent is not None}
    if all(q in understood for q in complete_when) and understood:
        return ANSWERED_COMPLETE
    return ANSWERED_PARTIAL if answers else NOT_REACHED
