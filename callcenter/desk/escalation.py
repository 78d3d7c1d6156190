"""Which robot results go to the human desk: a campaign's rule set, applied to one finished round.

Pure: the dialer's settling step hands in what it knows (the last outcome, how
many robot attempts the round made, the answers of the last attempt) and gets
back the reason a person should call, or None.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Why a ticket is on the desk, in the words the UI shows.
REASONS = {
    "unreached": "多次未接通",
    "partial": "回访未答完",
    "refused": "拒绝机器人回访",
    "dissatisfied": "不满意",
    "low-confidence": "语音答案置信度低",
    "manual": "人工指派",
    "callback-requested": "约定时间回拨",
}

_UNREACHED = frozenset({"busy", "no-answer", "failed"})


@dataclass(frozen=True)
class EscalationRules:
    """A campaign's choices; the defaults are the office's (schema/0019 mirrors them)."""
    enabled: bool = True
    unreached_after: int | None = 3      # robot attempts without reaching the citizen; None: never
    partial: bool = True
    refused: bool = True
    dissatisfied: bool = True
    low_confidence: bool = True


#: What schema/0019 allows for ``unreached_after`` (robot attempts).
UNREACHED_RANGE = (1, 10)
#: The on/off rules besides ``unreached_after``, by field name, in the words the UI and the CLI show.
SWITCH_LABELS = {"partial": "回访未答完", "refused": "拒绝机器人回访", "dissatisfied": "不满意",
                 "low_confidence": "语音答案置信度低"}


def describe(rules: EscalationRules) -> str:
    """The rule set in one line of Chinese, e.g. for ``callcenter desk rules list``."""
    if not rules.enabled:
        return "不转人工"
    parts = [f"机器人呼叫满 {rules.unreached_after} 次未接通" if rules.unreached_after is not None else "未接通不转"]
    parts += [label for key, label in SWITCH_LABELS.items() if getattr(rules, key)]
    return "转人工: " + "、".join(parts)


@dataclass(frozen=True)
class Answer:
    intent: str | None
    needs_review: bool = False     # the IVR set it: a spoken answer below CALLCENTER_ASR_REVIEW_THRESHOLD


def escalation_reason(rules: EscalationRules, *, outcome: str, robot_attempts: int,
                      answers: dict[str, Answer]) -> str | None:
    """The reason to hand this ticket to a person once the robot is done with it, or None.

    The citizen's own words come first: dissatisfaction outranks a partial
    survey, which outranks an unsure spoken answer.
    """
    if not rules.enabled:
        return None
    if outcome == "refused":
        return "refused" if rules.refused else None
    if outcome in _UNREACHED:
        reached_limit = rules.unreached_after is not None and robot_attempts >= rules.unreached_after
        return "unreached" if reached_limit else None
    satisfaction = answers.get("satisfaction")
    if rules.dissatisfied and satisfaction is not None and satisfaction.intent == "dissatisfied":
        return "dissatisfied"
    if outcome == "answered-partial":
        return "partial" if rules.partial else None
    if rules.low_confidence and any(a.needs_review for a in answers.values()):
        return "low-confidence"
    return None
