"""Which answers count for a ticket: our own callback, else the city's imported result.

This is the pure twin of ``scoring_refresh`` in schema/0003_scoring.sql (the
SQL keeps table ``ticket_scores`` current); the two must agree rule for rule,
and tests/test_scoring_sql_agreement.py checks that they do on random data.

* Our callback counts when an attempt has an understood answer to all three
  questions, taking the newest version of each (a supervisor's correction is a
  new version; the citizen's version 1 stays on record).  The latest such
  attempt wins, and its answer time places the ticket in a period.
* Otherwise the city's columns count, when they all parse and the city did not
  mark the callback ineffective; they are placed by the city's 回访时间 when the
  file had one, else by 办结时间 (else 来电时间).
* Otherwise the ticket is 回访不成功 (status callback_failed, or the city said
  是否有效回访 = 否), or still pending.  Those are placed by 办结时间, else 来电时间.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

RATE_QUESTIONS = ("contacted", "solved", "satisfaction")
CONTACTED = ("yes", "no")
SOLVED = ("solved", "partly", "unsolved")
SATISFACTION = ("satisfied", "basic", "dissatisfied")

#: The city's export wording → our intents (same table as scoring_city_* in SQL).
CITY_CONTACTED = {"是": "yes", "已联系": "yes", "否": "no", "未联系": "no"}
CITY_SOLVED = {"是": "solved", "已解决": "solved", "部分解决": "partly", "否": "unsolved", "未解决": "unsolved"}
CITY_SATISFIED = {"满意": "satisfied", "基本满意": "basic", "不满意": "dissatisfied"}

#: Chinese labels for reports.
INTENT_LABELS = {"yes": "是", "no": "否", "solved": "已解决", "partly": "部分解决", "unsolved": "未解决",
                 "satisfied": "满意", "basic": "基本满意", "dissatisfied": "不满意"}
SOURCE_LABELS = {"own": "本街道回访", "city": "市级回访", "failed": "回访不成功", "pending": "待回访"}


@dataclass(frozen=True)
class AnswerVersion:
    question: str
    version: int
    intent: str | None


@dataclass(frozen=True)
class AttemptFacts:
    attempt_id: str
    attempt_no: int
    created_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    dialed_at: datetime | None = None
    answers: tuple[AnswerVersion, ...] = ()

    @property
    def at(self) -> datetime:
        return self.answered_at or self.ended_at or self.dialed_at or self.created_at


@dataclass(frozen=True)
class TicketFacts:
    """What a ticket row and its callback attempts say, before any rule set applies."""
    ticket_id: int
    called_at: datetime
    category_l1: str
    closed_at: datetime | None = None
    status: str = "received"
    ticket_type: str = "诉求"
    city_effective_callback: bool | None = None
    city_contacted: str = ""
    city_solved: str = ""
    city_satisfied: str = ""
    city_callback_at: datetime | None = None
    department_id: int | None = None
    community_id: int | None = None
    attempts: tuple[AttemptFacts, ...] = field(default=())


@dataclass(frozen=True)
class Outcome:
    """A ticket's resolved answers (one ``ticket_scores`` row)."""
    ticket_id: int
    scored_at: datetime
    source: str                 # own | city | failed | pending
    consult: bool
    contacted: str | None
    solved: str | None
    satisfaction: str | None
    department_id: int | None
    community_id: int | None
    category_l1: str
    attempt_id: str | None = None

    @property
    def effective(self) -> bool:
        """有效回访: the citizen was reached and answered all three questions."""
        return self.source in ("own", "city")


def latest_intents(attempt: AttemptFacts) -> dict[str, str | None]:
    """The newest version's intent of each rate question answered in this attempt."""
    newest: dict[str, AnswerVersion] = {}
    for answer in attempt.answers:
        if answer.question in RATE_QUESTIONS:
            kept = newest.get(answer.question)
            if kept is None or answer.version > kept.version:
                newest[answer.question] = answer
    return {q: a.intent for q, a in newest.items()}


def _complete(intents: dict[str, str | None]) -> bool:
    return (intents.get("contacted") in CONTACTED and intents.get("solved") in SOLVED
            and intents.get("satisfaction") in SATISFACTION)


def own_callback(facts: TicketFacts) -> tuple[AttemptFacts, dict[str, str | None]] | None:
    """The latest attempt with all three questions understood, and its answers."""
    for attempt in sorted(facts.attempts, key=lambda a: a.attempt_no, reverse=True):
        intents = latest_intents(attempt)
        if _complete(intents):
            return attempt, intents
    return None


def city_answers(facts: TicketFacts) -> dict[str, str] | None:
    """The city's result columns as intents, or None when they are not a usable effective callback.

    Only spaces are trimmed, exactly as SQL ``btrim`` does.
    """
    if facts.city_effective_callback is False:
        return None
    answers = {"contacted": CITY_CONTACTED.get(facts.city_contacted.strip(" ")),
               "solved": CITY_SOLVED.get(facts.city_solved.strip(" ")),
               "satisfaction": CITY_SATISFIED.get(facts.city_satisfied.strip(" "))}
    return answers if all(answers.values()) else None  # type: ignore[return-value]


def resolve(facts: TicketFacts) -> Outcome:
    """Decide where a ticket's answers come from, what they are, and when it is scored."""
    common = dict(ticket_id=facts.ticket_id, consult=facts.ticket_type == "咨询",
                  department_id=facts.department_id, community_id=facts.community_id,
                  category_l1=facts.category_l1)
    fallback_at = facts.closed_at or facts.called_at
    own = own_callback(facts)
    if own is not None:
        attempt, intents = own
        return Outcome(scored_at=attempt.at, source="own", attempt_id=attempt.attempt_id,
                       contacted=intents["contacted"], solved=intents["solved"],
                       satisfaction=intents["satisfaction"], **common)
    city = city_answers(facts)
    if city is not None:
        return Outcome(scored_at=facts.city_callback_at or fallback_at, source="city", contacted=city["contacted"],
                       solved=city["solved"], satisfaction=city["satisfaction"], **common)
    failed = facts.status == "callback_failed" or facts.city_effective_callback is False
    return Outcome(scored_at=fallback_at, source="failed" if failed else "pending",
                   contacted=None, solved=None, satisfaction=None, **common)
