"""Dated rule sets: the 基本满意 factor k, the composite weights, what is excluded, and the answer labels.

The city changes these, so each rule set carries the date it takes effect and a
period is always scored with the rule set in force on the period's first day.

Answer labels are data too: the city's files write 基本解决, 比较满意, 已联系 …
Each rule set maps every label it accepts to one of the answers it credits
(是/否; 已解决/部分解决/未解决; 满意/基本满意/不满意).  The credit of an answer is
the rule set's: 部分解决 counts ``partly_counts_as`` of a 已解决 (so 基本解决 does
too, unless the table maps it elsewhere), 基本满意 counts ``k`` of a 满意.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Mapping, Sequence


class RuleSetError(ValueError):
    """A rule set that cannot be used (weights not summing to 1, k out of range, …)."""


#: The answers a rule set credits, per question (what the ledger stores).
ANSWERS: Mapping[str, tuple[str, ...]] = {
    "contacted": ("是", "否"),
    "solved": ("已解决", "部分解决", "未解决"),
    "satisfied": ("满意", "基本满意", "不满意"),
}
QUESTION_LABELS = {"contacted": "是否联系", "solved": "是否解决", "satisfied": "是否满意"}

#: (question, label in the city's file, the answer it is) — the default rule set's table.
DEFAULT_ANSWER_LABELS: tuple[tuple[str, str, str], ...] = (
    ("contacted", "已联系", "是"), ("contacted", "未联系", "否"),
    ("solved", "解决", "已解决"), ("solved", "是", "已解决"), ("solved", "否", "未解决"),
    ("solved", "基本解决", "部分解决"),
    ("satisfied", "是", "满意"), ("satisfied", "否", "不满意"), ("satisfied", "非常满意", "满意"),
    ("satisfied", "比较满意", "基本满意"),
)


@dataclass(frozen=True)
class RuleSet:
    name: str
    effective_from: date
    k: Decimal                       # 基本满意 counts as k of a 满意
    w_response: Decimal
    w_solved: Decimal
    w_satisfied: Decimal
    partly_counts_as: Decimal = Decimal(0)   # 部分解决 counts as this much of a 已解决
    exclude_consult: bool = True             # 咨询 tickets leave the assessment
    exclude_failed: bool = True              # 回访不成功 leaves the denominator
    note: str = ""
    id: int | None = None
    answer_labels: tuple[tuple[str, str, str], ...] = DEFAULT_ANSWER_LABELS

    def accepted(self, question: str) -> dict[str, str]:
        """Every label this rule set accepts for ``question`` → the answer it is."""
        table = {answer: answer for answer in ANSWERS[question]}
        table.update({label: answer for q, label, answer in self.answer_labels if q == question})
        return table

    def answer(self, question: str, text: str) -> str:
        """The answer a cell means ('' stays ''); :class:`RuleSetError` naming the accepted labels."""
        label = text.replace(" ", "")
        if not label:
            return ""
        table = self.accepted(question)
        if label not in table:
            raise RuleSetError(f"无效取值 “{label}”, 可选: {'/'.join(table)}")
        return table[label]

    def describe(self) -> str:
        """One line naming the rule set, for every report's header."""
        weights = "/".join(_plain(w * 100) for w in (self.w_response, self.w_solved, self.w_satisfied))
        return (f"{self.name} (自 {self.effective_from.isoformat()} 起; k={_plain(self.k)}; "
                f"权重 响应/解决/满意 = {weights}; 部分解决计 {_plain(self.partly_counts_as)})")


def _plain(value: Decimal) -> str:
    """10.00 → "10", 0.90 → "0.9": how people write weights."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def validate(rule_set: RuleSet) -> RuleSet:
    """Raise :class:`RuleSetError` listing every problem; return the rule set when it is sound."""
    problems = []
    if not rule_set.name.strip():
        problems.append("name is empty")
    if not Decimal(0) <= rule_set.k <= Decimal(1):
        problems.append(f"k = {rule_set.k} must be between 0 and 1")
    if not Decimal(0) <= rule_set.partly_counts_as <= Decimal(1):
        problems.append(f"partly_counts_as = {rule_set.partly_counts_as} must be between 0 and 1")
    weights = (rule_set.w_response, rule_set.w_solved, rule_set.w_satisfied)
    if any(w < 0 for w in weights):
        problems.append("weights must not be negative")
    if sum(weights) != Decimal(1):
        problems.append(f"weights sum to {sum(weights)}, not 1")
    for question, label, answer in rule_set.answer_labels:
        if question not in ANSWERS or answer not in ANSWERS[question]:
            problems.append(f"answer label {question}:{label}={answer}: the answer must be one of "
                            f"{'/'.join(ANSWERS.get(question, ()))} (questions: {', '.join(ANSWERS)})")
        elif not label.strip():
            problems.append(f"answer label for {question} is empty")
    if problems:
        raise RuleSetError("; ".join(problems))
    return rule_set


DEFAULT_RULE_SET = RuleSet(
    name="默认 (北京)", effective_from=date(2021, 1, 1), k=Decimal("0.9"),
    w_response=Decimal("0.10"), w_solved=Decimal("0.50"), w_satisfied=Decimal("0.40"),
)


def rule_set_in_force(rule_sets: Sequence[RuleSet], day: date) -> RuleSet:
    """The newest rule set whose effective date is on or before ``day``."""
    candidates = [r for r in rule_sets if r.effective_from <= day]
    if not candidates:
        raise LookupError(f"no rule set in force on {day.isoformat()}")
    return max(candidates, key=lambda r: r.effective_from)
