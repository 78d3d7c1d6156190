"""高发 warnings from the ledger: daily (today so far against the 28 days before) and weekly
(the last 7 days against the 8 weeks before), each naming its tickets and why it fired."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import asyncpg

from ..db import alerts as alerts_repo
from ..db import hotspots as repo
from ..ledger.timezone import OFFICE_TZ, local_date
from .spikes import DAILY_WINDOW, WEEKLY_WINDOW, Spike, detect_both, summed

PERIODS = {"daily": ("当日", 1, DAILY_WINDOW), "weekly": ("近一周", 7, WEEKLY_WINDOW)}


@dataclass(frozen=True)
class SpikeWarning:
    kind: str                 # daily | weekly
    day: date                 # the (last) local day of the period
    spike: Spike
    ticket_ids: list[int]

    @property
    def reason(self) -> str:
        return self.spike.reason(PERIODS[self.kind][0])


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), OFFICE_TZ)


async def find_warnings(conn: asyncpg.Connection, kind: str, day: date, *, min_count: int) -> list[SpikeWarning]:
    label, length, window = PERIODS[kind]
    end = _midnight(day + timedelta(days=1))
    start = end - timedelta(days=length)
    base_start = start - timedelta(days=length * window)
    tallies = [summed(await repo.counts(conn, a, b, street=street))
               for street in (False, True) for a, b in ((start, end), (base_start, start))]
    spikes = detect_both(*tallies, window, min_count=min_count)
    return [SpikeWarning(kind, day, s, await repo.ticket_ids(conn, start, end, s.category, s.unit,
                                                         street=s.level == "street")) for s in spikes]


def as_alert(w: SpikeWarning) -> alerts_repo.NewAlert:
    label = PERIODS[w.kind][0]
    return alerts_repo.NewAlert(
        rule="spike", dedup_key=f"spike:{w.kind}:{w.day.isoformat()}:{w.spike.level}:{w.spike.category}:{w.spike.unit}",
        title=f"诉求高发: {w.spike.unit}「{w.spike.category}」{label} {w.spike.count} 件",
        body=w.reason, ticket_ids=w.ticket_ids)


async def spike_source(conn: asyncpg.Connection, now: datetime) -> list[int]:
    """The alert engine's source: today's daily warnings and the weekly ones ending today."""
    rule = (await alerts_repo.rules(conn))["spike"]
    if not rule["enabled"]:
        return []
    today = local_date(now)
    found = [w for kind in PERIODS for w in await find_warnings(conn, kind, today, min_count=rule["threshold"])]
    return await alerts_repo.raise_alerts(conn, [as_alert(w) for w in found], now)
