"""质检 in PostgreSQL: dated forms, immutable versioned grades, the weekly sample, agents' calls for 坐席统计."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import asyncpg

from ..desk.quality import (AgentCall, AgentFigures, FormItem, GradeError, agent_figures, grade_total,
                            weekly_sample)
from ..ledger.timezone import OFFICE_TZ
from .ticket_queries import record_audit

CALL_KINDS = ("desk", "hotline")


async def form_in_force(conn: asyncpg.Connection, day: date) -> tuple[int, str, int, list[FormItem]]:
    """(id, name, version, items) of the newest form effective on ``day``."""
    row = await conn.fetchrow(
        """SELECT id, name, version, items FROM qa_forms WHERE effective_from <= $1
            ORDER BY effective_from DESC, version DESC LIMIT 1""", day)
    if row is None:
        raise GradeError("该日期没有生效的质检表")
    return row["id"], row["name"], row["version"], [FormItem(i["key"], i["label"], int(i["max"]))
                                                     for i in row["items"]]


async def forms(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every form version, by effective date (grades keep the form they were made on)."""
    return await conn.fetch(
        """SELECT f.id, f.name, f.version, f.effective_from, f.items, f.created_by, f.created_at,
                  (SELECT count(*) FROM qa_grades g WHERE g.form_id = f.id) AS grades
             FROM qa_forms f ORDER BY f.effective_from, f.version""")


async def add_form(conn: asyncpg.Connection, name: str, effective_from: date, items: list[FormItem], *,
                   by: str) -> int:
    """A new version of the form ``name`` from ``effective_from`` (audited); returns the version number.

    A call is graded on the form in force on the call's day, so a new version never changes an old grade.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"qa-form/{name}")
        version = 1 + (await conn.fetchval("SELECT coalesce(max(version), 0) FROM qa_forms WHERE name = $1", name))
        form_id = await conn.fetchval(
            """INSERT INTO qa_forms (name, version, effective_from, items, created_by)
               VALUES ($1, $2, $3, $4, $5) RETURNING id""",
            name, version, effective_from, [{"key": i.key, "label": i.label, "max": i.max} for i in items], by)
        await record_audit(conn, by, "qa_form", object_type="qa_form", object_id=str(form_id),
                           detail={"name": name, "version": version, "effective_from": effective_from.isoformat(),
                                   "items": [i.key for i in items]})
    return version


async def call_agent(conn: asyncpg.Connection, call_kind: str, call_ref: str) -> tuple[str, datetime] | None:
    """Who handled the call and when, or None when there is no such call with an agent."""
    if call_kind == "desk":
        row = await conn.fetchrow(
            """SELECT agent, coalesce(dialed_at, created_at) AS at FROM callback_attempts
                WHERE id::text = $1 AND agent IS NOT NULL""", call_ref)
    elif call_kind == "hotline":
        row = await conn.fetchrow(
            "SELECT agent, joined_at AS at FROM hotline_calls WHERE uniqueid = $1 AND agent IS NOT NULL", call_ref)
    else:
        raise GradeError("未知的通话类型")
    return None if row is None else (row["agent"], row["at"])


async def call_recording(conn: asyncpg.Connection, call_kind: str, call_ref: str) -> str | None:
    """The stored recording of an agent's call (MixMonitor's path), or None."""
    if call_kind == "desk":
        return await conn.fetchval(
            "SELECT recording_path FROM callback_attempts WHERE id::text = $1 AND agent IS NOT NULL", call_ref)
    if call_kind == "hotline":
        return await conn.fetchval(
            "SELECT recording_path FROM hotline_calls WHERE uniqueid = $1 AND agent IS NOT NULL", call_ref)
    raise GradeError("未知的通话类型")


async def save_grade(conn: asyncpg.Connection, call_kind: str, call_ref: str, scores: dict, *, by: str,
                     comment: str = "", reason: str = "") -> int:
    """Grade a call on the form in force on the call's day; a second grade is a correction and needs a reason."""
    async with conn.transaction():
        found = await call_agent(conn, call_kind, call_ref)
        if found is None:
            raise GradeError("没有这通坐席通话")
        agent, at = found
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"qa/{call_kind}/{call_ref}")
        previous = await conn.fetchval(
            "SELECT max(version) FROM qa_grades WHERE call_kind = $1 AND call_ref = $2", call_kind, call_ref)
        if previous and not reason.strip():
            raise GradeError("该通话已评分; 更正须说明原因(将保存为新版本)")
        form_id, _, _, items = await form_in_force(conn, at.date())
        kept, total = grade_total(items, scores)
        version = (previous or 0) + 1
        await conn.execute(
            """INSERT INTO qa_grades (call_kind, call_ref, agent, form_id, version, scores, total, comment, reason,
                                      graded_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            call_kind, call_ref, agent, form_id, version, kept, total, comment, reason.strip(), by)
        await record_audit(conn, by, "qa_grade", object_type="qa_grade", object_id=f"{call_kind}/{call_ref}",
                           detail={"version": version, "total": str(total), "reason": reason.strip()})
    return version


async def grade_versions(conn: asyncpg.Connection, call_kind: str, call_ref: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT version, scores, total, comment, reason, graded_by, graded_at FROM qa_grades
            WHERE call_kind = $1 AND call_ref = $2 ORDER BY version""", call_kind, call_ref)


