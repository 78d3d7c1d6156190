"""Ranking units (departments, communities) the way the city ranks streets.

Composite score descending; ties broken by ticket volume (tickets placed in
the period, whatever their state) descending; units tied on both share a rank
(1, 2, 2, 4).  Units with no effective callback have no score and come last.
Each period is scored with its own rule set, so the change against the
previous period compares two published figures, not two rule sets' opinions
of the same tickets.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Hashable, Mapping

from .rates import Counts, Rates, rates
from .rules import RuleSet


@dataclass(frozen=True)
class RankedUnit:
    key: Hashable
    name: str
    rank: int | None                  # None: nothing to rate
    rates: Rates
    previous_rank: int | None
    previous_composite: Fraction | None

    @property
    def volume(self) -> int:
        return self.rates.counts.volume

    @property
    def composite_change(self) -> Fraction | None:
        if self.rates.composite is None or self.previous_composite is None:
            return None
        return self.rates.composite - self.previous_composite

    @property
    def rank_change(self) -> int | None:
        """Places gained since the previous period (positive = moved up)."""
        if self.rank is None or self.previous_rank is None:
            return None
        return self.previous_rank - self.rank


def _ranks(scored: Mapping[Hashable, Rates]) -> dict[Hashable, int]:
    ordered = sorted(((k, r) for k, r in scored.items() if r.composite is not None),
                     key=lambda kr: (-kr[1].composite, -kr[1].counts.volume))
    ranks: dict[Hashable, int] = {}
    previous: tuple | None = None
    for position, (key, r) in enumerate(ordered, start=1):
        signature = (r.composite, r.counts.volume)
        ranks[key] = ranks[ordered[position - 2][0]] if signature == previous else position
        previous = signature
    return ranks


def rank(current: Mapping[Hashable, Counts], previous: Mapping[Hashable, Counts],
         names: Mapping[Hashable, str], rule_set: RuleSet, previous_rule_set: RuleSet) -> list[RankedUnit]:
    """Rank the units of ``current``; ``previous`` gives each one's last-period rank and score."""
    now = {k: rates(c, rule_set) for k, c in current.items()}
    before = {k: rates(c, previous_rule_set) for k, c in previous.items()}
    now_ranks, before_ranks = _ranks(now), _ranks(before)
    units = [RankedUnit(key=k, name=names.get(k, str(k)), rank=now_ranks.get(k), rates=r,
                        previous_rank=before_ranks.get(k),
                        previous_composite=before[k].composite if k in before else None)
             for k, r in now.items()]
    return sorted(units, key=lambda u: (u.rank is None, u.rank or 0, -u.volume, u.name))
