"""Campaigns and trunks: creation, state changes and progress counters."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import asyncpg

from ..campaigns.lifecycle import CampaignState, transition
from ..campaigns.outcomes import Outcome, RetryPolicy
from ..campaigns.windows import CallingWindows
from ..scoring.rates import Counts


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    script: str
    state: CampaignState
    trunk_id: int
    caller_id: str
    windows: CallingWindows
    policy: RetryPolicy
    daily_cap_per_number: int
    standing: bool


@dataclass(frozen=True)
class CampaignSpec:
    """What an operator fills in to create a campaign (CLI or web form)."""
    name: str
    trunk: str
    script: str = "callback_three_rates"
    standing: bool = False
    closed_from: datetime | None = None
    closed_to: datetime | None = None
    department_id: int | None = None
    community_id: int | None = None
    category_l1: str | None = None
    windows: tuple[str, ...] = ("09:00-12:00", "14:00-20:00")
    max_attempts: int = 3
    retry_busy: timedelta = timedelta(minutes=30)
    retry_no_answer: timedelta = timedelta(hours=2)
    retry_failed: timedelta = timedelta(hours=1)
    retry_partial: timedelta = timedelta(hours=2)
    retry_no_answer_elsewhere: bool = True    # no-answer retries go to another window segment
    daily_cap_per_number: int = 2
    caller_id: str = ""
    created_by: str = ""
    extra: dict = field(default_factory=dict)


class CampaignNotFound(LookupError):
    pass


async def upsert_trunk(conn: asyncpg.Connection, name: str, dial_template: str, max_channels: int,
                       max_cps: float, caller_id: str = "") -> int:
    return await conn.fetchval(
        """INSERT INTO trunks (name, dial_template, max_channels, max_cps, caller_id)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (name) DO UPDATE SET dial_template = excluded.dial_template,
               max_channels = excluded.max_channels, max_cps = excluded.max_cps, caller_id = excluded.caller_id
           RETURNING id""", name, dial_template, max_channels, max_cps, caller_id)


async def trunk_by_name(conn: asyncpg.Connection, name: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM trunks WHERE name = $1", name)


async def trunks_by_id(conn: asyncpg.Connection) -> dict[int, asyncpg.Record]:
    """Every trunk with its limits, for the dialer's refresh."""
    return {r["id"]: r for r in await conn.fetch("SELECT * FROM trunks")}


async def create_campaign(conn: asyncpg.Connection, spec: CampaignSpec) -> int:
    CallingWindows.parse(spec.windows)          # validates before anything is written
    RetryPolicy(max_attempts=spec.max_attempts)
    trunk_id = await conn.fetchval("SELECT id FROM trunks WHERE name = $1", spec.trunk)
    if trunk_id is None:
        raise CampaignNotFound(f"中继 {spec.trunk!r} 不存在")
    try:
        return await conn.fetchval(
            """INSERT INTO campaigns (name, script, standing, closed_from, closed_to, department_id,
                   community_id, category_l1, windows, max_attempts, retry_busy_s, retry_no_answer_s,
                   retry_failed_s, retry_partial_s, daily_cap_per_number, trunk_id, caller_id, created_by,
                   retry_no_answer_elsewhere)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19) RETURNING id""",
            spec.name, spec.script, spec.standing, spec.closed_from, spec.closed_to, spec.department_id,
            spec.community_id, spec.category_l1, list(spec.windows), spec.max_attempts,
            int(spec.retry_busy.total_seconds()), int(spec.retry_no_answer.total_seconds()),
            int(spec.retry_failed.total_seconds()), int(spec.retry_partial.total_seconds()),
            spec.daily_cap_per_number, trunk_id, spec.caller_id, spec.created_by, spec.retry_no_answer_elsewhere)
    except asyncpg.UniqueViolationError:
        raise ValueError(f"活动名称 {spec.name!r} 已存在") from None


def _campaign(row: asyncpg.Record, holidays: frozenset[date]) -> Campaign:
    policy = RetryPolicy(max_attempts=row["max_attempts"], delays={
        Outcome.BUSY: timedelta(seconds=row["retry_busy_s"]),
        Outcome.NO_ANSWER: timedelta(seconds=row["retry_no_answer_s"]),
        Outcome.FAILED: timedelta(seconds=row["retry_failed_s"]),
        Outcome.ANSWERED_PARTIAL: timedelta(seconds=row["retry_partial_s"]),
    }, no_answer_elsewhere=row["retry_no_answer_elsewhere"])
    return Campaign(row["id"], row["name"], row["script"], CampaignState(row["state"]), row["trunk_id"],
                    row["caller_id"], CallingWindows.parse(row["windows"], holidays), policy,
                    row["daily_cap_per_number"], row["standing"])


async def holidays(conn: asyncpg.Connection) -> frozenset[date]:
    return frozenset(r["day"] for r in await conn.fetch("SELECT day FROM holidays"))


async def load_campaigns(conn: asyncpg.Connection, *, states: tuple[str, ...] = ("running",)) -> list[Campaign]:
    hol = await holidays(conn)
    rows = await conn.fetch("SELECT * FROM campaigns WHERE state = ANY($1::text[]) ORDER BY id", list(states))
    return [_campaign(r, hol) for r in rows]


async def get_campaign(conn: asyncpg.Connection, campaign: int | str) -> Campaign:
    if isinstance(campaign, int):
        row = await conn.fetchrow("SELECT * FROM campaigns WHERE id = $1", campaign)
    else:
        row = await conn.fetchrow("SELECT * FROM campaigns WHERE name = $1", campaign)
    if row is None:
        raise CampaignNotFound(f"活动 {campaign!r} 不存在")
    return _campaign(row, await holidays(conn))


