"""The dialer's queue in PostgreSQL: enrol tickets, claim due attempts, settle outcomes.

Claims use ``FOR UPDATE SKIP LOCKED`` under a per-trunk advisory lock, so any
number of service instances can share one database: none ever takes the same
attempt, the trunk's channel limit holds across all of them, and the unique
index on live phones makes a second simultaneous call to a number impossible.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from ..campaigns.outcomes import NextStep, Outcome
from ..ledger import flow
from ..ledger.timezone import office_day_start
from . import desk, tickets

_TRUNK_LOCK = 0x7472  # "tr": namespace of the per-trunk advisory locks


@dataclass(frozen=True)
class Claimed:
    """An attempt written ``dialing`` and ready for its Originate."""
    attempt_id: uuid.UUID
    ticket_id: int
    ticket_no: str
    campaign_id: int
    phone: str
    script: str
    round_attempt: int
    action_id: uuid.UUID
    channel_id: uuid.UUID
    other_channel_id: uuid.UUID


ANALYZE_AFTER_ENROLLING = 1000      # attempts created at once that call for fresh planner statistics


#: The 待回访 tickets a campaign ($1) takes in: its filters, and not yet called since they began waiting.
#: An attempt a stopped campaign cancelled is no call, and a round it cut short (a later attempt of the
#: ticket cancelled) is over: those tickets go to the next campaign, in a round of their own.  A ticket
#: in a round, or whose round ended without moving it on (handed to the desk), is not taken.  Nor is a
#: number on the do-not-call list: its tickets wait for a person (a desk or manual entry), not a robot.
_ELIGIBLE = """
          FROM campaigns c
          JOIN tickets t ON t.status = 'awaiting_callback' AND t.caller_phone <> ''
         WHERE c.id = $1
           AND NOT EXISTS (SELECT 1 FROM do_not_call d WHERE d.phone = t.caller_phone)
           AND (c.closed_from IS NULL OR t.closed_at >= c.closed_from)
           AND (c.closed_to IS NULL OR t.closed_at < c.closed_to)
           AND (c.department_id IS NULL OR t.department_id = c.department_id)
           AND (c.community_id IS NULL OR t.community_id = c.community_id)
           AND (c.category_l1 IS NULL OR t.category_l1 = c.category_l1)
           AND NOT EXISTS (SELECT 1 FROM callback_attempts a
                            WHERE a.ticket_id = t.id
                              AND a.created_at >= coalesce(t.awaiting_since, t.created_at)
                              AND a.state <> 'cancelled'
                              AND NOT EXISTS (SELECT 1 FROM callback_attempts later
                                               WHERE later.ticket_id = a.ticket_id
                                                 AND later.attempt_no > a.attempt_no
                                                 AND later.state = 'cancelled'))"""


#: How long after a number joins the do-not-call list the sweep still looks for its calls: an enrolment
#: that ran beside the listing (and did not see it) is caught on the next round.
DNC_SWEEP_WINDOW = timedelta(hours=1)


async def cancel_undiallable(conn: asyncpg.Connection, now: datetime) -> int:
    """Cancel attempts pending that no claim will ever dial, so their campaign can end and their tickets
    are free again: those of a stopped campaign (the retry of a call still live when it stopped, settled
    after the stop's own cancelling), and those of a number put on the do-not-call list lately (listing
    cancels its calls itself; this catches one enrolled beside it)."""
    status = await conn.execute(
        """UPDATE callback_attempts a SET state = 'cancelled', settled = true, updated_at = now()
            WHERE a.state = 'pending'
              AND (a.campaign_id IN (SELECT id FROM campaigns WHERE state = 'finished')
                   OR a.phone IN (SELECT phone FROM do_not_call WHERE created_at >= $1))""",
        now - DNC_SWEEP_WINDOW)
    return int(status.split()[-1])


async def count_eligible(conn: asyncpg.Connection, campaign_id: int) -> int:
    """How many tickets starting the campaign now would take in (the same rule as :func:`enrol`)."""
    return await conn.fetchval("SELECT count(*)" + _ELIGIBLE, campaign_id)


async def capped_today(conn: asyncpg.Connection, campaign_id: int, now: datetime) -> int:
    """This campaign's calls waiting whose number has had its daily cap of calls today: they wait for tomorrow
    (the claim's rule), which an operator watching a campaign that stopped dialling should be told."""
    return await conn.fetchval(
        """SELECT count(*) FROM callback_attempts a JOIN campaigns c ON c.id = a.campaign_id
            WHERE a.campaign_id = $1 AND a.state = 'pending'
              AND (SELECT count(*) FROM callback_attempts p WHERE p.phone = a.phone AND p.dialed_at >= $2)
                  >= c.daily_cap_per_number""", campaign_id, office_day_start(now))


async def enrol(conn: asyncpg.Connection, campaign_id: int, *, due_at: datetime) -> int:
    """Create round attempt #1 for every matching 待回访 ticket not yet called this round.

    Only while the campaign runs: the dialer's list of running campaigns is a moment old, and a campaign
    stopped or paused in that moment must not take in tickets (a stopped one would show tickets it never
    called; a paused one would hold them from another campaign)."""
    status = await conn.execute(
        """
        INSERT INTO callback_attempts (id, ticket_id, campaign_id, attempt_no, round_attempt, phone, script,
                                       due_at, trunk_id)
        SELECT gen_random_uuid(), t.id, c.id,
               coalesce((SELECT max(attempt_no) FROM callback_attempts x WHERE x.ticket_id = t.id), 0) + 1,
               1, t.caller_phone, c.script, $2, c.trunk_id
        """ + _ELIGIBLE + """
           AND c.state = 'running'
        ON CONFLICT DO NOTHING
        """, campaign_id, due_at)
    inserted = int(status.split()[-1])
    if inserted >= ANALYZE_AFTER_ENROLLING:
        # The due queue just changed shape; autovacuum would notice within minutes, and until then the
        # claim query is planned for the old queue (seen as a long utilisation dip in bench/campaign.py).
        await conn.execute("ANALYZE callback_attempts")
    return inserted


async def claim_due(conn: asyncpg.Connection, *, trunk_id: int, campaign_ids: list[int], limit: int,
                    instance: str, now: datetime) -> list[Claimed]:
    """Claim up to ``limit`` due attempts of open campaigns on one trunk and write them ``dialing``.

    The caller passes only campaigns whose calling window is open at ``now``.
    Numbers on the do-not-call list, numbers already in a live call, and numbers
    that reached their daily cap are left for later; the trunk's channel limit
    holds across instances.  One statement (schema/0027's ``claim_due_attempts``):
    a claim's round trips each waited behind every live call's work on the
    service's event loop, and freed channels idled meanwhile.
    """
    if limit <= 0 or not campaign_ids:
        return []
    rows = await conn.fetch("SELECT * FROM claim_due_attempts($1, $2, $3::bigint[], $4, $5, $6, $7)",
                            now, trunk_id, campaign_ids, office_day_start(now), limit, instance, _TRUNK_LOCK)
    return [Claimed(*row) for row in rows]


async def release_unsent(conn: asyncpg.Connection, attempt_id: uuid.UUID) -> None:
    """Put back an attempt whose Originate was certainly never sent (e.g. the link was down)."""
    await conn.execute(
        """UPDATE callback_attempts SET state = 'pending', claimed_by = NULL, dialed_at = NULL,
                  action_id = NULL, channel_id = NULL, other_channel_id = NULL, updated_at = now()
            WHERE id = $1 AND state = 'dialing'""", attempt_id)


async def mark_answered(conn: asyncpg.Connection, attempt_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        """UPDATE callback_attempts SET state = 'answered', answered_at = coalesce(answered_at, $2),
                  updated_at = now() WHERE id = $1 AND state = 'dialing'""", attempt_id, at)


async def finish(conn: asyncpg.Connection, attempt_id: uuid.UUID, *, outcome: Outcome, ended_at: datetime,
                 reason: int | None = None, cause: int | None = None, note: str = "",
                 answered_at: datetime | None = None, retry: tuple[int, datetime] | None = None
                 ) -> "Unsettled | None":
    """Write the final outcome of a call once; a second report of the same call changes nothing (None).

    An outcome the IVR already stored (complete / partial / refused) is kept: the
    PBX's view of the hang-up never overrides what the citizen said.  Returns the
    finished attempt as :func:`settle` needs it, so settling costs no extra query.
    ``answered_at``: when the PBX said it was answered, kept unless the IVR wrote a time first.

    ``retry``: (round, due) — the retry the caller worked out for ``outcome`` on that round (a call
    nobody answered, attempts left).  When the attempt is on that round and the outcome and end time
    written are the caller's (none stored before), its next step is exactly that retry: it is
    settled in this same statement, one round trip instead of two, and the result says ``settled``.
    Otherwise the caller settles as usual.
    """
    round_attempt, retry_at = retry if retry is not None else (None, None)
    row = await conn.fetchrow(_FINISH, attempt_id, outcome.value, ended_at, reason, cause, note, answered_at,
                              retry_at, round_attempt)
    return _unsettled(row) if row is not None else None


#: The next attempt of a settled one (``s``: its ticket, campaign, phone, script, round, trunk), due at
#: ``{due}``.  It takes the ticket's next number; (ticket_id, attempt_no) is unique, so two settles of one
#: ticket cannot both write one.
_INSERT_RETRY = """
    INSERT INTO callback_attempts (id, ticket_id, campaign_id, attempt_no, round_attempt, phone, script, due_at,
                                   trunk_id)
    SELECT gen_random_uuid(), s.ticket_id, s.campaign_id,
           (SELECT max(attempt_no) + 1 FROM callback_attempts WHERE ticket_id = s.ticket_id),
           s.round_attempt + 1, s.phone, s.script, {due}, s.trunk_id
      FROM {source} s"""

_FINISH = f"""
WITH finished AS (
    UPDATE callback_attempts a
       SET state = 'finished', outcome = coalesce(outcome, $2), ended_at = coalesce(ended_at, $3),
           originate_reason = coalesce(originate_reason, $4), hangup_cause = coalesce(hangup_cause, $5),
           note = CASE WHEN $6 = '' THEN note ELSE $6 END, answered_at = coalesce(answered_at, $7),
           settled = settled OR ($8::timestamptz IS NOT NULL AND outcome IS NULL AND ended_at IS NULL
                                 AND round_attempt = $9),
           updated_at = now()
     WHERE id = $1 AND state IN ('dialing', 'answered')
 RETURNING id, ticket_id, campaign_id, outcome, round_attempt, ended_at, settled, phone, script, trunk_id,
           {desk.ESCALATION_FACTS}),
retry AS ({_INSERT_RETRY.format(due="$8", source="finished")} WHERE s.settled)
SELECT * FROM finished"""


async def ivr_verdict(conn: asyncpg.Connection, attempt_id: uuid.UUID) -> str | None:
    """The outcome the IVR stored at the end of the call (callbacks.finish_attempt), if it has yet."""
    return await conn.fetchval("SELECT outcome FROM callback_attempts WHERE id = $1", attempt_id)


async def answered_outcome(conn: asyncpg.Connection, attempt_id: uuid.UUID,
                           questions: tuple[str, ...] = ("contacted", "solved", "satisfaction")) -> Outcome:
    """The stored answers' verdict on an answered call the IVR gave none for (it never ran, it was cut
    off, a restart came between), by the IVR's own rule (ivr.answers.outcome_of): complete when every
    scored question has an understood answer, partial with any answer, else not reached — a citizen who
    picked up and heard no question is not 已回访 once the attempts run out."""
    row = await conn.fetchrow(
        """SELECT count(DISTINCT question) FILTER (WHERE question = ANY($2::text[]) AND intent IS NOT NULL)
                      AS understood,
                  count(*) AS given
             FROM callback_answers WHERE attempt_id = $1""", attempt_id, list(questions))
    if row["understood"] == len(questions):
        return Outcome.ANSWERED_COMPLETE
    return Outcome.ANSWERED_PARTIAL if row["given"] else Outcome.NO_ANSWER


@dataclass(frozen=True)
class Unsettled:
    attempt_id: uuid.UUID
    ticket_id: int
    campaign_id: int
    outcome: Outcome
    round_attempt: int
    ended_at: datetime
    escalation: str | None = None       # why a person should call once the robot is done (desk.escalation_for)
    settled: bool = False               # its next step is applied already (finish's ``retry``)


async def unsettled(conn: asyncpg.Connection, limit: int = 500,
                    attempt_ids: list[uuid.UUID] | None = None) -> list[Unsettled]:
    """Finished attempts whose next step is not applied yet (only ``attempt_ids`` when given)."""
    rows = await conn.fetch(
        f"""SELECT id, ticket_id, campaign_id, outcome, round_attempt, ended_at, {desk.ESCALATION_FACTS}
              FROM callback_attempts a
             WHERE state = 'finished' AND NOT settled AND ($2::uuid[] IS NULL OR id = ANY($2::uuid[]))
             ORDER BY ended_at LIMIT $1""", limit, attempt_ids)
    return [_unsettled(r) for r in rows]


def _unsettled(r: asyncpg.Record) -> Unsettled:
    return Unsettled(r["id"], r["ticket_id"], r["campaign_id"], Outcome(r["outcome"]), r["round_attempt"],
                     r["ended_at"], desk.escalation_for(r["outcome"], r["round_attempt"], r["desk_rules"],
                                                        r["latest_answers"]), r.get("settled", False))


async def settle(conn: asyncpg.Connection, attempt_id: uuid.UUID, step: NextStep, *, actor: str = "dialer",
                 known: Unsettled | None = None) -> bool:
    """Apply the next step of a finished attempt exactly once: schedule the retry or move the ticket.

    A retry is one statement (:data:`_SETTLE_WITH_RETRY`).  ``known``: the attempt as :func:`finish`
    or :func:`unsettled` returned it.  The usual end of a call (the ticket moves on, nobody at the
    desk needs to call) is then one statement too, atomic on its own.  Otherwise the flag is set
    first, inside a transaction: the same statement locks the row, says whether it was still
    unsettled and reads what the step and the desk's rules need.
    """
    if step.retry_at is not None:
        return await conn.fetchval(_SETTLE_WITH_RETRY, attempt_id, step.retry_at)
    if known is not None and step.ticket_action is not None and known.escalation is None:
        settled = await _settle_in_one_statement(conn, attempt_id, step, actor)
        if settled is not None:
            return settled
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE callback_attempts a SET settled = true, updated_at = now()
                 WHERE a.id = $1 AND a.state = 'finished' AND NOT a.settled
             RETURNING a.ticket_id, a.campaign_id, a.phone, a.script, a.round_attempt, a.trunk_id, a.outcome,
                       (SELECT t.status FROM tickets t WHERE t.id = a.ticket_id) AS ticket_status,
                       {desk.ESCALATION_FACTS}""", attempt_id)
        if row is None:
            return False
        if step.ticket_action is not None:
            if row["ticket_status"] == flow.State.AWAITING_CALLBACK.value:
                await tickets.apply_step(conn, row["ticket_id"], flow.Step(flow.Action(step.ticket_action)),
                                         actor=actor, seen=row["ticket_status"])
            await desk.escalate_settled(conn, row)     # the robot is done: does a person call?
        return True


#: A retry, the other usual end of a call (busy, no answer): the flag and the next attempt in one
#: statement, atomic on its own, instead of a transaction of four round trips.
_SETTLE_WITH_RETRY = f"""
WITH subject AS (UPDATE callback_attempts SET settled = true, updated_at = now()
                  WHERE id = $1 AND state = 'finished' AND NOT settled
              RETURNING ticket_id, campaign_id, phone, script, round_attempt, trunk_id),
     retry AS ({_INSERT_RETRY.format(due="$2", source="subject")})
SELECT EXISTS (SELECT 1 FROM subject)"""


async def _settle_in_one_statement(conn: asyncpg.Connection, attempt_id: uuid.UUID, step: NextStep,
                                   actor: str) -> bool | None:
    """Flag the attempt settled and move its ticket on from 待回访 (if it is still there) in one
    statement; whether it was still unsettled, or None when the flow has no such plain step."""
    ticket_step = flow.Step(flow.Action(step.ticket_action))
    seen = flow.State.AWAITING_CALLBACK
    target = tickets.plain_target(seen, ticket_step)
    if target is None:
        return None
    return await conn.fetchval(
        f"""WITH subject AS (UPDATE callback_attempts SET settled = true, updated_at = now()
                              WHERE id = $1 AND state = 'finished' AND NOT settled RETURNING ticket_id),
                 {tickets.ADVANCE_SUBJECT}
            SELECT EXISTS (SELECT 1 FROM subject)""",
        attempt_id, seen.value, target.value, actor, ticket_step.action.value, None, "")


async def live_attempts(conn: asyncpg.Connection, instance: str,
                        orphaned_after: timedelta = timedelta(seconds=60)) -> list[asyncpg.Record]:
    """Calls in flight that this instance must reconcile against the PBX.

    Its own (a restart under the same name picks them up at once), and those of
    any instance whose heartbeat stopped ``orphaned_after`` ago: a dead
    instance's calls must still reach a final state.  Two survivors adopting
    the same call is harmless: finishing and settling are each done once.
    """
    return await conn.fetch(
        """SELECT id, ticket_id, state, action_id, channel_id, dialed_at, answered_at
             FROM callback_attempts
            WHERE state IN ('dialing', 'answered')
              AND (claimed_by = $1
                   OR claimed_by IN (SELECT name FROM service_instances
                                      WHERE name <> $1 AND last_seen < now() - $2::interval))""",
        instance, orphaned_after)


async def reached_the_ivr(conn: asyncpg.Connection, attempt_id: uuid.UUID) -> bool:
    """Whether the citizen answered: the IVR marks the attempt answered and stores answers as it goes."""
    return bool(await conn.fetchval(
        """SELECT state = 'answered' OR outcome IS NOT NULL
                  OR EXISTS (SELECT 1 FROM callback_answers WHERE attempt_id = $1)
             FROM callback_attempts WHERE id = $1""", attempt_id))


async def last_heartbeat(conn: asyncpg.Connection) -> datetime | None:
    """When a dialer (any instance) last checked in: none lately means no `serve` runs to dial."""
    return await conn.fetchval("SELECT max(last_seen) FROM service_instances")


async def heartbeat(conn: asyncpg.Connection, instance: str) -> None:
    await conn.execute(
        """INSERT INTO service_instances (name) VALUES ($1)
           ON CONFLICT (name) DO UPDATE SET last_seen = now()""", instance)
