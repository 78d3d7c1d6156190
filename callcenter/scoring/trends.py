"""Month-on-month change of counts (环比), for the top categories of the analysis."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping


@dataclass(frozen=True)
class Trend:
    key: str
    count: int
    previous: int

    @property
    def change(self) -> int:
        return self.count - self.previous

    @property
    def change_ratio(self) -> Fraction | None:
        """环比 as a fraction of last month (None when last month had none)."""
        return Fraction(self.change, self.previous) if self.previous else None


def top_with_change(current: Mapping[str, int], previous: Mapping[str, int], top: int = 10) -> list[Trend]:
    """The ``top`` keys by current count (ties by name), each with last period's count."""
    ordered = sorted(current.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [Trend(k, v, previous.get(k, 0)) for k, v in ordered]