async def change_state(conn: asyncpg.Connection, campaign_id: int, command: str, *, actor: str) -> CampaignState:
    """start / pause / resume / stop, audited; stopping cancels attempts not yet dialed (their tickets
    are then free for the next campaign: dialer._ELIGIBLE)."""
    async with conn.transaction():
        current = await conn.fetchval("SELECT state FROM campaigns WHERE id = $1 FOR UPDATE", campaign_id)
        if current is None:
            raise CampaignNotFound(f"活动 {campaign_id} 不存在")
        target = transition(current, command)
        await conn.execute(
            """UPDATE campaigns SET state = $2,
                   started_at = CASE WHEN $2 = 'running' THEN coalesce(started_at, now()) ELSE started_at END,
                   finished_at = CASE WHEN $2 = 'finished' THEN now() ELSE finished_at END
               WHERE id = $1""", campaign_id, target.value)
        if target is CampaignState.FINISHED:
            await conn.execute(
                """UPDATE callback_attempts SET state = 'cancelled', settled = true, updated_at = now()
                    WHERE campaign_id = $1 AND state = 'pending'""", campaign_id)
        await conn.execute(
            "INSERT INTO audit_log (actor, action, object_type, object_id, detail) VALUES ($1, $2, 'campaign', $3, $4)",
            actor, f"campaign.{command}", str(campaign_id), {"from": current, "to": target.value})
    return target


async def progress(conn: asyncpg.Connection, campaign_id: int) -> dict[str, int]:
    """Counters for the terminal and the web: attempts by state and outcome."""
    rows = await conn.fetch(
        """SELECT coalesce(outcome, state) AS k, count(*) AS n FROM callback_attempts
            WHERE campaign_id = $1 GROUP BY 1""", campaign_id)
    counts = {r["k"]: r["n"] for r in rows}
    counts["placed"] = sum(n for k, n in counts.items() if k not in ("pending", "cancelled"))
    counts["tickets"] = await conn.fetchval(
        "SELECT count(DISTINCT ticket_id) FROM callback_attempts WHERE campaign_id = $1", campaign_id)
    # Tickets whose callback is not over yet: a call pending, live, or not yet settled into a retry/ledger step.
    counts["open_tickets"] = await conn.fetchval(
        """SELECT count(DISTINCT ticket_id) FROM callback_attempts
            WHERE campaign_id = $1 AND (state IN ('pending', 'dialing', 'answered')
                                        OR (state = 'finished' AND NOT settled))""", campaign_id)
    return counts


async def unit_id(conn: asyncpg.Connection, kind: str, name: str) -> int:
    found = await conn.fetchval("SELECT id FROM units WHERE kind = $1 AND name = $2", kind, name)
    if found is None:
        raise CampaignNotFound(f"{'科室' if kind == 'department' else '社区'} {name!r} 不存在")
    return found


async def list_campaigns(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT c.id, c.name, c.state, c.script, c.standing, t.name AS trunk, c.created_at,
                  (SELECT count(*) FROM callback_attempts a WHERE a.campaign_id = c.id) AS attempts
             FROM campaigns c JOIN trunks t ON t.id = c.trunk_id ORDER BY c.id""")


async def add_holiday(conn: asyncpg.Connection, day: date, name: str) -> None:
    await conn.execute("INSERT INTO holidays (day, name) VALUES ($1, $2) ON CONFLICT (day) DO UPDATE "
                       "SET name = excluded.name", day, name)


async def add_do_not_call(conn: asyncpg.Connection, phone: str, reason: str, actor: str) -> int:
    """List a number for good; its robot calls not yet dialled are cancelled (their tickets stay 待回访 for
    a person).  Returns how many were cancelled."""
    async with conn.transaction():
        await conn.execute("INSERT INTO do_not_call (phone, reason, created_by) VALUES ($1, $2, $3) "
                           "ON CONFLICT (phone) DO UPDATE SET reason = excluded.reason", phone, reason, actor)
        status = await conn.execute(
            """UPDATE callback_attempts SET state = 'cancelled', settled = true, updated_at = now()
                WHERE phone = $1 AND state = 'pending'""", phone)
        await conn.execute(
            "INSERT INTO audit_log (actor, action, object_type, object_id, detail) "
            "VALUES ($1, 'dnc.add', 'phone', $2, $3)", actor, phone, {"reason": reason})
    return int(status.split()[-1])


async def answer_counts(conn: asyncpg.Connection, campaign_id: int) -> Counts:
    """This campaign's callbacks with all three answers understood (newest version of each), as rate tallies."""
    row = await conn.fetchrow(
        """WITH cur AS (
               SELECT DISTINCT ON (r.attempt_id, r.question) r.attempt_id, r.question, r.intent
                 FROM callback_answers r JOIN callback_attempts a ON a.id = r.attempt_id
                WHERE a.campaign_id = $1 AND r.question IN ('contacted', 'solved', 'satisfaction')
                ORDER BY r.attempt_id, r.question, r.version DESC),
           per AS (
               SELECT max(intent) FILTER (WHERE question = 'contacted') AS c,
                      max(intent) FILTER (WHERE question = 'solved') AS s,
                      max(intent) FILTER (WHERE question = 'satisfaction') AS m
                 FROM cur GROUP BY attempt_id)
           SELECT count(*) AS n, count(*) FILTER (WHERE c = 'yes') AS contacted,
                  count(*) FILTER (WHERE s = 'solved') AS solved, count(*) FILTER (WHERE s = 'partly') AS partly,
                  count(*) FILTER (WHERE m = 'satisfied') AS satisfied, count(*) FILTER (WHERE m = 'basic') AS basic
             FROM per WHERE c IS NOT NULL AND s IS NOT NULL AND m IS NOT NULL""", campaign_id)
    return Counts(volume=row["n"], **dict(row))
