"""首页 figures: one assessment month's three rates, the ranking, the daily trend, and the work waiting.

The rates come from the scoring engine (callcenter.reports.scorecard, SQL
tallies over ticket_scores) and are rounded once, by its display helper.  The
month's figures (10 s) and the work waiting (5 s) are cached per instance:
fifty people opening the dashboard at nine o'clock ask the same question, and
the answer only changes when a callback is scored or a ticket moves.  The cache lives on the app object
(one per process), never in module state.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import asyncpg
from aiohttp import web

from ...db import analysis, campaigns as campaign_repo
from ...db import review_queries, tickets as tickets_repo
from ...db import scoring as scoring_repo
from ...reports import scorecard
from ...scoring.periods import Period, period, period_containing
from ...scoring.rates import BASIS_LABELS, RATE_LABELS, display, shown
from ..core.cache import cached
from ..core.labels import CAMPAIGN_STATE_NAMES, DEADLINE_NAMES

#: Seconds a month's figures, and the lists of work waiting, are reused for.
FIGURES_TTL = 10.0
WAITING_TTL = 5.0
#: Deadline warnings listed (the rest are in the ledger's filters).
WARNINGS_SHOWN = 15
DEADLINE_LABELS = DEADLINE_NAMES
CAMPAIGN_STATE_LABELS = CAMPAIGN_STATE_NAMES


@dataclass(frozen=True)
class MonthFigures:
    period: Period
    rule_set: str
    street: dict[str, dict[str, Decimal | None]]      # basis → rate → shown figure
    counts: dict[str, int]                              # effective callbacks / volume (剔除后)
    ranking: list[dict[str, Any]]                       # departments, best first
    trend: list[dict[str, Any]]                         # per report day
    compliance: list[list[Any]] = ()                    # 时限执行 rows (scorecard.COMPLIANCE_HEADERS)


def choose_period(label: str | None, now: datetime, cal) -> Period:
    """The month asked for (``?period=YYYY-MM``), else the one running now."""
    if label:
        return period(label, cal)
    return period_containing(now, cal)


async def month_figures(conn: asyncpg.Connection, label: str) -> MonthFigures:
    street = (await scorecard.rates_table(conn, label, "street")).rows
    days = await scorecard.rates_table(conn, label, "day")
    ranked = await scorecard.ranking(conn, label, "department")
    compliance = await analysis.deadline_compliance(conn, days.period.start, days.period.end,
                                                    now=datetime.now(timezone.utc))
    shown_street = {basis: shown(street[0].basis(basis)) if street else
                    {k: None for k in RATE_LABELS} for basis in BASIS_LABELS}
    excluded = street[0].excluded.counts if street else None
    return MonthFigures(
        period=days.period,
        rule_set=days.rule_set.name,
        street=shown_street,
        counts={"effective": excluded.n if excluded else 0, "volume": excluded.volume if excluded else 0},
        ranking=[{"name": u.name, "rank": u.rank, "volume": u.volume,
                  "composite": _number(display(u.rates.composite, percent=False)),
                  "change": u.rank_change} for u in ranked.units],
        trend=[{"day": r.key.isoformat() if isinstance(r.key, date) else str(r.key),
                **{k: _number(v) for k, v in shown(r.excluded).items()}} for r in days.rows],
        compliance=[scorecard.compliance_row(c) for c in compliance],
    )


def _number(value: Decimal | None) -> float | None:
    """For the chart's JSON only; the page's text shows the Decimal itself."""
    return None if value is None else float(value)


async def cached_month_figures(app: web.Application, conn: asyncpg.Connection, label: str) -> MonthFigures:
    return await cached(app, f"month:{label}", FIGURES_TTL, lambda: month_figures(conn, label))


async def cached_work_waiting(app: web.Application, conn: asyncpg.Connection, now: datetime) -> dict[str, Any]:
    return await cached(app, "waiting", WAITING_TTL, lambda: work_waiting(conn, now))


async def campaign_progress(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Campaigns not yet finished, each with its counters."""
    result = []
    for c in await campaign_repo.list_campaigns(conn):
        if c["state"] == "finished":
            continue
        counts = await campaign_repo.progress(conn, c["id"])
        result.append({"id": c["id"], "name": c["name"], "state": c["state"],
                       "state_label": CAMPAIGN_STATE_LABELS.get(c["state"], c["state"]), "counts": counts})
    return result


async def work_waiting(conn: asyncpg.Connection, now: datetime) -> dict[str, Any]:
    warnings = await tickets_repo.deadline_warnings(conn, now=now, limit=WARNINGS_SHOWN + 1)
    return {
        "warnings": warnings[:WARNINGS_SHOWN],
        "more_warnings": len(warnings) > WARNINGS_SHOWN,
        "review_queue": await review_queries.review_queue_size(conn),
        "campaigns": await campaign_progress(conn),
    }


async def calendar(conn: asyncpg.Connection):
    return await scoring_repo.load_calendar(conn)

