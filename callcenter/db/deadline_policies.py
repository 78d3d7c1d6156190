"""Dated deadline policies (deadline_policies): list them, add one taking effect on a date.

Like rule sets, a policy is never edited in place: the city's new limits are a
new row with the date they take effect, so old tickets keep the limits they
were dispatched under.
"""
from __future__ import annotations

import asyncpg

from ..ledger.deadlines import DeadlinePolicy, policy_problems
from .ticket_queries import record_audit


class PolicyRejected(ValueError):
    """The policy is unusable or its date is taken; the message says which."""


async def list_policies(conn) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT effective_from, sign_hours, contact_hours, contact_hours_urgent, close_days,
                  close_days_complex, close_hours_urgent, note, created_at
             FROM deadline_policies ORDER BY effective_from""")


async def add_policy(conn: asyncpg.Connection, policy: DeadlinePolicy, *, note: str, actor: str) -> None:
    """Store a new dated policy (and an audit row); raises :class:`PolicyRejected`."""
    problems = policy_problems(policy)
    if problems:
        raise PolicyRejected("；".join(problems))
    async with conn.transaction():
        try:
            await conn.execute(
                """INSERT INTO deadline_policies (effective_from, sign_hours, contact_hours, contact_hours_urgent,
                                                  close_days, close_days_complex, close_hours_urgent, note)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
                policy.effective_from, policy.sign_hours, policy.contact_hours, policy.contact_hours_urgent,
                policy.close_days, policy.close_days_complex, policy.close_hours_urgent, note)
        except asyncpg.UniqueViolationError:
            raise PolicyRejected(f"{policy.effective_from.isoformat()} 已有一条办理期限规则") from None
        await record_audit(conn, actor, "deadline_policy_add", object_type="deadline_policy",
                           object_id=policy.effective_from.isoformat(), detail={"note": note})
