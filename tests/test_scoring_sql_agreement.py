"""The SQL path (triggers → ticket_scores → one aggregate query) and the pure path agree, to the last digit.

Hypothesis draws random ledgers: city columns (valid, junk, padded), our attempts with
versioned and half-understood answers, appeals in every state, late corrections that go
through the UPDATE triggers.  For each, every ticket_scores row must equal the pure
resolution, and every grouping's tallies must equal the pure tallies on both bases.
"""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from callcenter.db import scoring as repo
from callcenter.db.embedded import with_database
from callcenter.scoring.answers import (CITY_CONTACTED, CITY_SATISFIED, CITY_SOLVED, AnswerVersion, AttemptFacts,
                                        TicketFacts, resolve)
from callcenter.scoring.periods import Calendar, period
from callcenter.scoring.rates import GROUPINGS, group_tally
from callcenter.scoring.rules import DEFAULT_RULE_SET

BASE = datetime(2024, 4, 10, tzinfo=timezone.utc)
AS_OF = BASE + timedelta(days=50)
CATEGORIES = ["物业管理", "城乡建设", "水电气热"]
instants = st.integers(0, 60 * 24 * 45).map(lambda m: BASE + timedelta(minutes=m))
city_text = lambda table: st.sampled_from(sorted(table) + ["", " 是 ", "是\t", "不知道"])  # noqa: E731
intents = st.sampled_from(["yes", "no", "solved", "partly", "unsolved", "satisfied", "basic", "dissatisfied",
                           None, "refuse"])
noise = st.lists(st.tuples(st.sampled_from(["contacted", "solved", "satisfaction", "dissatisfaction_reason"]),
                           intents), max_size=4)
complete = st.tuples(st.sampled_from(["yes", "no"]), st.sampled_from(["solved", "partly", "unsolved"]),
                     st.sampled_from(["satisfied", "basic", "dissatisfied"])).map(
    lambda c: [("contacted", c[0]), ("solved", c[1]), ("satisfaction", c[2])])
# Mostly complete surveys (so several complete attempts compete), then corrections and noise.
answers_st = st.one_of(noise, st.tuples(complete, noise).map(lambda cn: cn[0] + cn[1]),
                       complete, complete)
attempts_st = st.lists(st.tuples(st.one_of(st.none(), instants), answers_st), max_size=3)
tickets_st = st.lists(st.fixed_dictionaries({
    "called_at": instants, "closed_at": st.one_of(st.none(), instants),
    "city_callback_at": st.one_of(st.none(), instants),
    "status": st.sampled_from(["called_back", "callback_failed", "awaiting_callback", "handling"]),
    "ticket_type": st.sampled_from(["诉求", "诉求", "咨询"]),
    "category_l1": st.sampled_from(CATEGORIES),
    "unit": st.sampled_from([0, 1, 2, None]), "community": st.sampled_from([0, 1, None]),
    "city": st.tuples(st.sampled_from([None, True, False]), city_text(CITY_CONTACTED), city_text(CITY_SOLVED),
                      city_text(CITY_SATISFIED)),
    "attempts": attempts_st,
    "appeal": st.one_of(st.none(), st.tuples(st.sampled_from(["draft", "submitted", "granted", "denied"]),
                                             instants)),
}), min_size=1, max_size=25)
late_st = st.lists(st.tuples(st.integers(0, 100), intents, st.sampled_from([0, 1, 2, None])), max_size=4)


