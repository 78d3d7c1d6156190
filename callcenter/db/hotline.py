"""Hotline and repeat-complainant rows: calls, counseling records, callback tasks, profiles, meetings.

Every write that belongs together is one transaction (a call and its
callback task; a meeting and its attachments; a follow-up and the attempt or
task it schedules), so a crash never leaves half a record.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg

from . import callbacks

RISK_LEVELS = ("low", "medium", "high")
EMOTIONAL_STATES = ("平稳", "焦虑", "愤怒", "低落", "激动")
RULE_KINDS = ("phone", "address_category")


class HotlineInputError(ValueError):
    """A record the ledger refuses (missing field, unknown value); the message says which."""


@dataclass(frozen=True)
class CallRow:
    uniqueid: str
    queue: str
    caller_phone: str
    channel: str
    joined_at: datetime
    ended_at: datetime
    wait_seconds: float
    talk_seconds: float
    agent: str | None
    outcome: str
    recording_path: str | None = None      # set when MixMonitor was started: transcription is then pending
    abandoned_stage: str | None = None     # 'greeting' / 'consent': hung up before reaching the queue


# -- calls ----------------------------------------------------------------------------

_STAGE_NOTES = {"greeting": "问候语时挂机，未进入排队", "consent": "录音告知时挂机，未进入排队"}


async def record_call(conn: asyncpg.Connection, call: CallRow) -> tuple[int, int | None]:
    """Store a finished call (idempotent on Uniqueid); a callback request also opens its task.

    Returns (call id, callback task id or None).
    """
    async with conn.transaction():
        call_id = await conn.fetchval(
            """INSERT INTO hotline_calls (uniqueid, queue, caller_phone, channel, joined_at, ended_at,
                                          wait_seconds, talk_seconds, agent, agent_user_id, outcome,
                                          recording_path, transcription_status, abandoned_stage)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, (SELECT id FROM users WHERE username = $9), $10,
                       $11, CASE WHEN $11::text IS NULL THEN 'none' ELSE 'pending' END, $12)
               ON CONFLICT (uniqueid) DO NOTHING RETURNING id""",
            call.uniqueid, call.queue, call.caller_phone, call.channel, call.joined_at, call.ended_at,
            call.wait_seconds, call.talk_seconds, call.agent, call.outcome, call.recording_path,
            call.abandoned_stage)
        if call_id is None:
            call_id = await conn.fetchval("SELECT id FROM hotline_calls WHERE uniqueid = $1", call.uniqueid)
            task = await conn.fetchval("SELECT id FROM callback_tasks WHERE call_id = $1", call_id)
            return call_id, task
        task_id = None
        reason = ("callback_requested" if call.outcome == "callback_requested"
                  else "abandoned_before_queue" if call.abandoned_stage else None)
        if reason and call.caller_phone:
            task_id = await conn.fetchval(
                """INSERT INTO callback_tasks (call_id, caller_phone, reason, note)
                   VALUES ($1, $2, $3, $4) RETURNING id""",
                call_id, call.caller_phone, reason, _STAGE_NOTES.get(call.abandoned_stage or "", ""))
        return call_id, task_id


async def set_transcript(conn: asyncpg.Connection, call_id: int, status: str, text: str | None) -> None:
    await conn.execute("UPDATE hotline_calls SET transcription_status = $2, transcript = $3 WHERE id = $1",
                       call_id, status, text)


async def call_id_of(conn: asyncpg.Connection, uniqueid: str) -> int | None:
    return await conn.fetchval("SELECT id FROM hotline_calls WHERE uniqueid = $1", uniqueid)


async def day_stats(conn: asyncpg.Connection, since: datetime, until: datetime) -> dict:
    """Counts by outcome and answered waits for calls that joined in [since, until)."""
    rows = await conn.fetch(
        """SELECT outcome, count(*) AS n, array_agg(wait_seconds::float8) AS waits FROM hotline_calls
           WHERE joined_at >= $1 AND joined_at < $2 GROUP BY outcome""", since, until)
    by = {r["outcome"]: r for r in rows}
    early = await conn.fetchval(
        """SELECT count(*) FROM hotline_calls
           WHERE joined_at >= $1 AND joined_at < $2 AND abandoned_stage IS NOT NULL""", since, until)
    return {"answered": by["answered"]["n"] if "answered" in by else 0,
            "abandoned": by["abandoned"]["n"] if "abandoned" in by else 0,
            "abandoned_before_queue": early,
            "callback_requested": by["callback_requested"]["n"] if "callback_requested" in by else 0,
            "answered_waits": list(by["answered"]["waits"]) if "answered" in by else []}


# -- counseling records ----------------------------------------------------------------

async def add_counseling_record(conn: asyncpg.Connection, *, caller_phone: str, agent_user_id: int | None,
                                topic: str, emotional_state: str, risk_level: str, next_step: str,
                                call_id: int | None = None) -> int:
    if not topic.strip():
        raise HotlineInputError("请填写疏导主题 (topic)")
    if emotional_state not in EMOTIONAL_STATES:
        raise HotlineInputError(f"情绪状态须为 {'/'.join(EMOTIONAL_STATES)}")
    if risk_level not in RISK_LEVELS:
        raise HotlineInputError(f"风险等级须为 {'/'.join(RISK_LEVELS)}")
    if call_id is not None and await conn.fetchval("SELECT 1 FROM hotline_calls WHERE id = $1", call_id) is None:
        raise HotlineInputError(f"没有编号为 {call_id} 的来电")
    return await conn.fetchval(
        """INSERT INTO counseling_records (call_id, caller_phone, agent_user_id, topic, emotional_state,
                                           risk_level, next_step)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
        call_id, caller_phone, agent_user_id, topic.strip(), emotional_state, risk_level, next_step.strip())