async def agent_calls(conn: asyncpg.Connection, start: datetime, end: datetime) -> list[AgentCall]:
    """Desk calls placed in [start, end), with how many supervisor corrections their answers received."""
    rows = await conn.fetch(
        """SELECT a.agent, a.dialed_at, a.answered_at, a.ended_at, a.outcome,
                  (SELECT count(*) FROM callback_answers x WHERE x.attempt_id = a.id AND x.version > 1
                                                             AND x.source = 'supervisor') AS corrections
             FROM callback_attempts a
            WHERE a.desk_kind = 'agent' AND a.dialed_at >= $1 AND a.dialed_at < $2""", start, end)
    return [AgentCall(r["agent"], r["dialed_at"], r["answered_at"], r["ended_at"], r["outcome"], r["corrections"])
            for r in rows]


async def qa_totals(conn: asyncpg.Connection, start: datetime, end: datetime) -> dict[str, list[Decimal]]:
    """The latest version's total of each graded call made in [start, end), per agent."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (g.call_kind, g.call_ref) g.agent, g.total FROM qa_grades g
             LEFT JOIN callback_attempts a ON g.call_kind = 'desk' AND a.id::text = g.call_ref
             LEFT JOIN hotline_calls h ON g.call_kind = 'hotline' AND h.uniqueid = g.call_ref
            WHERE coalesce(a.dialed_at, h.joined_at) >= $1 AND coalesce(a.dialed_at, h.joined_at) < $2
            ORDER BY g.call_kind, g.call_ref, g.version DESC""", start, end)
    out: dict[str, list[Decimal]] = {}
    for r in rows:
        out.setdefault(r["agent"], []).append(r["total"])
    return out


async def agent_statistics(conn: asyncpg.Connection, start: datetime, end: datetime) -> list[AgentFigures]:
    """坐席统计 for [start, end): the one source of the page and the monthly report."""
    return agent_figures(await agent_calls(conn, start, end), await qa_totals(conn, start, end))


async def draw_weekly_sample(conn: asyncpg.Connection, week: date, start: datetime, end: datetime,
                             rate: float) -> int:
    """Offer a random share of each agent's calls of the week (desk and hotline) for grading; once per week."""
    rows = await conn.fetch(
        """SELECT 'desk' AS kind, id::text AS ref, agent FROM callback_attempts
            WHERE desk_kind = 'agent' AND dialed_at >= $1 AND dialed_at < $2
           UNION ALL
           SELECT 'hotline', uniqueid, agent FROM hotline_calls
            WHERE agent IS NOT NULL AND outcome = 'answered' AND joined_at >= $1 AND joined_at < $2""", start, end)
    by_agent: dict[str, list[str]] = {}
    for r in rows:
        by_agent.setdefault(r["agent"], []).append(f"{r['kind']}/{r['ref']}")
    added = 0
    async with conn.transaction():                 # the week's sample appears whole, never half drawn
        for agent, picked in weekly_sample(by_agent, rate, week).items():
            for key in picked:
                kind, ref = key.split("/", 1)
                status = await conn.execute(
                    """INSERT INTO qa_samples (week, call_kind, call_ref, agent) VALUES ($1, $2, $3, $4)
                       ON CONFLICT DO NOTHING""", week, kind, ref, agent)
                added += status.endswith(" 1")
    return added


async def draw_week(conn: asyncpg.Connection, week: date, rate: float) -> int:
    """Draw the sample of the week starting on Monday ``week`` (Beijing); idempotent, as drawing is reproducible."""
    start = datetime.combine(week, time.min, OFFICE_TZ)
    return await draw_weekly_sample(conn, week, start, start + timedelta(days=7), rate)


async def samples(conn: asyncpg.Connection, week: date) -> list[asyncpg.Record]:
    """The week's sample with each call's latest grade, if any."""
    return await conn.fetch(
        """SELECT s.call_kind, s.call_ref, s.agent,
                  (SELECT total FROM qa_grades g WHERE g.call_kind = s.call_kind AND g.call_ref = s.call_ref
                    ORDER BY version DESC LIMIT 1) AS total
             FROM qa_samples s WHERE s.week = $1 ORDER BY s.agent, s.call_kind, s.call_ref""", week)
