"""Urban-management cases repository: intake, flow steps with their audit trail, photos, statistics.

Every step locks the case row, asks the pure machine (callcenter.ledger.urban)
and writes the new state, its columns and its event in one transaction; a 处置
and its after-photos go in together or not at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

import asyncpg

from ..ledger import urban as ub


class CaseNotFound(LookupError):
    pass


class CaseExists(ValueError):
    """A case with that 案件编号 is already on file."""


@dataclass(frozen=True)
class Photo:
    sha256: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class IntakeCounts:
    inserted: int
    existing: int      # 案件编号 already on file: left as it is (the flow may be under way)


_INSERT_SQL = """
INSERT INTO urban_cases (case_no, source, case_type, description, address, community_name, community_id,
                         reporter, reported_at)
VALUES ($1, $2, $3, $4, $5, $6, (SELECT id FROM units WHERE kind = 'community' AND name = $6), $7, $8)
ON CONFLICT (case_no) DO NOTHING
RETURNING id
"""


async def _insert(conn, record: ub.CaseRecord, source: str, actor: str) -> int | None:
    case_id = await conn.fetchval(_INSERT_SQL, record.case_no, source, record.case_type, record.description,
                                  record.address, record.community_name, record.reporter, record.reported_at)
    if case_id is not None:
        await _event(conn, case_id, actor, "create", None, ub.State.REVIEW, data={"source": source})
    return case_id


async def create_case(conn, record: ub.CaseRecord, *, actor: str, source: str | None = None) -> int:
    """One new case awaiting 审核; raises :class:`CaseExists` for a known 案件编号."""
    async with conn.transaction():
        case_id = await _insert(conn, record, source or record.source, actor)
    if case_id is None:
        raise CaseExists(f"案件编号 {record.case_no} 已存在")
    return case_id


async def import_cases(conn, records: Sequence[ub.CaseRecord], *, actor: str) -> IntakeCounts:
    """All records in one transaction; known 案件编号 are kept as they are (re-import is safe)."""
    inserted = 0
    async with conn.transaction():
        for record in records:
            inserted += await _insert(conn, record, record.source, actor) is not None
    return IntakeCounts(inserted, len(records) - inserted)


async def _event(conn, case_id: int, actor: str, action: str, from_state: ub.State | None, to_state: ub.State,
                 reason: str = "", at: datetime | None = None, data: dict[str, Any] | None = None) -> int:
    return await conn.fetchval(
        """INSERT INTO urban_case_events (case_id, at, actor, action, from_state, to_state, reason, data)
           VALUES ($1, coalesce($2, now()), $3, $4, $5, $6, $7, $8) RETURNING id""",
        case_id, at, actor, action, from_state.value if from_state else None, to_state.value, reason, data or {})


async def apply_step(conn, case_id: int, step: ub.Step, *, actor: str, photos: Sequence[Photo] = (),
                     at: datetime | None = None) -> ub.State:
    """One flow step, atomically; raises :class:`ub.UrbanFlowError` if the flow forbids it."""
    async with conn.transaction():
        row = await conn.fetchrow("SELECT state, closed_by FROM urban_cases WHERE id = $1 FOR UPDATE", case_id)
        if row is None:
            raise CaseNotFound(f"案件 {case_id} 不存在")
        action = ub.parse_action(step.action)
        if action is ub.Action.DISPATCH and step.unit_id is not None:
            if await conn.fetchval("SELECT 1 FROM units WHERE id = $1 AND active", step.unit_id) is None:
                raise ub.UrbanFlowError(f"承办单位 {step.unit_id} 不存在或已停用")
        moment = at or await conn.fetchval("SELECT now()")
        on_file = await conn.fetchval("SELECT count(*) FROM urban_case_photos WHERE case_id = $1", case_id)
        checked = ub.Step(action, reason=step.reason, unit_id=step.unit_id, deadline=step.deadline,
                          result=step.result, photo_count=on_file + len(photos), at=moment)
        current = ub.parse_state(row["state"])
        target = ub.apply(current, checked)
        for p in photos:
            await conn.execute(
                """INSERT INTO urban_case_photos (case_id, sha256, filename, content_type, size_bytes, added_by, added_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)""", case_id, p.sha256, p.filename, p.content_type, p.size,
                actor, moment)
        await conn.execute(
            """UPDATE urban_cases SET state = $2, updated_at = now(),
                   reject_reason = CASE WHEN $3 = 'reject' THEN $4 ELSE reject_reason END,
                   unit_id = CASE WHEN $3 = 'dispatch' THEN $5 ELSE unit_id END,
                   deadline_at = CASE WHEN $3 = 'dispatch' THEN $6 ELSE deadline_at END,
                   dispatched_at = CASE WHEN $3 = 'dispatch' THEN $7 ELSE dispatched_at END,
                   result_text = CASE WHEN $3 = 'handle' THEN $8 ELSE result_text END,
                   handled_at = CASE WHEN $3 = 'handle' THEN $7 ELSE handled_at END,
                   closed_at = CASE WHEN $3 = 'close' THEN $7 ELSE closed_at END,
                   closed_by = CASE WHEN $3 = 'close' THEN $9 ELSE closed_by END
             WHERE id = $1""",
            case_id, target.value, action.value, step.reason.strip(), step.unit_id, step.deadline, moment,
            step.result.strip(), actor)
        data: dict[str, Any] = {}
        if action is ub.Action.DISPATCH:
            data = {"unit_id": step.unit_id, "deadline": step.deadline.isoformat()}
        elif action is ub.Action.HANDLE:
            data = {"result": step.result.strip(), "photos": [p.sha256 for p in photos]}
        await _event(conn, case_id, actor, action.value, current, target, step.reason.strip(), moment, data)
        return target


async def get_case(conn, case_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT c.*, u.name AS unit_name FROM urban_cases c LEFT JOIN units u ON u.id = c.unit_id
            WHERE c.id = $1""", case_id)
    if row is None:
        raise CaseNotFound(f"案件 {case_id} 不存在")
    return row