# -- what the screen-pop and the profile show ------------------------------------------

async def tickets_of(conn: asyncpg.Connection, phone: str) -> list[dict]:
    rows = await conn.fetch(
        """SELECT id, ticket_no, called_at, category_l1, title, status, caller_name, address
           FROM tickets WHERE caller_phone = $1 ORDER BY called_at DESC, id DESC""", phone)
    return [dict(r) for r in rows]


async def records_of(conn: asyncpg.Connection, phone: str) -> list[dict]:
    rows = await conn.fetch(
        """SELECT r.id, r.call_id, r.topic, r.emotional_state, r.risk_level, r.next_step, r.created_at,
                  u.username AS agent
           FROM counseling_records r LEFT JOIN users u ON u.id = r.agent_user_id
           WHERE r.caller_phone = $1 ORDER BY r.created_at DESC, r.id DESC""", phone)
    return [dict(r) for r in rows]


#: The latest 质检 total of a hotline call (qa_grades, schema/0020), None while ungraded.
_QA_TOTAL = """(SELECT g.total FROM qa_grades g WHERE g.call_kind = 'hotline' AND g.call_ref = c.uniqueid
                 ORDER BY g.version DESC LIMIT 1) AS qa_total"""


async def calls_of(conn: asyncpg.Connection, phone: str) -> list[dict]:
    rows = await conn.fetch(
        f"""SELECT c.id, c.uniqueid, c.joined_at, c.outcome, c.wait_seconds::float8 AS wait_seconds,
                   c.talk_seconds::float8 AS talk_seconds, c.agent, c.recording_path, c.transcription_status,
                   {_QA_TOTAL}
              FROM hotline_calls c WHERE c.caller_phone = $1 ORDER BY c.joined_at DESC, c.id DESC""", phone)
    return [dict(r) for r in rows]


async def calls_between(conn: asyncpg.Connection, start: datetime, end: datetime, *,
                        agent: str | None = None, limit: int = 500) -> list[dict]:
    """Calls that joined the queue in [start, end), newest first, each with its latest 质检 total."""
    rows = await conn.fetch(
        f"""SELECT c.id, c.uniqueid, c.caller_phone, c.joined_at, c.outcome, c.wait_seconds::float8 AS wait_seconds,
                   c.talk_seconds::float8 AS talk_seconds, c.agent, c.recording_path IS NOT NULL AS recorded,
                   {_QA_TOTAL}
              FROM hotline_calls c
             WHERE c.joined_at >= $1 AND c.joined_at < $2 AND ($3::text IS NULL OR c.agent = $3)
             ORDER BY c.joined_at DESC, c.id DESC LIMIT $4""", start, end, agent, limit)
    return [dict(r) for r in rows]


# -- repeat-complainant rules and profiles ----------------------------------------------

async def rules(conn: asyncpg.Connection) -> list[dict]:
    return [dict(r) for r in await conn.fetch(
        "SELECT kind, min_tickets, window_days, enabled FROM repeat_rules ORDER BY kind DESC")]


