"""The service's own reports: the daily at 08:00 and the weekly on Monday at 08:00, office time.

Each is written once however many instances run (a unique index on the log);
after a restart past 08:00 the day's report is written at once.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import asyncpg

from ..db import report_queries as queries
from ..db import scoring as scoring_repo
from ..scoring.periods import Calendar, report_day
from .produce import SERVICE, produce

log = logging.getLogger(__name__)
AT = time(8, 0)


def due(now: datetime, cal: Calendar) -> list[tuple[str, str]]:
    """(kind, --period) of the scheduled reports that should exist at ``now`` (pure)."""
    local = now.astimezone(cal.tz)
    if local.time() < AT:
        return []
    # The last daily window closed by 08:00 today (the one running at 08:00 is reported tomorrow).
    daily = report_day(datetime.combine(local.date(), AT, tzinfo=cal.tz), cal) - timedelta(days=1)
    out = [("daily", daily.isoformat())]
    if local.weekday() == 0:
        last_monday = local.date() - timedelta(days=7)
        out.append(("weekly", f"{last_monday.isocalendar().year}-W{last_monday.isocalendar().week:02d}"))
    return out


async def write_due(pool: asyncpg.Pool, folder: Path, now: datetime) -> list[str]:
    written = []
    async with pool.acquire() as conn:
        cal = await scoring_repo.load_calendar(conn)
        for kind, label in due(now, cal):
            if await queries.scheduled_exists(conn, kind, label):
                continue
            result = await produce(conn, kind, folder, created_by=SERVICE, label=label, now=now)
            if result.report_id is None:           # another instance won: drop our copy
                result.docx.unlink(missing_ok=True)
                result.xlsx.unlink(missing_ok=True)
            else:
                written.append(f"{kind} {label}")
    return written


async def run_schedule(pool: asyncpg.Pool, folder: Path, *, tick: float = 60.0) -> None:
    """Look every ``tick`` seconds (first a tick after start, so a starting service is not slowed)."""
    while True:
        await asyncio.sleep(tick)
        try:
            for name in await write_due(pool, folder, datetime.now(timezone.utc)):
                log.info("report written: %s", name)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("scheduled report failed; retried in %s s", tick)
