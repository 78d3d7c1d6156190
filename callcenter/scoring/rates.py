"""响应率 / 解决率 / 满意率 and the composite score, exactly.

Rates are :class:`fractions.Fraction`: a quotient like 2/3 has no exact
Decimal, and the city's published figure is rounded once, at display (two
decimals, percent, half up).  :func:`display` does that rounding; nothing else
rounds.  The SQL path (callcenter.db.scoring) returns the same :class:`Counts`
and goes through :func:`rates` too, so both paths share one formula.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields
from decimal import Decimal
from fractions import Fraction
from typing import Callable, Hashable, Iterable, Mapping

from .answers import Outcome
from .periods import Calendar, report_day
from .rules import RuleSet

BASES = ("all", "excluded")
BASIS_LABELS = {"all": "全口径", "excluded": "剔除后"}
RATE_LABELS = {"response": "响应率", "solved": "解决率", "satisfied": "满意率", "composite": "综合成绩"}


@dataclass(frozen=True)
class Counts:
    """Tallies of one group: every number a rate needs, and nothing rule-dependent but membership."""
    volume: int = 0        # tickets placed in the period (any state)
    n: int = 0             # the denominator: effective callbacks that count
    contacted: int = 0
    solved: int = 0
    partly: int = 0
    satisfied: int = 0
    basic: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Counts)))

    def __sub__(self, other: "Counts") -> "Counts":
        return Counts(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(Counts)))


@dataclass(frozen=True)
class Rates:
    counts: Counts
    response: Fraction | None      # None: no effective callback, nothing to rate
    solved: Fraction | None
    satisfied: Fraction | None
    composite: Fraction | None     # in points (0–100)


def counted(outcome: Outcome, rule_set: RuleSet) -> bool:
    """Whether a ticket is in the denominator under ``rule_set`` (before appeals)."""
    if outcome.consult and rule_set.exclude_consult:
        return False
    return outcome.effective or (outcome.source == "failed" and not rule_set.exclude_failed)


def contribution(outcome: Outcome, rule_set: RuleSet) -> tuple[Fraction, Fraction, Fraction]:
    """What one counted ticket adds to the 响应 / 解决 / 满意 numerators (depends on it alone)."""
    response = Fraction(1) if outcome.contacted == "yes" else Fraction(0)
    solved = {"solved": Fraction(1), "partly": Fraction(rule_set.partly_counts_as)}.get(outcome.solved or "", Fraction(0))
    satisfied = {"satisfied": Fraction(1), "basic": Fraction(rule_set.k)}.get(outcome.satisfaction or "", Fraction(0))
    return response, solved, satisfied


def tally_one(outcome: Outcome, rule_set: RuleSet, excluded: bool = False) -> Counts:
    if excluded or not counted(outcome, rule_set):
        return Counts(volume=1)
    return Counts(volume=1, n=1, contacted=int(outcome.contacted == "yes"),
                  solved=int(outcome.solved == "solved"), partly=int(outcome.solved == "partly"),
                  satisfied=int(outcome.satisfaction == "satisfied"), basic=int(outcome.satisfaction == "basic"))


def tally(outcomes: Iterable[Outcome], rule_set: RuleSet, excluded_ids: frozenset[int] = frozenset()) -> Counts:
    """Counts of a set of tickets; ``excluded_ids`` (核减) stay in the volume but leave the rates."""
    volume = 0
    answers: Counter[Pattern] = Counter()
    for o in outcomes:           # plain counters: this runs over a whole month of tickets
        volume += 1
        if o.ticket_id not in excluded_ids and counted(o, rule_set):
            answers[(o.contacted, o.solved, o.satisfaction)] += 1
    return counts_from_patterns(volume, answers)


#: (contacted, solved, satisfaction) of a counted ticket.
Pattern = tuple[str | None, str | None, str | None]


def counts_from_patterns(volume: int, answers: Mapping[Pattern, int]) -> Counts:
    """Counts from how many counted tickets gave each answer pattern (the SQL path returns these too)."""
    by = lambda pick, value: sum(n for key, n in answers.items() if key[pick] == value)  # noqa: E731
    return Counts(volume=volume, n=sum(answers.values()), contacted=by(0, "yes"), solved=by(1, "solved"),
                  partly=by(1, "partly"), satisfied=by(2, "satisfied"), basic=by(2, "basic"))


def numerators(counts: Counts, rule_set: RuleSet) -> tuple[Fraction, Fraction, Fraction]:
    return (Fraction(counts.contacted),
            counts.solved + Fraction(rule_set.partly_counts_as) * counts.partly,
            counts.satisfied + Fraction(rule_set.k) * counts.basic)


def rates(counts: Counts, rule_set: RuleSet) -> Rates:
    """The three rates and the composite, exact; all None when nothing counts."""
    if counts.n == 0:
        return Rates(counts, None, None, None, None)
    response, solved, satisfied = (x / counts.n for x in numerators(counts, rule_set))
    composite = (Fraction(rule_set.w_response) * response + Fraction(rule_set.w_solved) * solved
                 + Fraction(rule_set.w_satisfied) * satisfied) * 100
    return Rates(counts, response, solved, satisfied, composite)


def round_half_up(value: Fraction, places: int = 2) -> Decimal:
    """Exact half-up rounding of a Fraction (no float, no intermediate Decimal rounding)."""
    scale = 10 ** places
    scaled = abs(value) * scale
    whole = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    result = Decimal(whole).scaleb(-places)
    return -result if value < 0 else result


def display(value: Fraction | None, *, percent: bool = True) -> Decimal | None:
    """As the city shows it: a rate in percent (or points), two decimals, half up."""
    if value is None:
        return None
    return round_half_up(value * 100 if percent else value, 2)


def shown(r: Rates) -> dict[str, Decimal | None]:
    """The four displayed figures of a :class:`Rates` (rates in %, composite in points)."""
    return {"response": display(r.response), "solved": display(r.solved),
            "satisfied": display(r.satisfied), "composite": display(r.composite, percent=False)}


GROUPINGS = ("street", "department", "community", "category", "day")


def group_key(grouping: str, cal: Calendar = Calendar()) -> Callable[[Outcome], Hashable]:
    """The key a ticket is grouped by (the same keys the SQL path returns)."""
    keys: Mapping[str, Callable[[Outcome], Hashable]] = {
        "street": lambda o: None,
        "department": lambda o: o.department_id,
        "community": lambda o: o.community_id,
        "category": lambda o: o.category_l1,
        "day": lambda o: report_day(o.scored_at, cal),
    }
    if grouping not in keys:
        raise ValueError(f"unknown grouping {grouping!r}; choose from {', '.join(GROUPINGS)}")
    return keys[grouping]


def group_tally(outcomes: Iterable[Outcome], grouping: str, rule_set: RuleSet,
                excluded_ids: frozenset[int] = frozenset(), cal: Calendar = Calendar()) -> dict[Hashable, Counts]:
    key = group_key(grouping, cal)
    groups: dict[Hashable, Counts] = {}
    for o in outcomes:
        k = key(o)
        groups[k] = groups.get(k, Counts()) + tally_one(o, rule_set, o.ticket_id in excluded_ids)
    return groups

