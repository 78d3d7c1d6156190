"""Spike detection (pure): a unit's count today (or this week) against its own trailing baseline.

The rule (docs/alerts.md has a worked example):
- baseline rate λ = (tickets in the trailing window + 0.5) / (periods in the window): the unit's own
  mean per day (or per week), with half a ticket added so a unit with an empty history is not
  infinitely surprised by its first ticket;
- a warning fires when the period's count n is at least ``min_count`` **and** the Poisson upper
  tail P(X ≥ n | λ) is below ``p_value`` (0.01).
With λ = 1/day, n = 5 has p = 0.0037: five in a day fires; four (p = 0.019) does not.
A street-level warning is not raised for a category when a community warning of the same
category already fired in that period: the community one names the place.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

P_VALUE = 0.01
DAILY_WINDOW = 28         # days of baseline
WEEKLY_WINDOW = 8         # weeks of baseline
PRIOR = 0.5


def poisson_tail(n: int, lam: float) -> float:
    """P(X ≥ n) for X ~ Poisson(λ)."""
    if n <= 0:
        return 1.0
    term = math.exp(-lam)
    below = term
    for k in range(1, n):
        term *= lam / k
        below += term
    return max(0.0, 1.0 - below)


@dataclass(frozen=True)
class Spike:
    level: str                # community | street
    category: str
    unit: str                 # community name, or the street's name
    count: int
    baseline: float           # λ per period
    p: float

    def reason(self, period: str) -> str:
        return (f"{self.unit}「{self.category}」{period}{self.count} 件, 本单位此前平均每{period[-1]} "
                f"{self.baseline:.2f} 件; 泊松上尾概率 p = {self.p:.2g} < {P_VALUE}")


def detect(current: Mapping[tuple[str, str], int], history: Mapping[tuple[str, str], int], periods: int, *,
           level: str, min_count: int, p_value: float = P_VALUE) -> list[Spike]:
    """``current``/``history``: (category, unit) → count this period / over the ``periods`` before it."""
    spikes = []
    for key, n in current.items():
        if n < min_count:
            continue
        lam = (history.get(key, 0) + PRIOR) / periods
        p = poisson_tail(n, lam)
        if p < p_value:
            spikes.append(Spike(level, key[0], key[1], n, lam, p))
    return sorted(spikes, key=lambda s: (s.p, s.category, s.unit))


def detect_both(community_now, community_hist, street_now, street_hist, periods: int, *, min_count: int,
                p_value: float = P_VALUE) -> list[Spike]:
    """Community spikes, then street spikes of categories no community spike explains."""
    local = detect(community_now, community_hist, periods, level="community", min_count=min_count,
                   p_value=p_value)
    explained = {s.category for s in local}
    wide = [s for s in detect(street_now, street_hist, periods, level="street", min_count=min_count,
                              p_value=p_value) if s.category not in explained]
    return local + wide


def summed(rows: Sequence[tuple[str, str, int]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for category, unit, n in rows:
        out[(category, unit)] = out.get((category, unit), 0) + n
    return out
