"""The office's daily / weekly / monthly / special report: gather every figure once.

Volumes, categories, hotspots and repeat complainants are counted from the
window's tickets (by 来电时间, with the report's --category/--community
filters); 坐席统计 is the window's, counted as the /desk/stats page counts
it; the three rates and the department ranking are the assessment
month's, computed by the scoring engine exactly as ``callcenter rates``
does (with a --category or --community filter, the rates are that 分类's or
社区's row of the same table, and the report says so); 高发 warnings come
from callcenter.hotspots.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import asyncpg

from ..db import quality as quality_repo
from ..db import report_queries as queries
from ..db import scoring as scoring_repo
from ..desk.quality import AgentFigures
from ..hotspots.warnings import SpikeWarning, find_warnings
from ..ledger.timezone import local_date
from ..scoring.trends import Trend
from . import figures
from .scorecard import Ranking, RateRow, ranking, rates_table
from .windows import Window, window

#: Days of daily 高发 checks a long report looks back over (a special report of a year lists the last month's).
WARNING_DAYS = 31
SPIKE_MIN_COUNT = 5


@dataclass
class OfficeReport:
    window: Window
    filters: dict[str, str]
    generated_at: datetime
    volume: int
    previous_volume: int
    categories: list[Trend]
    days: list[tuple[date, int]]
    communities: list[tuple[str, int]]
    rule_set: str | None
    street: RateRow | None             # the street's rates, or the filtered 分类/社区's (see rates_scope)
    ranking: Ranking | None
    hotspots: list[figures.Hotspot]
    warnings: list[SpikeWarning]
    overdue: list[dict[str, Any]]      # plain dicts: the report crosses into the process that draws it
    repeat_callers: list[figures.RepeatCaller]
    appeals: dict[str, int]
    hotline: dict[str, Any]
    agents: list[AgentFigures] = field(default_factory=list)     # 坐席统计 of the window (as /desk/stats)
    notes: list[str] = field(default_factory=list)
    rates_scope: str = "全街道"


async def scoped_rates(conn: asyncpg.Connection, month: str, *, category: str | None, community: str | None,
                       as_of: datetime) -> tuple[str, RateRow | None]:
    """The rates a filtered report speaks for: one 社区's or one 一级分类's row, else the street's."""
    if community:
        rows = (await rates_table(conn, month, "community", as_of=as_of)).rows
        return f"社区「{community}」", next((r for r in rows if r.name == community), None)
    if category:
        rows = (await rates_table(conn, month, "category", as_of=as_of)).rows
        return f"一级分类「{category}」", next((r for r in rows if r.key == category), None)
    rows = (await rates_table(conn, month, "street", as_of=as_of)).rows
    return "全街道", rows[0] if rows else None


async def _warnings(conn: asyncpg.Connection, w: Window, filters: dict[str, str]) -> list[SpikeWarning]:
    last = local_date(w.end - timedelta(seconds=1))
    first = max(local_date(w.start), last - timedelta(days=WARNING_DAYS - 1))
    found: list[SpikeWarning] = []
    day = first
    while day <= last:
        found += await find_warnings(conn, "daily", day, min_count=SPIKE_MIN_COUNT)
        day += timedelta(days=1)
    if w.kind != "daily":
        found += await find_warnings(conn, "weekly", last, min_count=SPIKE_MIN_COUNT)
    return [x for x in found
            if filters.get("category") in (None, x.spike.category)
            and filters.get("community") in (None, x.spike.unit if x.spike.level == "community" else None)]


async def gather(conn: asyncpg.Connection, kind: str, *, label: str | None = None, start_day: date | None = None,
                 end_day: date | None = None, category: str | None = None, community: str | None = None,
                 now: datetime | None = None) -> OfficeReport:
    """Every figure of one report; raises :class:`callcenter.reports.windows.WindowError` for a bad period."""
    now = now or datetime.now(timezone.utc)
    cal = await scoring_repo.load_calendar(conn)
    w = window(kind, cal, label=label, start_day=start_day, end_day=end_day)
    filters = {k: v for k, v in (("category", category), ("community", community)) if v}
    tickets = await queries.window_tickets(conn, w.start, w.end, category=category, community=community)
    before = await queries.window_tickets(conn, w.prev_start, w.prev_end, category=category, community=community)
    notes = []
    scope = "全街道"
    try:
        scope, street = await scoped_rates(conn, w.month, category=category, community=community, as_of=now)
        ranked = await ranking(conn, w.month, "department", as_of=now)
        rule_set = ranked.rule_set.name
        if street is None and filters:
            notes.append(f"{w.month} 考核月{scope}没有计入三率的工单")
    except LookupError:
        street = ranked = rule_set = None
        notes.append(f"{w.month} 考核月没有适用的评分规则, 本报告不含三率")
    return OfficeReport(
        window=w, filters=filters, generated_at=now, volume=len(tickets), previous_volume=len(before),
        categories=figures.categories(tickets, before), days=figures.per_day(tickets),
        communities=figures.by_community(tickets), rule_set=rule_set, street=street, ranking=ranked,
        hotspots=figures.hotspots(tickets), warnings=await _warnings(conn, w, filters),
        overdue=[dict(row) for row in await queries.overdue_tickets(conn, min(now, w.end), category=category,
                                                                      community=community)],
        repeat_callers=figures.repeat_callers(tickets),
        appeals=await queries.appeals_work(conn, w.start, w.end),
        hotline=await queries.hotline_summary(conn, w.start, w.end),
        agents=await quality_repo.agent_statistics(conn, w.start, w.end), notes=notes, rates_scope=scope)
