"""Scoring repository: rule sets, the assessment calendar, and three-rate tallies straight from SQL.

``ticket_scores`` (schema/0003_scoring.sql) holds each ticket's resolved
answers, kept current by triggers; the tallies here aggregate it for a period
in one statement, whatever the grouping, and return the same
:class:`~callcenter.scoring.rates.Counts` the pure path produces, so the rate
formula lives in one place (callcenter.scoring.rates).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Hashable

import asyncpg

from ..scoring.answers import AnswerVersion, AttemptFacts, Outcome, TicketFacts
from ..scoring.periods import Calendar, Period
from ..scoring.rates import GROUPINGS, Counts, counts_from_patterns
from ..scoring.rules import RuleSet, rule_set_in_force, validate


class RuleSetExists(ValueError):
    """Another rule set already takes effect on that date."""


_RULE_SQL = """SELECT id, name, effective_from, k, w_response, w_solved, w_satisfied, partly_counts_as,
                     exclude_consult, exclude_failed, note, answer_labels
                FROM rule_sets ORDER BY effective_from"""


async def load_rule_sets(conn: asyncpg.Connection | asyncpg.Pool) -> list[RuleSet]:
    rows = await conn.fetch(_RULE_SQL)
    return [RuleSet(**{**dict(r), "answer_labels": tuple(tuple(x) for x in r["answer_labels"])}) for r in rows]


async def rule_set_for(conn, period: Period) -> RuleSet:
    """The rule set in force on the period's first day."""
    return rule_set_in_force(await load_rule_sets(conn), period.first_day)


async def add_rule_set(conn, rule_set: RuleSet, created_by: str = "") -> int:
    """Store a validated rule set; raises RuleSetError or RuleSetExists."""
    validate(rule_set)
    try:
        return await conn.fetchval(
            """INSERT INTO rule_sets (name, effective_from, k, w_response, w_solved, w_satisfied,
                                      partly_counts_as, exclude_consult, exclude_failed, note, created_by,
                                      answer_labels)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id""",
            rule_set.name, rule_set.effective_from, rule_set.k, rule_set.w_response, rule_set.w_solved,
            rule_set.w_satisfied, rule_set.partly_counts_as, rule_set.exclude_consult,
            rule_set.exclude_failed, rule_set.note, created_by, [list(x) for x in rule_set.answer_labels])
    except asyncpg.UniqueViolationError as exc:
        raise RuleSetExists(f"a rule set already takes effect on {rule_set.effective_from.isoformat()}") from exc


async def load_calendar(conn) -> Calendar:
    row = await conn.fetchrow("SELECT period_start_day, daily_cut_hour, timezone FROM scoring_calendar")
    return Calendar(**dict(row)) if row else Calendar()


async def save_calendar(conn, cal: Calendar) -> None:
    """Change the assessment calendar (validated by :class:`Calendar` before it gets here)."""
    await conn.execute(
        """INSERT INTO scoring_calendar (id, period_start_day, daily_cut_hour, timezone) VALUES (true, $1, $2, $3)
           ON CONFLICT (id) DO UPDATE SET period_start_day = excluded.period_start_day,
                                          daily_cut_hour = excluded.daily_cut_hour, timezone = excluded.timezone""",
        cal.period_start_day, cal.daily_cut_hour, cal.timezone)


@dataclass(frozen=True)
class BasisCounts:
    """One group's tallies on both bases: 全口径 and 剔除后 (granted appeals removed)."""
    all: Counts
    excluded: Counts

    def basis(self, name: str) -> Counts:
        return self.all if name == "all" else self.excluded


