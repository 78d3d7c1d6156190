"""The office report's tables from the window's tickets (pure): volumes, categories, days, hotspots,
repeat complainants.  Hotspots group tickets by normalised place (community + building,
callcenter.ledger.addresses), so one building written five ways is one hotspot; a hotspot is a
place with tickets under at least two different titles or at least ``min_tickets`` tickets."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Mapping, Sequence

from ..ledger.addresses import place_key
from ..ledger.privacy import mask_phone
from ..ledger.timezone import local_date
from ..scoring.trends import Trend, top_with_change


@dataclass(frozen=True)
class Hotspot:
    place: str
    tickets: int
    titles: int
    categories: tuple[str, ...]
    ticket_nos: tuple[str, ...]


@dataclass(frozen=True)
class RepeatCaller:
    phone: str             # masked
    name: str
    tickets: int
    categories: tuple[str, ...]


def categories(current: Iterable[Mapping[str, Any]], before: Iterable[Mapping[str, Any]], top: int = 15) -> list[Trend]:
    return top_with_change(Counter(t["category_l1"] for t in current), Counter(t["category_l1"] for t in before), top)


def per_day(tickets: Iterable[Mapping[str, Any]]) -> list[tuple[date, int]]:
    return sorted(Counter(local_date(t["called_at"]) for t in tickets).items())


def by_community(tickets: Iterable[Mapping[str, Any]], top: int = 15) -> list[tuple[str, int]]:
    return Counter(t["community_name"] or "未填写" for t in tickets).most_common(top)


def hotspots(tickets: Iterable[Mapping[str, Any]], *, min_tickets: int = 3, top: int = 20) -> list[Hotspot]:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for t in tickets:
        key = str(place_key(t["address"], t["community_name"]))
        if key:
            groups[key].append(t)
    spots = []
    for place, rows in groups.items():
        titles = len({r["title"] for r in rows})
        if len(rows) >= 2 and (titles >= 2 or len(rows) >= min_tickets):
            spots.append(Hotspot(place, len(rows), titles, tuple(sorted({r["category_l1"] for r in rows})),
                                 tuple(r["ticket_no"] for r in sorted(rows, key=lambda r: r["called_at"]))[:10]))
    return sorted(spots, key=lambda s: (-s.tickets, -s.titles, s.place))[:top]


def repeat_callers(tickets: Iterable[Mapping[str, Any]], *, min_tickets: int = 2, top: int = 20) -> list[RepeatCaller]:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for t in tickets:
        if t["caller_phone"]:
            groups[t["caller_phone"]].append(t)
    callers = [RepeatCaller(mask_phone(phone), max(r["caller_name"] for r in rows), len(rows),
                            tuple(sorted({r["category_l1"] for r in rows})))
               for phone, rows in groups.items() if len(rows) >= min_tickets]
    return sorted(callers, key=lambda c: (-c.tickets, c.phone))[:top]


def change_text(now: int, before: int) -> str:
    """环比 in the office's words: 上升 12.5% / 下降 3.0% / 持平 / (上期无数据)."""
    if before == 0:
        return "上期无工单" if now else "持平"
    ratio = (now - before) / before * 100
    if abs(ratio) < 0.05:
        return "持平"
    return f"{'上升' if ratio > 0 else '下降'} {abs(ratio):.1f}%"
