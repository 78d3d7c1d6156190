"""Which tickets cost a unit its points, and what granting the pending appeals would change.

Every counted ticket holds 1/n of each rate.  What it loses on a rate is
(1 − its contribution)/n × 100 percentage points, so the losses of all tickets
add up exactly to 100 − the rate: nothing is left unexplained.  Its cost to
the composite is the weighted sum of those losses.

The groups of one rate (不满意 / 基本满意; 未解决 / 部分解决; 未联系) partition the
tickets that lose on that rate, and a group costs the composite only its own
rate loss × that rate's weight.  So the groups plus 回访不成功 add up exactly to
100 − 综合成绩 (tests/test_scoring_properties.py checks it on random months);
a ticket that is both 不满意 and 未解决 is counted once per rate, never twice.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Mapping

from .answers import Outcome
from .rates import RATE_LABELS, Counts, Rates, contribution, counted, display, rates, tally, tally_one
from .rules import RuleSet


@dataclass(frozen=True)
class TicketCost:
    ticket_id: int
    category_l1: str
    response: Fraction         # percentage points of 响应率 lost
    solved: Fraction
    satisfied: Fraction
    composite: Fraction        # points of 综合成绩 lost


@dataclass(frozen=True)
class CostGroup:
    label: str                 # 不满意, 未解决, …
    rate: str                  # response | solved | satisfied | composite
    ticket_ids: tuple[int, ...]
    points: Fraction           # lost on ``rate``
    composite_points: Fraction
    by_category: tuple[tuple[str, int], ...]

    def sentence(self) -> str:
        """E.g. "这 7 件不满意工单使满意率损失 2.31 个百分点，其中 5 件属于物业管理"."""
        text = (f"这 {len(self.ticket_ids)} 件{self.label}工单使{RATE_LABELS[self.rate]}损失 "
                f"{display(self.points, percent=False)} 个百分点（综合成绩 {display(self.composite_points, percent=False)} 分）")
        if self.by_category:
            category, count = self.by_category[0]
            text += f"，其中 {count} 件属于{category}"
        return text


@dataclass(frozen=True)
class WhatIf:
    label: str
    rates: Rates
    composite_change: Fraction | None


@dataclass(frozen=True)
class Explanation:
    rates: Rates
    groups: tuple[CostGroup, ...]
    costliest: tuple[TicketCost, ...]
    what_ifs: tuple[WhatIf, ...]


def ticket_costs(outcomes: Iterable[Outcome], rule_set: RuleSet,
                 excluded_ids: frozenset[int] = frozenset()) -> list[TicketCost]:
    """The points each counted ticket costs (tickets that cost nothing are included, at zero)."""
    scored = [o for o in outcomes if o.ticket_id not in excluded_ids and counted(o, rule_set)]
    n = len(scored)
    weights = (Fraction(rule_set.w_response), Fraction(rule_set.w_solved), Fraction(rule_set.w_satisfied))
    by_answers: dict[tuple, tuple[Fraction, ...]] = {}   # a month has ~20 distinct answer patterns
    costs = []
    for o in scored:
        key = (o.source, o.contacted, o.solved, o.satisfaction)
        if key not in by_answers:
            lost = [(1 - c) * 100 / n for c in contribution(o, rule_set)]
            by_answers[key] = (*lost, sum((w * x for w, x in zip(weights, lost)), Fraction(0)))
        costs.append(TicketCost(o.ticket_id, o.category_l1, *by_answers[key]))
    return costs


# (label, rate it costs, which outcomes belong)
_GROUPS = (
    ("不满意", "satisfied", lambda o: o.satisfaction == "dissatisfied"),
    ("基本满意", "satisfied", lambda o: o.satisfaction == "basic"),
    ("未解决", "solved", lambda o: o.solved == "unsolved"),
    ("部分解决", "solved", lambda o: o.solved == "partly"),
    ("未联系", "response", lambda o: o.contacted == "no"),
    ("回访不成功", "composite", lambda o: o.source == "failed"),
)


def explain(outcomes: Iterable[Outcome], rule_set: RuleSet, *, excluded_ids: frozenset[int] = frozenset(),
            pending_appeal_ids: frozenset[int] = frozenset(), top: int = 10,
            labels: Mapping[int, str] | None = None) -> Explanation:
    """The cost groups, the ``top`` costliest tickets, and the what-if of granting pending appeals.

    ``labels`` names tickets (工单编号) in the what-if lines; the id is used otherwise.
    """
    labels = labels or {}
    outcomes = list(outcomes)
    by_id: Mapping[int, Outcome] = {o.ticket_id: o for o in outcomes}
    costs = ticket_costs(outcomes, rule_set, excluded_ids)
    groups = []
    for label, rate, member in _GROUPS:
        members = [c for c in costs if member(by_id[c.ticket_id])]
        points = sum((c.composite if rate == "composite" else getattr(c, rate) for c in members), Fraction(0))
        if not members or points == 0:
            continue
        categories = Counter(c.category_l1 for c in members).most_common()
        groups.append(CostGroup(label, rate, tuple(c.ticket_id for c in members), points,
                                points * _weight(rule_set, rate), tuple(categories)))
    groups.sort(key=lambda g: (-g.composite_points, g.label))
    costliest = sorted((c for c in costs if c.composite > 0), key=lambda c: (-c.composite, c.ticket_id))[:top]
    counts = tally(outcomes, rule_set, excluded_ids)
    current = rates(counts, rule_set)
    what_ifs = []
    pending = frozenset(pending_appeal_ids) - excluded_ids
    if pending:
        granted = rates(tally(outcomes, rule_set, excluded_ids | pending), rule_set)
        what_ifs.append(WhatIf(f"待审申诉 {len(pending)} 件全部通过(核减)", granted, _change(granted, current)))
        for ticket_id in sorted(pending & by_id.keys()):
            # Removing one ticket changes nothing but its own tally (see test_scoring_properties).
            one = rates(counts - tally_one(by_id[ticket_id], rule_set) + Counts(volume=1), rule_set)
            what_ifs.append(WhatIf(f"工单 {labels.get(ticket_id, ticket_id)} 申诉通过", one, _change(one, current)))
    return Explanation(current, tuple(groups), tuple(costliest), tuple(what_ifs))


def _weight(rule_set: RuleSet, rate: str) -> Fraction:
    """What one point of ``rate`` is worth in the composite (回访不成功 is already in composite points)."""
    if rate == "composite":
        return Fraction(1)
    return Fraction({"response": rule_set.w_response, "solved": rule_set.w_solved,
                     "satisfied": rule_set.w_satisfied}[rate])


def _change(after: Rates, before: Rates) -> Fraction | None:
    if after.composite is None or before.composite is None:
        return None
    return after.composite - before.composite
