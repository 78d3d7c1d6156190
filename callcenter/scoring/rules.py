"""Dated rule sets: the 基本满意 factor k, the composite weights, and what is excluded.

The city changes these, so each rule set carries the date it takes effect and a
period is always scored with the rule set in force on the period's first day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Sequence


class RuleSetError(ValueError):
    """A rule set that cannot be used (weights not summing to 1, k out of range, …)."""


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