# Fixed SQL; the grouping is a bound parameter selecting one of three typed key columns.  It
# returns one row per group × answer pattern (a few dozen per group), so PostgreSQL does a
# single hash aggregate and the shared pure code (counts_from_patterns) does the rest.
_GROUP_SQL = """
WITH granted AS (
    SELECT DISTINCT ticket_id FROM appeals WHERE state = 'granted' AND decided_at <= $3
)
SELECT CASE $4::text WHEN 'department' THEN s.department_id WHEN 'community' THEN s.community_id END AS unit_id,
       CASE WHEN $4::text = 'category' THEN s.category_l1 END AS category,
       CASE WHEN $4::text = 'day'
            THEN ((s.scored_at AT TIME ZONE $7::text) - make_interval(hours => $8::int))::date
                 + CASE WHEN $8::int > 0 THEN 1 ELSE 0 END END AS day,
       (s.source IN ('own', 'city') OR (s.source = 'failed' AND NOT $5::boolean))
           AND NOT (s.consult AND $6::boolean) AS counted,
       g.ticket_id IS NOT NULL AS granted,
       s.contacted, s.solved, s.satisfaction, count(*) AS tickets
  FROM ticket_scores s LEFT JOIN granted g ON g.ticket_id = s.ticket_id
 WHERE s.scored_at >= $1 AND s.scored_at < $2
 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""

_KEY_COLUMN = {"street": None, "department": "unit_id", "community": "unit_id", "category": "category", "day": "day"}


async def group_counts(conn, start: datetime, end: datetime, grouping: str, rule_set: RuleSet, *,
                       as_of: datetime, cal: Calendar = Calendar()) -> dict[Hashable, BasisCounts]:
    """Tallies per group for tickets scored in [start, end), appeals granted by ``as_of`` removed on 剔除后."""
    if grouping not in GROUPINGS:
        raise ValueError(f"unknown grouping {grouping!r}; choose from {', '.join(GROUPINGS)}")
    rows = await conn.fetch(_GROUP_SQL, start, end, as_of, grouping, rule_set.exclude_failed,
                            rule_set.exclude_consult, cal.timezone, cal.daily_cut_hour)
    column = _KEY_COLUMN[grouping]
    volume: Counter[Hashable] = Counter()
    every: dict[Hashable, Counter] = defaultdict(Counter)
    kept: dict[Hashable, Counter] = defaultdict(Counter)
    for r in rows:
        key = r[column] if column else None
        volume[key] += r["tickets"]
        if r["counted"]:
            pattern = (r["contacted"], r["solved"], r["satisfaction"])
            every[key][pattern] += r["tickets"]
            if not r["granted"]:
                kept[key][pattern] += r["tickets"]
    return {key: BasisCounts(counts_from_patterns(v, every[key]), counts_from_patterns(v, kept[key]))
            for key, v in volume.items()}


_OUTCOME_SQL = """
SELECT ticket_id, scored_at, source, attempt_id::text AS attempt_id, consult, contacted, solved, satisfaction,
       department_id, community_id, category_l1
  FROM ticket_scores
 WHERE scored_at >= $1 AND scored_at < $2
   AND ($3::text = 'street'
        OR ($3 = 'department' AND department_id IS NOT DISTINCT FROM $4::int)
        OR ($3 = 'community' AND community_id IS NOT DISTINCT FROM $4::int)
        OR ($3 = 'category' AND category_l1 = $5::text))
 ORDER BY ticket_id
