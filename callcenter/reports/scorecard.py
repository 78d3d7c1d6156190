"""The figures of one assessment period, gathered once for the CLI and the workbook.

Each period is scored with the rule set in force on its first day; 剔除后
removes tickets whose appeal was granted (核减) by ``as_of`` — by default the
moment the report runs, because the 分中心 decides appeals after the month
closes; re-running with the same ``as_of`` reproduces a report exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from typing import Hashable

from ..db import analysis
from ..db import scoring as repo
from ..db.ticket_queries import unit_names
from ..db import quality as quality_repo
from ..db import urban as urban_repo
from ..db.analysis import Compliance
from ..desk.quality import AgentFigures
from .figures import Hotspot, hotspots
from ..ledger.privacy import shown_phone
from ..scoring.explain import Explanation, explain
from ..scoring.periods import Calendar, Period, day_window, period, previous
from ..scoring.ranking import RankedUnit, rank
from ..scoring.rates import Counts, Rates, display, rates
from ..scoring.rules import RuleSet
from ..scoring.trends import Trend, top_with_change

UNASSIGNED = "未派单"
COMPLIANCE_LABELS = {"sign": "签收", "contact": "首次联系", "close": "办结"}
#: 时间未知 sits beside the rate: those tickets are outside it (unknown is not late).
COMPLIANCE_HEADERS = ["环节", "按时", "超时完成", "超时未完成", "未到期", "按时率(%)", "时间未知(不计入)"]


def on_time_rate(c: Compliance) -> Fraction | None:
    """On time ÷ due steps with a known time; None when there are none."""
    return Fraction(c.on_time, c.due) if c.due else None


def compliance_row(c: Compliance) -> list:
    """One 时限执行 row, as the CLI, the workbook and the dashboard show it."""
    return [COMPLIANCE_LABELS[c.kind], c.on_time, c.late, c.overdue, c.pending, display(on_time_rate(c)), c.unknown]


@dataclass(frozen=True)
class RateRow:
    key: Hashable
    name: str
    all: Rates          # 全口径
    excluded: Rates     # 剔除后

    def basis(self, name: str) -> Rates:
        return self.all if name == "all" else self.excluded


@dataclass(frozen=True)
class RatesTable:
    period: Period
    rule_set: RuleSet
    as_of: datetime
    grouping: str
    rows: list[RateRow]


async def _context(conn, label: str) -> tuple[Calendar, Period, RuleSet]:
    cal = await repo.load_calendar(conn)
    p = period(label, cal)
    return cal, p, await repo.rule_set_for(conn, p)


def _name(grouping: str, key: Hashable, names: dict[int, str]) -> str:
    if grouping == "street":
        return "全街道"
    if grouping in ("department", "community"):
        return names.get(key, UNASSIGNED) if key is not None else UNASSIGNED
    return key.isoformat() if isinstance(key, date) else str(key)


async def rates_table(conn, label: str, grouping: str, *, as_of: datetime | None = None) -> RatesTable:
    """Rates of every group in the period, on both bases, groups in key order."""
    as_of = as_of or datetime.now(timezone.utc)
    cal, p, rule_set = await _context(conn, label)
    groups = await repo.group_counts(conn, p.start, p.end, grouping, rule_set, as_of=as_of, cal=cal)
    names = await unit_names(conn)
    rows = [RateRow(k, _name(grouping, k, names), rates(c.all, rule_set), rates(c.excluded, rule_set))
            for k, c in groups.items()]
    rows.sort(key=lambda r: (r.key is None, str(r.key) if grouping not in ("department", "community") else r.name))
    return RatesTable(p, rule_set, as_of, grouping, rows)


@dataclass(frozen=True)
class Ranking:
    period: Period
    rule_set: RuleSet
    previous_rule_set: RuleSet
    basis: str
    units: list[RankedUnit]


async def ranking(conn, label: str, kind: str, *, basis: str = "excluded", as_of: datetime | None = None) -> Ranking:
    """Departments or communities ranked (composite, then volume), with the change since last period."""
    if kind not in ("department", "community"):
        raise ValueError("rank departments or communities")
    as_of = as_of or datetime.now(timezone.utc)
    cal, p, rule_set = await _context(conn, label)
    before = previous(p, cal)
    before_rules = await repo.rule_set_for(conn, before)
    now_counts = await repo.group_counts(conn, p.start, p.end, kind, rule_set, as_of=as_of, cal=cal)
    old_counts = await repo.group_counts(conn, before.start, before.end, kind, before_rules, as_of=as_of, cal=cal)
    names = await unit_names(conn)
    current = {k: c.basis(basis) for k, c in now_counts.items() if k is not None}
    old = {k: c.basis(basis) for k, c in old_counts.items() if k is not None}
    return Ranking(p, rule_set, before_rules, basis, rank(current, old, names, rule_set, before_rules))


async def explain_unit(conn, label: str, grouping: str, *, unit_id: int | None = None, category: str | None = None,
                       as_of: datetime | None = None, top: int = 10) -> tuple[Period, RuleSet, Explanation]:
    """Which tickets cost a unit (or the street) its points in the period, on the 剔除后 basis."""
    as_of = as_of or datetime.now(timezone.utc)
    _, p, rule_set = await _context(conn, label)
    found = await repo.outcomes(conn, p.start, p.end, grouping, unit_id, category)
    granted, pending = await repo.appeal_ticket_ids(conn, [o.ticket_id for o in found], as_of=as_of)
    labels = await repo.ticket_numbers(conn, sorted(pending))
    result = explain(found, rule_set, excluded_ids=granted, pending_appeal_ids=pending, top=top, labels=labels)
    return p, rule_set, result


@dataclass(frozen=True)
class Statistics:
    """数据分析 of a period or of one daily report window (tickets placed by 来电时间)."""
    title: str
    start: datetime
    end: datetime
    categories: list[Trend]            # with the previous window's counts (环比)
    by_dimension: dict[str, list[tuple[str, int]]]
    hot_spots: list[Hotspot]
    repeat_callers: list
    compliance: list[Compliance]
    phones_masked: bool = True         # 重复诉求人 numbers; False only for `stats --unmasked` (audited)

    def tables(self) -> dict[str, list[list]]:
        """Header row + rows per table, for terminal output."""
        labels = {"department": "承办科室", "community": "社区", "appeal_kind": "诉求类别", "hour": "来电时段"}
        out = {"一级分类 (环比)": [["一级分类", "本期", "上期", "增减"]]
               + [[t.key, t.count, t.previous, t.change] for t in self.categories]}
        for dim, rows in self.by_dimension.items():
            out[labels[dim]] = [[labels[dim], "工单量"]] + [list(r) for r in rows]
        out["热点点位"] = [["问题点位", "工单量"]] + [[h.place, h.tickets] for h in self.hot_spots]
        out["重复诉求人"] = [["来电人电话", "工单量"]] + [[shown_phone(c["caller_phone"], masked=self.phones_masked), c["tickets"]]
                                                       for c in self.repeat_callers]
        out["时限执行"] = [COMPLIANCE_HEADERS] + [compliance_row(c) for c in self.compliance]
        return out

    def as_dict(self) -> dict:
        return {"title": self.title, "from": self.start.isoformat(), "to": self.end.isoformat(),
                "categories": [{"category": t.key, "tickets": t.count, "previous": t.previous} for t in self.categories],
                **{dim: [{"key": k, "tickets": n} for k, n in rows] for dim, rows in self.by_dimension.items()},
                "hot_spots": [{"place": h.place, "tickets": h.tickets, "titles": h.titles,
                               "categories": list(h.categories), "ticket_nos": list(h.ticket_nos)}
                              for h in self.hot_spots],
                "repeat_callers": [{"phone": shown_phone(c["caller_phone"], masked=self.phones_masked),
                                    "tickets": c["tickets"]} for c in self.repeat_callers],
                "compliance": [{"kind": c.kind, "on_time": c.on_time, "late": c.late, "overdue": c.overdue,
                                "pending": c.pending, "unknown": c.unknown,
                                "on_time_rate": display(on_time_rate(c))} for c in self.compliance]}


async def statistics(conn, label: str, *, day: date | None = None, now: datetime | None = None,
                     top: int = 10) -> Statistics:
    """The period's statistics, or one daily report day's (compared with the day before)."""
    now = now or datetime.now(timezone.utc)
    cal, p, _ = await _context(conn, label)
    if day is None:
        title, (start, end) = p.describe(), (p.start, p.end)
        before = previous(p, cal)
        prev_start, prev_end = before.start, before.end
    else:
        title, (start, end) = f"{day.isoformat()} 日报", day_window(day, cal)
        prev_start, prev_end = day_window(day - timedelta(days=1), cal)
    now_l1 = dict(await analysis.volume_by(conn, start, end, "category_l1", cal.timezone))
    old_l1 = dict(await analysis.volume_by(conn, prev_start, prev_end, "category_l1", cal.timezone))
    dims = {}
    for dim in ("department", "community", "appeal_kind", "hour"):
        rows = await analysis.volume_by(conn, start, end, dim, cal.timezone)
        dims[dim] = sorted(rows) if dim == "hour" else rows[:top]
    return Statistics(title, start, end, top_with_change(now_l1, old_l1, top), dims,
                      hotspots(await analysis.place_tickets(conn, start, end), top=top),
                      await analysis.repeat_callers(conn, start, end, limit=top),
                      await analysis.deadline_compliance(conn, start, end, now=now))


@dataclass(frozen=True)
class Monthly:
    """Everything the monthly workbook shows."""
    period: Period
    rule_set: RuleSet
    as_of: datetime
    calendar: Calendar
    street: RateRow
    departments: Ranking
    communities: Ranking
    daily: RatesTable
    categories: list[Trend]
    categories_by_level: list
    by_appeal_kind: list[tuple[str, int]]
    by_hour: list[tuple[str, int]]
    hot_spots: list[Hotspot]
    repeat_callers: list
    compliance: list[Compliance]
    problems: list
    explanation: Explanation
    urban: urban_repo.UrbanStats | None = None     # 城市管理 cases reported in the period
    agents: tuple[AgentFigures, ...] = ()          # 坐席统计 of the period, as the /desk/stats page counts them
    phones_masked: bool = True         # 重复诉求人 numbers; False only for `report monthly --unmasked` (audited)


async def monthly(conn, label: str, *, as_of: datetime | None = None) -> Monthly:
    as_of = as_of or datetime.now(timezone.utc)
    cal, p, rule_set = await _context(conn, label)
    before = previous(p, cal)
    street = (await rates_table(conn, label, "street", as_of=as_of)).rows
    empty = RateRow(None, "全街道", rates(Counts(), rule_set), rates(Counts(), rule_set))
    now_l1 = dict(await analysis.volume_by(conn, p.start, p.end, "category_l1", cal.timezone))
    old_l1 = dict(await analysis.volume_by(conn, before.start, before.end, "category_l1", cal.timezone))
    return Monthly(
        period=p, rule_set=rule_set, as_of=as_of, calendar=cal,
        street=street[0] if street else empty,
        departments=await ranking(conn, label, "department", as_of=as_of),
        communities=await ranking(conn, label, "community", as_of=as_of),
        daily=await rates_table(conn, label, "day", as_of=as_of),
        categories=top_with_change(now_l1, old_l1, top=len(now_l1)),
        categories_by_level=await analysis.volume_by_category_levels(conn, p.start, p.end),
        by_appeal_kind=await analysis.volume_by(conn, p.start, p.end, "appeal_kind", cal.timezone),
        by_hour=sorted(await analysis.volume_by(conn, p.start, p.end, "hour", cal.timezone)),
        hot_spots=hotspots(await analysis.place_tickets(conn, p.start, p.end), top=50),
        repeat_callers=await analysis.repeat_callers(conn, p.start, p.end),
        compliance=await analysis.deadline_compliance(conn, p.start, p.end, now=as_of),
        problems=await repo.problem_tickets(conn, p.start, p.end, as_of=as_of),
        explanation=(await explain_unit(conn, label, "street", as_of=as_of))[2],
        urban=await urban_repo.statistics(conn, p.start, p.end),
        agents=tuple(await quality_repo.agent_statistics(conn, p.start, p.end)),
    )
