"""数据分析: counts of tickets by category, unit, 诉求类别, hour; hot spots; repeat callers; deadlines.

Analysis describes the intake, so tickets are placed by 来电时间 (called_at);
the rates (callcenter.db.scoring) place them by callback instead.  All SQL is
fixed text; the dimension is a bound parameter picking a column.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

DIMENSIONS = ("category_l1", "department", "community", "appeal_kind", "hour")

_VOLUME_SQL = """
SELECT CASE $3::text WHEN 'category_l1' THEN t.category_l1
                     WHEN 'department' THEN coalesce(d.name, nullif(t.department_name, ''), '未派单')
                     WHEN 'community' THEN coalesce(c.name, nullif(t.community_name, ''), '未派单')
                     WHEN 'appeal_kind' THEN t.appeal_kind
                     WHEN 'hour' THEN lpad(extract(hour FROM t.called_at AT TIME ZONE $4::text)::int::text, 2, '0')
       END AS key,
       count(*) AS tickets
  FROM tickets t
  LEFT JOIN units d ON d.id = t.department_id
  LEFT JOIN units c ON c.id = t.community_id
 WHERE t.called_at >= $1 AND t.called_at < $2
 GROUP BY 1
 ORDER BY 2 DESC, 1
"""


async def volume_by(conn, start: datetime, end: datetime, dimension: str,
                    timezone: str = "Asia/Shanghai") -> list[tuple[str, int]]:
    """Tickets received in [start, end) per value of one dimension, largest first (hour: "00"–"23")."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; choose from {', '.join(DIMENSIONS)}")
    rows = await conn.fetch(_VOLUME_SQL, start, end, dimension, timezone)
    return [(r["key"], r["tickets"]) for r in rows]


async def volume_by_category_levels(conn, start: datetime, end: datetime) -> list[asyncpg.Record]:
    """Tickets per 一级 / 二级 / 三级分类 (the three levels), largest first."""
    return await conn.fetch(
        """SELECT category_l1, category_l2, category_l3, count(*) AS tickets
             FROM tickets WHERE called_at >= $1 AND called_at < $2
            GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2, 3""", start, end)


async def daily_volume(conn, start: datetime, end: datetime, *, timezone: str = "Asia/Shanghai",
                       cut_hour: int = 12) -> list[tuple[date, int]]:
    """Tickets per daily report (day D = D-1 cut:00 → D cut:00, callcenter.scoring.periods.report_day)."""
    rows = await conn.fetch(
        """SELECT ((called_at AT TIME ZONE $3::text) - make_interval(hours => $4::int))::date
                  + CASE WHEN $4::int > 0 THEN 1 ELSE 0 END AS day, count(*) AS tickets
             FROM tickets WHERE called_at >= $1 AND called_at < $2
            GROUP BY 1 ORDER BY 1""", start, end, timezone, cut_hour)
    return [(r["day"], r["tickets"]) for r in rows]


async def place_tickets(conn, start: datetime, end: datetime) -> list[asyncpg.Record]:
    """The period's tickets that name a place: the raw material of 问题点位 (grouped by normalised place,
    callcenter.reports.figures.hotspots, so one building written several ways is one hotspot)."""
    return await conn.fetch(
        """SELECT ticket_no, title, category_l1, address, community_name, called_at
             FROM tickets WHERE called_at >= $1 AND called_at < $2 AND (address <> '' OR community_name <> '')""",
        start, end)


async def repeat_callers(conn, start: datetime, end: datetime, *, min_tickets: int = 2,
                         limit: int = 50) -> list[asyncpg.Record]:
    """重复诉求人: numbers that called about several tickets in the period."""
    return await conn.fetch(
        """SELECT caller_phone, max(caller_name) AS caller_name, count(*) AS tickets,
                  array_agg(DISTINCT category_l1) AS categories, min(called_at) AS first_at, max(called_at) AS last_at
             FROM tickets WHERE called_at >= $1 AND called_at < $2 AND caller_phone <> ''
            GROUP BY caller_phone HAVING count(*) >= $3
            ORDER BY 3 DESC, 1 LIMIT $4""", start, end, min_tickets, limit)


@dataclass(frozen=True)
class Compliance:
    """One deadline's record: done on time, done late, overdue and not done, not yet due, time unknown.

    时间未知 (``unknown``): the ticket passed the step before it reached our ledger and the
    city's file carries no time for it (callcenter.ledger.city_status).  Unknown is not late:
    those tickets leave the on-time rate, and the count is shown beside it.
    """
    kind: str          # sign | contact | close
    on_time: int
    late: int
    overdue: int
    pending: int
    unknown: int = 0

    @property
    def due(self) -> int:
        return self.on_time + self.late + self.overdue


_COMPLIANCE_SQL = """
WITH t AS (
    SELECT signed_at, sign_due_at, first_contact_at, contact_due_at, closed_at,
           coalesce(extended_due_at, close_due_at) AS close_due,
           sign_time_unknown, contact_time_unknown, close_time_unknown
      FROM tickets WHERE called_at >= $1 AND called_at < $2
)
SELECT 'sign' AS kind,
       count(*) FILTER (WHERE signed_at <= sign_due_at) AS on_time,
       count(*) FILTER (WHERE signed_at > sign_due_at) AS late,
       count(*) FILTER (WHERE signed_at IS NULL AND NOT sign_time_unknown AND sign_due_at < $3) AS overdue,
       count(*) FILTER (WHERE signed_at IS NULL AND NOT sign_time_unknown AND sign_due_at >= $3) AS pending,
       count(*) FILTER (WHERE signed_at IS NULL AND sign_time_unknown) AS unknown
  FROM t WHERE sign_due_at IS NOT NULL
UNION ALL
SELECT 'contact',
       count(*) FILTER (WHERE first_contact_at <= contact_due_at),
       count(*) FILTER (WHERE first_contact_at > contact_due_at),
       count(*) FILTER (WHERE first_contact_at IS NULL AND NOT contact_time_unknown AND contact_due_at < $3),
       count(*) FILTER (WHERE first_contact_at IS NULL AND NOT contact_time_unknown AND contact_due_at >= $3),
       count(*) FILTER (WHERE first_contact_at IS NULL AND contact_time_unknown)
  FROM t WHERE contact_due_at IS NOT NULL
UNION ALL
SELECT 'close',
       count(*) FILTER (WHERE closed_at <= close_due),
       count(*) FILTER (WHERE closed_at > close_due),
       count(*) FILTER (WHERE closed_at IS NULL AND NOT close_time_unknown AND close_due < $3),
       count(*) FILTER (WHERE closed_at IS NULL AND NOT close_time_unknown AND close_due >= $3),
       count(*) FILTER (WHERE closed_at IS NULL AND close_time_unknown)
  FROM t WHERE close_due IS NOT NULL
"""


async def deadline_compliance(conn, start: datetime, end: datetime, *, now: datetime) -> list[Compliance]:
    """签收 / 联系 / 办结 on time, for tickets received in [start, end), judged at ``now``."""
    return [Compliance(**dict(r)) for r in await conn.fetch(_COMPLIANCE_SQL, start, end, now)]