async def history(conn, case_id: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM urban_case_events WHERE case_id = $1 ORDER BY id", case_id)


async def photos(conn, case_id: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM urban_case_photos WHERE case_id = $1 ORDER BY id", case_id)


async def photo(conn, case_id: int, photo_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM urban_case_photos WHERE id = $1 AND case_id = $2", photo_id, case_id)


async def list_cases(conn, *, state: str | None = None, overdue_at: datetime | None = None,
                     limit: int = 200) -> list[asyncpg.Record]:
    """Newest first; ``overdue_at`` keeps only cases past their deadline at that instant."""
    return await conn.fetch(
        """SELECT c.id, c.case_no, c.source, c.case_type, c.address, c.community_name, c.state, c.reported_at,
                  c.deadline_at, c.closed_at, u.name AS unit_name
             FROM urban_cases c LEFT JOIN units u ON u.id = c.unit_id
            WHERE ($1::text IS NULL OR c.state = $1)
              AND ($2::timestamptz IS NULL OR (c.state IN ('dispatched', 'handled') AND c.deadline_at < $2))
            ORDER BY c.reported_at DESC, c.id DESC LIMIT $3""", state, overdue_at, limit)


async def overdue_cases(conn, now: datetime) -> list[asyncpg.Record]:
    """Cases a unit still owes past their deadline, most overdue first."""
    rows = await list_cases(conn, overdue_at=now, limit=10_000)
    return sorted(rows, key=lambda r: (r["deadline_at"], r["id"]))


# --- statistics (monthly report) ------------------------------------------------------------

@dataclass(frozen=True)
class UrbanStats:
    total: int
    by_type: list[tuple[str, int]]
    by_community: list[tuple[str, int]]
    by_department: list[tuple[str, int, int, int]]     # unit, cases, closed, closed on time
    closed: int
    closed_on_time: int
    repeat_locations: list[tuple[str, int, str]]       # address, cases, case types

    @property
    def on_time_rate(self) -> float | None:
        return self.closed_on_time / self.closed if self.closed else None


async def statistics(conn, start: datetime, end: datetime, *, repeat_min: int = 2) -> UrbanStats:
    """Cases reported in [start, end): by type, community and unit, on-time closure, repeat locations."""
    total = await conn.fetchval(
        "SELECT count(*) FROM urban_cases WHERE reported_at >= $1 AND reported_at < $2", start, end)
    by_type = await conn.fetch(
        """SELECT case_type, count(*) AS n FROM urban_cases WHERE reported_at >= $1 AND reported_at < $2
            GROUP BY case_type ORDER BY n DESC, case_type""", start, end)
    by_community = await conn.fetch(
        """SELECT coalesce(nullif(community_name, ''), '(未填社区)') AS name, count(*) AS n FROM urban_cases
            WHERE reported_at >= $1 AND reported_at < $2 GROUP BY 1 ORDER BY n DESC, name""", start, end)
    by_unit = await conn.fetch(
        """SELECT coalesce(u.name, '(未派发)') AS name, count(*) AS n,
                  count(*) FILTER (WHERE c.state = 'closed') AS closed,
                  count(*) FILTER (WHERE c.state = 'closed' AND c.closed_at <= c.deadline_at) AS on_time
             FROM urban_cases c LEFT JOIN units u ON u.id = c.unit_id
            WHERE c.reported_at >= $1 AND c.reported_at < $2 AND c.state <> 'rejected'
            GROUP BY 1 ORDER BY n DESC, name""", start, end)
    repeats = await conn.fetch(
        """SELECT address, count(*) AS n, string_agg(DISTINCT case_type, '、') AS types FROM urban_cases
            WHERE reported_at >= $1 AND reported_at < $2 AND address <> '' AND state <> 'rejected'
            GROUP BY address HAVING count(*) >= $3 ORDER BY n DESC, address""", start, end, repeat_min)
    return UrbanStats(
        total=total,
        by_type=[(r["case_type"], r["n"]) for r in by_type],
        by_community=[(r["name"], r["n"]) for r in by_community],
        by_department=[(r["name"], r["n"], r["closed"], r["on_time"]) for r in by_unit],
        closed=sum(r["closed"] for r in by_unit),
        closed_on_time=sum(r["on_time"] for r in by_unit),
        repeat_locations=[(r["address"], r["n"], r["types"]) for r in repeats])