@pytest.fixture(scope="module")
def scratch_dsn(pg_server, template_dsn):
    """One migrated database for the whole module; each example empties it first."""
    name = f"cc_scoring_prop_{uuid.uuid4().hex[:8]}"

    async def admin(sql):
        conn = await asyncpg.connect(pg_server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
    asyncio.run(admin(f"CREATE DATABASE {name} TEMPLATE cc_test_template"))
    yield with_database(pg_server, name)
    asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def build(conn, specs, late):
    """Insert the ledger; return the TicketFacts the pure path sees and the granted ticket ids."""
    await conn.execute("TRUNCATE tickets, units, appeals CASCADE")
    units = [await conn.fetchval("INSERT INTO units (kind, name) VALUES ('department', $1) RETURNING id", f"科{i}")
             for i in range(3)]
    communities = [await conn.fetchval("INSERT INTO units (kind, name) VALUES ('community', $1) RETURNING id",
                                       f"社区{i}") for i in range(2)]
    granted, attempts_all = set(), []
    facts = {}
    for i, s in enumerate(specs):
        effective, contacted, solved, satisfied = s["city"]
        dept = None if s["unit"] is None else units[s["unit"]]
        comm = None if s["community"] is None else communities[s["community"]]
        tid = await conn.fetchval(
            """INSERT INTO tickets (ticket_no, ticket_type, category_l1, called_at, closed_at, status, department_id,
                                    community_id, city_effective_callback, city_contacted, city_solved, city_satisfied,
                                    city_callback_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id""",
            f"P{i}", s["ticket_type"], s["category_l1"], s["called_at"], s["closed_at"], s["status"], dept, comm,
            effective, contacted, solved, satisfied, s["city_callback_at"])
        attempts = []
        for no, (answered_at, answers) in enumerate(s["attempts"], start=1):
            aid = uuid.uuid4()
            created = await conn.fetchval(
                """INSERT INTO callback_attempts (id, ticket_id, attempt_no, phone, state, answered_at)
                   VALUES ($1, $2, $3, '1', 'finished', $4) RETURNING created_at""", aid, tid, no, answered_at)
            versions, seen = [], {}
            for question, intent in answers:   # a repeated question is a supervisor's new version
                seen[question] = seen.get(question, 0) + 1
                versions.append(AnswerVersion(question, seen[question], intent))
            await conn.executemany(
                """INSERT INTO callback_answers (attempt_id, question, version, intent, source)
                   VALUES ($1, $2, $3, $4, 'dtmf')""", [(aid, v.question, v.version, v.intent) for v in versions])
            attempts.append(AttemptFacts(str(aid), no, created, answered_at=answered_at, answers=tuple(versions)))
            attempts_all.append((tid, len(attempts) - 1))
        if s["appeal"]:
            state, decided = s["appeal"]
            decided = decided if state in ("granted", "denied") else None
            await conn.execute("INSERT INTO appeals (ticket_id, state, decided_at) VALUES ($1, $2, $3)",
                               tid, state, decided)
            if state == "granted" and decided <= AS_OF:
                granted.add(tid)
        facts[tid] = dict(ticket_id=tid, called_at=s["called_at"], category_l1=s["category_l1"],
                          closed_at=s["closed_at"], status=s["status"], ticket_type=s["ticket_type"],
                          city_effective_callback=effective, city_contacted=contacted, city_solved=solved,
                          city_satisfied=satisfied, city_callback_at=s["city_callback_at"], department_id=dept,
                          community_id=comm, attempts=attempts)
    # Late changes: a supervisor's correction on some attempt, a re-dispatch to another department.
    for pick, intent, unit in late:
        if attempts_all:
            tid, index = attempts_all[pick % len(attempts_all)]
            attempt = facts[tid]["attempts"][index]
            question = ["contacted", "solved", "satisfaction"][pick % 3]
            version = 1 + max((v.version for v in attempt.answers if v.question == question), default=0)
            await conn.execute(
                """INSERT INTO callback_answers (attempt_id, question, version, intent, source, created_by, reason)
                   VALUES ($1, $2, $3, $4, 'supervisor', 'supervisor', '复核')""",
                uuid.UUID(attempt.attempt_id), question, version, intent)
            facts[tid]["attempts"][index] = AttemptFacts(
                attempt.attempt_id, attempt.attempt_no, attempt.created_at, answered_at=attempt.answered_at,
                answers=attempt.answers + (AnswerVersion(question, version, intent),))
            dept = None if unit is None else units[unit]
            await conn.execute("UPDATE tickets SET department_id = $2 WHERE id = $1", tid, dept)
            facts[tid]["department_id"] = dept
    return [TicketFacts(**{**f, "attempts": tuple(f["attempts"])}) for f in facts.values()], frozenset(granted)


async def check(dsn, specs, late):
    conn = await asyncpg.connect(dsn)
    try:
        facts, granted = await build(conn, specs, late)
        outcomes = [resolve(f) for f in facts]
        everything = await repo.outcomes(conn, datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))
        stored = {o.ticket_id: o for o in everything}
        assert stored == {o.ticket_id: o for o in outcomes}
        read_back = await repo.ticket_facts(conn, [f.ticket_id for f in facts])
        assert sorted(map(resolve, read_back), key=lambda o: o.ticket_id) == sorted(outcomes, key=lambda o: o.ticket_id)
        cal = Calendar()
        for label in ("2024-05", "2024-06"):
            p = period(label, cal)
            in_period = [o for o in outcomes if p.contains(o.scored_at)]
            for grouping in GROUPINGS:
                sql = await repo.group_counts(conn, p.start, p.end, grouping, DEFAULT_RULE_SET, as_of=AS_OF, cal=cal)
                assert {k: v.all for k, v in sql.items()} == group_tally(in_period, grouping, DEFAULT_RULE_SET, cal=cal)
                assert {k: v.excluded for k, v in sql.items()} == group_tally(
                    in_period, grouping, DEFAULT_RULE_SET, granted, cal=cal)
    finally:
        await conn.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs=tickets_st, late=late_st)
def test_sql_and_pure_paths_agree(scratch_dsn, specs, late):
    asyncio.run(check(scratch_dsn, specs, late))


async def test_city_wording_tables_match_sql(db):
    samples = sorted(set(CITY_CONTACTED) | set(CITY_SOLVED) | set(CITY_SATISFIED)) + ["", " 是 ", "是\t", "x"]
    from callcenter.scoring.answers import city_answers
    async with db.pool.acquire() as conn:
        for text in samples:
            row = await conn.fetchrow("SELECT scoring_city_contacted($1) AS c, scoring_city_solved($1) AS s, "
                                      "scoring_city_satisfied($1) AS m", text)
            facts = TicketFacts(1, BASE, "其他", city_contacted=text, city_solved=text, city_satisfied=text)
            pure = {"c": CITY_CONTACTED.get(text.strip(" ")), "s": CITY_SOLVED.get(text.strip(" ")),
                    "m": CITY_SATISFIED.get(text.strip(" "))}
            assert dict(row) == pure, text
            assert (city_answers(facts) is None) == (None in pure.values())