async def set_rule(conn: asyncpg.Connection, kind: str, min_tickets: int, window_days: int, enabled: bool) -> None:
    if kind not in RULE_KINDS:
        raise HotlineInputError(f"未知规则 {kind}")
    if min_tickets < 2 or not 1 <= window_days <= 3650:
        raise HotlineInputError("次数至少为 2, 天数须在 1–3650 之间")
    await conn.execute(
        """UPDATE repeat_rules SET min_tickets = $2, window_days = $3, enabled = $4, updated_at = now()
           WHERE kind = $1""", kind, min_tickets, window_days, enabled)


_BY_PHONE = """
    SELECT t.caller_phone AS phone, count(*) AS n FROM tickets t, repeat_rules r
    WHERE r.kind = 'phone' AND r.enabled AND t.caller_phone <> ''
      AND t.called_at >= $1::timestamptz - make_interval(days => r.window_days)
      AND ($2::text IS NULL OR t.caller_phone = $2)
    GROUP BY t.caller_phone, r.min_tickets HAVING count(*) >= r.min_tickets"""
# Phones on tickets about an address+category that reached the threshold.
_BY_ADDRESS = """
    WITH hot AS (
        SELECT t.address, t.category_l1 FROM tickets t, repeat_rules r
        WHERE r.kind = 'address_category' AND r.enabled AND t.address <> ''
          AND t.called_at >= $1::timestamptz - make_interval(days => r.window_days)
        GROUP BY t.address, t.category_l1, r.min_tickets HAVING count(*) >= r.min_tickets)
    SELECT DISTINCT t.caller_phone AS phone FROM tickets t JOIN hot USING (address, category_l1)
    WHERE t.caller_phone <> '' AND ($2::text IS NULL OR t.caller_phone = $2)"""


async def detect(conn: asyncpg.Connection, now: datetime, phone: str | None = None) -> dict[str, str]:
    """Phones the enabled rules flag right now → the rule that flagged them (phone rule first)."""
    found: dict[str, str] = {}
    for row in await conn.fetch(_BY_PHONE, now, phone):
        found.setdefault(row["phone"], "phone")
    for row in await conn.fetch(_BY_ADDRESS, now, phone):
        found.setdefault(row["phone"], "address_category")
    return found


async def refresh_profiles(conn: asyncpg.Connection, now: datetime) -> int:
    """Open a profile for every newly flagged phone (existing profiles are kept); returns how many."""
    flagged = await detect(conn, now)
    added = 0
    async with conn.transaction():
        for phone, kind in sorted(flagged.items()):
            made = await conn.fetchval(
                """INSERT INTO repeat_profiles (phone, name, address, flagged_by)
                   SELECT $1, coalesce((SELECT caller_name FROM tickets WHERE caller_phone = $1
                                        ORDER BY called_at DESC LIMIT 1), ''),
                          coalesce((SELECT address FROM tickets WHERE caller_phone = $1
                                    ORDER BY called_at DESC LIMIT 1), ''), $2
                   ON CONFLICT (phone) DO NOTHING RETURNING id""", phone, kind)
            added += made is not None
    return added


async def repeat_status(conn: asyncpg.Connection, phone: str, now: datetime) -> dict:
    """Whether a caller is a repeat complainant: has a profile, or a rule flags them now."""
    profile_id = await conn.fetchval("SELECT id FROM repeat_profiles WHERE phone = $1", phone)
    rule = (await detect(conn, now, phone)).get(phone) if phone else None
    return {"is_repeat": profile_id is not None or rule is not None, "profile_id": profile_id, "rule": rule}


async def add_profile(conn: asyncpg.Connection, phone: str, name: str = "", note: str = "") -> int:
    if not phone:
        raise HotlineInputError("请填写电话号码")
    return await conn.fetchval(
        """INSERT INTO repeat_profiles (phone, name, flagged_by, note) VALUES ($1, $2, 'manual', $3)
           ON CONFLICT (phone) DO UPDATE SET updated_at = now() RETURNING id""", phone, name, note)


async def profiles(conn: asyncpg.Connection) -> list[dict]:
    rows = await conn.fetch(
        """SELECT p.id, p.phone, p.name, p.address, p.flagged_by, p.created_at,
                  (SELECT count(*) FROM tickets t WHERE t.caller_phone = p.phone) AS tickets,
                  (SELECT count(*) FROM repeat_meetings m WHERE m.profile_id = p.id) AS meetings,
                  (SELECT max(met_on) FROM repeat_meetings m WHERE m.profile_id = p.id) AS last_met
           FROM repeat_profiles p ORDER BY p.created_at DESC, p.id DESC""")
    return [dict(r) for r in rows]


