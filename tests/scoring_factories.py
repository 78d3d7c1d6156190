"""Rows for scoring tests, inserted directly with SQL so each test states only what matters."""
from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone

_numbers = itertools.count(1)
BEIJING = timezone(timedelta(hours=8))


async def unit(conn, name: str, kind: str = "department") -> int:
    return await conn.fetchval("INSERT INTO units (kind, name) VALUES ($1, $2) RETURNING id", kind, name)


async def ticket(conn, *, called_at: datetime, category_l1: str = "物业管理", closed_at: datetime | None = None,
                 status: str = "called_back", ticket_type: str = "诉求", department_id: int | None = None,
                 community_id: int | None = None, city: tuple[bool | None, str, str, str] | None = None,
                 address: str = "", phone: str = "", appeal_kind: str = "投诉", ticket_no: str | None = None,
                 title: str = "测试工单") -> int:
    """A ticket; ``city`` = (是否有效回访, 是否联系, 是否解决, 是否满意) as the city exports them."""
    effective, contacted, solved, satisfied = city or (None, "", "", "")
    return await conn.fetchval(
        """INSERT INTO tickets (ticket_no, ticket_type, appeal_kind, category_l1, title, called_at, closed_at,
                                status, department_id, community_id, city_effective_callback, city_contacted,
                                city_solved, city_satisfied, address, caller_phone)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id""",
        ticket_no or f"S{next(_numbers):07d}", ticket_type, appeal_kind, category_l1, title, called_at, closed_at,
        status, department_id, community_id, effective, contacted, solved, satisfied, address, phone)


async def attempt(conn, ticket_id: int, attempt_no: int, *, answered_at: datetime | None,
                  answers: dict[str, str | None] | None = None, phone: str = "13800000000") -> str:
    """A finished callback attempt with the citizen's version-1 answers (question → intent)."""
    attempt_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO callback_attempts (id, ticket_id, attempt_no, phone, state, answered_at, ended_at)
           VALUES ($1, $2, $3, $4, 'finished', $5, $5)""", attempt_id, ticket_id, attempt_no, phone, answered_at)
    for question, intent in (answers or {}).items():
        await answer(conn, attempt_id, question, intent, version=1)
    return str(attempt_id)


async def answer(conn, attempt_id, question: str, intent: str | None, *, version: int,
                 transcript: str | None = None) -> None:
    source, by = ("dtmf", "citizen") if version == 1 else ("supervisor", "supervisor")
    await conn.execute(
        """INSERT INTO callback_answers (attempt_id, question, version, intent, source, transcript, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        uuid.UUID(str(attempt_id)), question, version, intent, source, transcript, by)


async def appeal(conn, ticket_id: int, state: str, decided_at: datetime | None = None) -> int:
    return await conn.fetchval(
        "INSERT INTO appeals (ticket_id, state, decided_at, grounds) VALUES ($1, $2, $3, '不合理诉求') RETURNING id",
        ticket_id, state, decided_at)


def own(contacted: str, solved: str, satisfaction: str) -> dict[str, str]:
    return {"contacted": contacted, "solved": solved, "satisfaction": satisfaction}