"""


async def outcomes(conn, start: datetime, end: datetime, grouping: str = "street",
                   unit_id: int | None = None, category: str | None = None) -> list[Outcome]:
    """The resolved per-ticket answers of one unit (or the whole street) scored in [start, end)."""
    rows = await conn.fetch(_OUTCOME_SQL, start, end, grouping, unit_id, category)
    return [Outcome(**dict(r)) for r in rows]


async def appeal_ticket_ids(conn, ticket_ids: list[int], *, as_of: datetime) -> tuple[frozenset[int], frozenset[int]]:
    """(granted by ``as_of``, still pending = submitted) among ``ticket_ids``."""
    rows = await conn.fetch(
        """SELECT ticket_id, bool_or(state = 'granted' AND decided_at <= $2) AS granted,
                  bool_or(state = 'submitted') AS pending
             FROM appeals WHERE ticket_id = ANY($1::bigint[]) GROUP BY ticket_id""", ticket_ids, as_of)
    return (frozenset(r["ticket_id"] for r in rows if r["granted"]),
            frozenset(r["ticket_id"] for r in rows if r["pending"] and not r["granted"]))


async def ticket_numbers(conn, ticket_ids: list[int]) -> dict[int, str]:
    """工单编号 of these tickets, for naming them in explanations."""
    rows = await conn.fetch("SELECT id, ticket_no FROM tickets WHERE id = ANY($1::bigint[])", ticket_ids)
    return {r["id"]: r["ticket_no"] for r in rows}



async def unit_id_by_name(conn, kind: str, name: str) -> int | None:
    return await conn.fetchval("SELECT id FROM units WHERE kind = $1 AND name = $2", kind, name)


async def ticket_facts(conn, ticket_ids: list[int]) -> list[TicketFacts]:
    """The raw inputs of the pure resolution (callcenter.scoring.answers.resolve) for these tickets."""
    tickets = await conn.fetch(
        """SELECT id AS ticket_id, called_at, category_l1, closed_at, status, ticket_type,
                  city_effective_callback, city_contacted, city_solved, city_satisfied, city_callback_at,
                  department_id, community_id
             FROM tickets WHERE id = ANY($1::bigint[]) ORDER BY id""", ticket_ids)
    attempts = await conn.fetch(
        """SELECT id::text AS attempt_id, ticket_id, attempt_no, created_at, answered_at, ended_at, dialed_at
             FROM callback_attempts WHERE ticket_id = ANY($1::bigint[])""", ticket_ids)
    answers = await conn.fetch(
        """SELECT x.attempt_id::text AS attempt_id, x.question, x.version, x.intent
             FROM callback_answers x JOIN callback_attempts a ON a.id = x.attempt_id
            WHERE a.ticket_id = ANY($1::bigint[])""", ticket_ids)
    by_attempt: dict[str, list[AnswerVersion]] = {}
    for x in answers:
        by_attempt.setdefault(x["attempt_id"], []).append(AnswerVersion(x["question"], x["version"], x["intent"]))
    by_ticket: dict[int, list[AttemptFacts]] = {}
    for a in attempts:
        fields = {k: a[k] for k in ("attempt_id", "attempt_no", "created_at", "answered_at", "ended_at", "dialed_at")}
        by_ticket.setdefault(a["ticket_id"], []).append(
            AttemptFacts(**fields, answers=tuple(by_attempt.get(a["attempt_id"], ()))))
    return [TicketFacts(**dict(t), attempts=tuple(by_ticket.get(t["ticket_id"], ()))) for t in tickets]


_PROBLEM_SQL = """
SELECT t.id, t.ticket_no, t.title, t.category_l1, t.category_l2, t.address, t.called_at, s.scored_at,
       t.city_callback_at IS NOT NULL AS city_dated,
       s.source, s.contacted, s.solved, s.satisfaction,
       d.name AS department, c.name AS community, t.handling_result,
       (SELECT x.transcript FROM callback_answers x
         WHERE x.attempt_id = s.attempt_id AND x.question = 'dissatisfaction_reason'
         ORDER BY x.version DESC LIMIT 1) AS reason,
       EXISTS (SELECT 1 FROM appeals ap WHERE ap.ticket_id = t.id AND ap.state = 'granted'
                                          AND ap.decided_at <= $3) AS granted
  FROM ticket_scores s
  JOIN tickets t ON t.id = s.ticket_id
  LEFT JOIN units d ON d.id = s.department_id
  LEFT JOIN units c ON c.id = s.community_id
 WHERE s.scored_at >= $1 AND s.scored_at < $2
   AND (s.satisfaction = 'dissatisfied' OR s.solved IN ('unsolved', 'partly'))
 ORDER BY s.scored_at, t.id
"""


async def problem_tickets(conn, start: datetime, end: datetime, *, as_of: datetime) -> list[asyncpg.Record]:
    """不满意 / 未解决 / 部分解决 tickets of a period, with the citizen's stated reason."""
    return await conn.fetch(_PROBLEM_SQL, start, end, as_of)


async def refresh_all(conn) -> None:
    """Rebuild every ticket_scores row (after a bulk load with triggers disabled, or a repair)."""
    await conn.execute("SELECT scoring_refresh(ARRAY(SELECT id FROM tickets))")