async def profile(conn: asyncpg.Connection, profile_id: int) -> dict | None:
    row = await conn.fetchrow("SELECT * FROM repeat_profiles WHERE id = $1", profile_id)
    return dict(row) if row else None


# -- meetings (见面台账) ------------------------------------------------------------------

@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


async def add_meeting(conn: asyncpg.Connection, profile_id: int, *, met_on: date, place: str, participants: str,
                      discussion: str, follow_up: str, created_by: int | None,
                      attachments: list[Attachment] = ()) -> int:
    missing = [label for label, value in (("地点", place), ("参与人员", participants), ("沟通内容", discussion))
               if not value.strip()]
    if missing:
        raise HotlineInputError("请填写: " + "、".join(missing))
    async with conn.transaction():
        if await conn.fetchval("SELECT 1 FROM repeat_profiles WHERE id = $1", profile_id) is None:
            raise HotlineInputError(f"没有编号为 {profile_id} 的重复诉求人")
        meeting_id = await conn.fetchval(
            """INSERT INTO repeat_meetings (profile_id, met_on, place, participants, discussion, follow_up,
                                            created_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
            profile_id, met_on, place.strip(), participants.strip(), discussion.strip(), follow_up.strip(),
            created_by)
        for a in attachments:
            await conn.execute(
                """INSERT INTO repeat_meeting_attachments (meeting_id, filename, content_type, data)
                   VALUES ($1, $2, $3, $4)""", meeting_id, a.filename, a.content_type, a.data)
    return meeting_id


async def meetings_of(conn: asyncpg.Connection, profile_id: int) -> list[dict]:
    rows = await conn.fetch(
        """SELECT m.*, coalesce((SELECT json_agg(json_build_object('id', a.id, 'filename', a.filename)
                                                 ORDER BY a.id)::text
                                 FROM repeat_meeting_attachments a WHERE a.meeting_id = m.id), '[]') AS files
           FROM repeat_meetings m WHERE m.profile_id = $1 ORDER BY m.met_on DESC, m.id DESC""", profile_id)
    return [dict(r) for r in rows]


async def attachment(conn: asyncpg.Connection, attachment_id: int) -> Attachment | None:
    row = await conn.fetchrow(
        "SELECT filename, content_type, data FROM repeat_meeting_attachments WHERE id = $1", attachment_id)
    return Attachment(row["filename"], row["content_type"], bytes(row["data"])) if row else None


async def ledger_rows(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The 见面台账 as the street reports it upward: one row per meeting, with the person's counts."""
    return await conn.fetch(
        """SELECT p.name, p.phone, p.address, p.flagged_by,
                  (SELECT count(*) FROM tickets t WHERE t.caller_phone = p.phone) AS tickets,
                  m.met_on, m.place, m.participants, m.discussion, m.follow_up,
                  (SELECT count(*) FROM repeat_meeting_attachments a WHERE a.meeting_id = m.id) AS files
           FROM repeat_meetings m JOIN repeat_profiles p ON p.id = m.profile_id
           ORDER BY m.met_on, m.id""")


# -- callback tasks and follow-ups ------------------------------------------------------

async def open_tasks(conn: asyncpg.Connection, *, user_id: int | None = None) -> list[dict]:
    """Open tasks, soonest due first (those due later too: the page shows each with its time), the agent's own
    and unassigned ones (all when user_id is None)."""
    rows = await conn.fetch(
        """SELECT t.id, t.caller_phone, t.reason, t.due_at, t.note, t.call_id, u.username AS assigned
           FROM callback_tasks t LEFT JOIN users u ON u.id = t.assigned_to
           WHERE t.status = 'open' AND ($1::int IS NULL OR t.assigned_to IS NULL OR t.assigned_to = $1)
           ORDER BY t.due_at, t.id""", user_id)
    return [dict(r) for r in rows]


async def finish_task(conn: asyncpg.Connection, task_id: int, status: str = "done") -> bool:
    if status not in ("done", "cancelled"):
        raise HotlineInputError("任务状态须为 done 或 cancelled")
    return await conn.fetchval(
        """UPDATE callback_tasks SET status = $2, done_at = now() WHERE id = $1 AND status = 'open'
           RETURNING true""", task_id, status) is not None


async def schedule_followup(conn: asyncpg.Connection, profile_id: int, due_at: datetime, *, via: str,
                            created_by: int | None, campaign_id: int | None = None,
                            agent_user_id: int | None = None, script: str = "repeat_followup") -> int:
    """A follow-up call: an attempt for the campaign engine (on the person's latest ticket) or an agent task."""
    async with conn.transaction():
        person = await conn.fetchrow("SELECT id, phone FROM repeat_profiles WHERE id = $1 FOR UPDATE", profile_id)
        if person is None:
            raise HotlineInputError(f"没有编号为 {profile_id} 的重复诉求人")
        attempt_id, task_id = None, None
        if via == "campaign":
            if campaign_id is None or await conn.fetchval(
                    "SELECT 1 FROM campaigns WHERE id = $1", campaign_id) is None:
                raise HotlineInputError("请选择一个回访活动 (campaign)")
            ticket_id = await conn.fetchval(
                "SELECT id FROM tickets WHERE caller_phone = $1 ORDER BY called_at DESC, id DESC LIMIT 1",
                person["phone"])
            if ticket_id is None:
                raise HotlineInputError("此人没有工单, 无法由外呼活动回访; 请指派坐席")
            attempt_id = await callbacks.create_attempt(conn, ticket_id, phone=person["phone"], script=script)
            await conn.execute("UPDATE callback_attempts SET campaign_id = $2, due_at = $3, note = $4 WHERE id = $1",
                               attempt_id, campaign_id, due_at, f"repeat-profile:{profile_id}")
        elif via == "agent":
            task_id = await conn.fetchval(
                """INSERT INTO callback_tasks (caller_phone, reason, assigned_to, due_at, note)
                   VALUES ($1, 'repeat_followup', $2, $3, $4) RETURNING id""",
                person["phone"], agent_user_id, due_at, f"重复诉求人回访 #{profile_id}")
        else:
            raise HotlineInputError("回访方式须为 campaign 或 agent")
        return await conn.fetchval(
            """INSERT INTO repeat_followups (profile_id, due_at, via, callback_attempt_id, callback_task_id,
                                             created_by)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
            profile_id, due_at, via, attempt_id, task_id, created_by)


async def followups_of(conn: asyncpg.Connection, profile_id: int) -> list[dict]:
    rows = await conn.fetch(
        """SELECT f.id, f.due_at, f.via, a.state AS attempt_state, a.outcome AS attempt_outcome,
                  t.status AS task_status, u.username AS agent
           FROM repeat_followups f
           LEFT JOIN callback_attempts a ON a.id = f.callback_attempt_id
           LEFT JOIN callback_tasks t ON t.id = f.callback_task_id
           LEFT JOIN users u ON u.id = t.assigned_to
           WHERE f.profile_id = $1 ORDER BY f.due_at DESC, f.id DESC""", profile_id)
    return [dict(r) for r in rows]


def today_bounds(now: datetime, tz) -> tuple[datetime, datetime]:
    """[midnight, next midnight) of ``now``'s day in the office time zone."""
    local = now.astimezone(tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)



async def call_by_uniqueid(conn: asyncpg.Connection, uniqueid: str) -> dict | None:
    row = await conn.fetchrow("SELECT id, caller_phone, agent FROM hotline_calls WHERE uniqueid = $1", uniqueid)
    return dict(row) if row else None


async def task(conn: asyncpg.Connection, task_id: int) -> dict | None:
    row = await conn.fetchrow("SELECT id, caller_phone, status, assigned_to FROM callback_tasks WHERE id = $1",
                              task_id)
    return dict(row) if row else None


async def high_risk_since(conn: asyncpg.Connection, since: datetime) -> list[dict]:
    """High-risk counseling records since ``since``, oldest first: what the wall shows after a (re)connect."""
    rows = await conn.fetch(
        """SELECT r.id AS record_id, u.username AS agent, r.caller_phone AS phone, r.topic, r.next_step,
                  p.id AS profile_id
           FROM counseling_records r LEFT JOIN users u ON u.id = r.agent_user_id
           LEFT JOIN repeat_profiles p ON p.phone = r.caller_phone
           WHERE r.risk_level = 'high' AND r.created_at >= $1 ORDER BY r.created_at, r.id""", since)
    return [dict(r) for r in rows]
