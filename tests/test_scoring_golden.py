"""A hand-computed month of 40 tickets: the published figures under two rule sets, both bases.

The month (period 2024-05: 2024-04-19 → 2024-05-18, Beijing time) holds:
  35 effective callbacks (29 our own, 6 from the city's columns):
     A 22 × 是/已解决/满意     B 3 × 是/已解决/基本满意   C 3 × 是/部分解决/基本满意
     D  1 × 是/部分解决/满意   E 1 × 是/未解决/满意       F 2 × 是/未解决/不满意
     G  2 × 否/未解决/不满意 (appeals granted → 核减)      H 1 × 否/已解决/不满意 (appeal pending)
   2 咨询 tickets (answered, excluded by the rule set), 3 回访不成功.
Totals: n = 35, 联系 32, 已解决 26, 部分解决 4, 满意 24, 基本满意 6; after 核减 n = 33.

Default rule set (k 0.9, 10/50/40, 部分解决 = 未解决):
  全口径 响应 32/35 = 91.43 %, 解决 26/35 = 74.29 %, 满意 (24 + 0.9×6)/35 = 84.00 %,
         综合 (0.1×32 + 0.5×26 + 0.4×29.4)/35 × 100 = 27.96/35 × 100 = 79.89
  剔除后 响应 32/33 = 96.97 %, 解决 26/33 = 78.79 %, 满意 29.4/33 = 89.09 %, 综合 27.96/33 × 100 = 84.73
Second rule set (k 0.6, 30/35/35):
  全口径 满意 27.6/35 = 78.86 %, 综合 (9.6 + 9.1 + 9.66)/35 × 100 = 81.03
  剔除后 满意 27.6/33 = 83.64 %, 综合 28.36/33 × 100 = 85.94
"""
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D
from fractions import Fraction

import pytest

from callcenter.db import scoring as repo
from callcenter.scoring.answers import resolve
from callcenter.scoring.periods import period
from callcenter.scoring.rates import rates, shown, tally
from callcenter.scoring.rules import DEFAULT_RULE_SET, RuleSet

from . import scoring_factories as f

BJ = timezone(timedelta(hours=8))
MAY = period("2024-05")
AS_OF = datetime(2024, 6, 1, tzinfo=BJ)
SECOND = RuleSet(name="西宁式", effective_from=date(2024, 5, 19), k=D("0.6"),
                 w_response=D("0.30"), w_solved=D("0.35"), w_satisfied=D("0.35"))


def at(day: int, minute: int = 0, month: int = 5) -> datetime:
    return datetime(2024, month, day, 10, minute, tzinfo=BJ)


async def build_month(conn) -> dict[str, list[int]]:
    """The 40 tickets, plus two outside the period; returns ids by letter."""
    ids: dict[str, list[int]] = {}

    async def own_ticket(letter, answers, *, answered=None, **kw):
        tid = await f.ticket(conn, called_at=kw.pop("called_at", at(1)), **kw)
        await f.attempt(conn, tid, 1, answered_at=answered or at(10, len(ids.get(letter, ()))), answers=answers)
        ids.setdefault(letter, []).append(tid)
        return tid

    async def city_ticket(letter, city, closed=None, **kw):
        tid = await f.ticket(conn, called_at=at(2), closed_at=closed or at(8), city=city, **kw)
        ids.setdefault(letter, []).append(tid)
        return tid

    yes_solved_sat = f.own("yes", "solved", "satisfied")
    # A: 22 × 是/已解决/满意
    await city_ticket("A", (True, "是", "是", "满意"))
    await city_ticket("A", (None, "是", "是", "满意"))
    await city_ticket("A", (True, "是", "已解决", "满意"))
    two = await own_ticket("A", f.own("no", "unsolved", "dissatisfied"), answered=at(3))
    await f.attempt(conn, two, 2, answered_at=at(4), answers=yes_solved_sat)          # latest complete wins
    partial = await own_ticket("A", yes_solved_sat, answered=at(5))
    await f.attempt(conn, partial, 2, answered_at=at(6), answers={"contacted": "no"})  # incomplete: ignored
    await own_ticket("A", yes_solved_sat, city=(True, "否", "否", "不满意"))             # ours beats the city's
    await own_ticket("A", yes_solved_sat, called_at=datetime(2024, 3, 1, tzinfo=BJ),
                     answered=datetime(2024, 5, 18, 23, 59, 59, tzinfo=BJ))            # last second of the period
    await own_ticket("A", yes_solved_sat, called_at=datetime(2024, 4, 10, tzinfo=BJ),
                     answered=datetime(2024, 4, 19, 0, 0, 0, tzinfo=BJ))              # first second
    for _ in range(14):
        await own_ticket("A", yes_solved_sat)
    # B: 3 × 是/已解决/基本满意 — one by a supervisor's correction of 不满意
    corrected = await own_ticket("B", f.own("yes", "solved", "dissatisfied"))
    attempt_id = await conn.fetchval("SELECT id FROM callback_attempts WHERE ticket_id = $1", corrected)
    await f.answer(conn, attempt_id, "satisfaction", "basic", version=2)
    await city_ticket("B", (True, "是", "是", "基本满意"))
    await own_ticket("B", f.own("yes", "solved", "basic"))
    # C: 3 × 是/部分解决/基本满意
    await city_ticket("C", (True, "是", "部分解决", "基本满意"))
    for _ in range(2):
        await own_ticket("C", f.own("yes", "partly", "basic"))
    await own_ticket("D", f.own("yes", "partly", "satisfied"))
    await city_ticket("E", (True, "是", "未解决", "满意"))
    for _ in range(2):
        await own_ticket("F", f.own("yes", "unsolved", "dissatisfied"))
    for _ in range(2):
        await own_ticket("G", f.own("no", "unsolved", "dissatisfied"))
    await own_ticket("H", f.own("no", "solved", "dissatisfied"))
    # 咨询 and 回访不成功: in the volume, never in the rates.
    for _ in range(2):
        await own_ticket("consult", yes_solved_sat, ticket_type="咨询")
    for _ in range(2):
        tid = await f.ticket(conn, called_at=at(1), closed_at=at(7), status="callback_failed")
        await f.attempt(conn, tid, 1, answered_at=None)
        ids.setdefault("failed", []).append(tid)
    await city_ticket("failed", (False, "是", "是", "满意"))
    # Outside the month: a callback landing on 2024-05-19 00:00 (→ 2024-06), a closure on 04-18 23:59:59.
    await own_ticket("next", yes_solved_sat, closed_at=at(10), answered=datetime(2024, 5, 19, tzinfo=BJ))
    await city_ticket("before", (True, "否", "否", "不满意"), closed=datetime(2024, 4, 18, 23, 59, 59, tzinfo=BJ))
    # Appeals: G's two are granted (one decided after the month, before AS_OF); H's is pending; a denied one.
    await f.appeal(conn, ids["G"][0], "granted", decided_at=at(15))
    await f.appeal(conn, ids["G"][1], "granted", decided_at=datetime(2024, 5, 25, tzinfo=BJ))
    await f.appeal(conn, ids["H"][0], "submitted")
    await f.appeal(conn, ids["F"][0], "denied", decided_at=at(16))
    return ids


EXPECTED = {
    ("default", "all"): {"response": D("91.43"), "solved": D("74.29"), "satisfied": D("84.00"), "composite": D("79.89")},
    ("default", "excluded"): {"response": D("96.97"), "solved": D("78.79"), "satisfied": D("89.09"), "composite": D("84.73")},
    ("second", "all"): {"response": D("91.43"), "solved": D("74.29"), "satisfied": D("78.86"), "composite": D("81.03")},
    ("second", "excluded"): {"response": D("96.97"), "solved": D("78.79"), "satisfied": D("83.64"), "composite": D("85.94")},
}
RULES = {"default": DEFAULT_RULE_SET, "second": SECOND}


async def test_sql_path_gives_the_published_figures(db):
    async with db.pool.acquire() as conn:
        await build_month(conn)
        for (rule_name, basis), expected in EXPECTED.items():
            groups = await repo.group_counts(conn, MAY.start, MAY.end, "street", RULES[rule_name], as_of=AS_OF)
            counts = groups[None].basis(basis)
            assert counts.volume == 40
            assert counts.n == (35 if basis == "all" else 33)
            assert shown(rates(counts, RULES[rule_name])) == expected, (rule_name, basis)


async def test_pure_path_gives_the_published_figures_exactly(db):
    async with db.pool.acquire() as conn:
        ids = await build_month(conn)
        everything = [t for group in ids.values() for t in group]
        facts = await repo.ticket_facts(conn, everything)
    outcomes = [o for o in map(resolve, facts) if MAY.contains(o.scored_at)]
    assert len(outcomes) == 40
    granted = frozenset(ids["G"])
    for (rule_name, basis), expected in EXPECTED.items():
        r = rates(tally(outcomes, RULES[rule_name], granted if basis == "excluded" else frozenset()), RULES[rule_name])
        assert shown(r) == expected, (rule_name, basis)
    default_all = rates(tally(outcomes, DEFAULT_RULE_SET), DEFAULT_RULE_SET)
    assert default_all.response == Fraction(32, 35)
    assert default_all.satisfied == Fraction(21, 25)
    assert default_all.composite == Fraction(2796, 35)


async def test_counting_consult_and_failed_when_the_rule_set_says_so(db):
    # n = 40: 34 联系, 28 已解决, 26 满意 + 6 基本满意 → 85.00 / 70.00 / 78.50 %, 综合 29.96/40 × 100 = 74.90.
    inclusive = replace(DEFAULT_RULE_SET, exclude_consult=False, exclude_failed=False)
    async with db.pool.acquire() as conn:
        await build_month(conn)
        groups = await repo.group_counts(conn, MAY.start, MAY.end, "street", inclusive, as_of=AS_OF)
    assert shown(rates(groups[None].all, inclusive)) == {
        "response": D("85.00"), "solved": D("70.00"), "satisfied": D("78.50"), "composite": D("74.90")}


async def test_partly_solved_weight(db):
    # 部分解决 counted as half: 解决 (26 + 0.5×4)/35 = 80.00 %.
    half = replace(DEFAULT_RULE_SET, partly_counts_as=D("0.5"))
    async with db.pool.acquire() as conn:
        await build_month(conn)
        groups = await repo.group_counts(conn, MAY.start, MAY.end, "street", half, as_of=AS_OF)
    assert shown(rates(groups[None].all, half))["solved"] == D("80.00")


async def test_appeal_counts_only_once_decided_by_the_as_of_instant(db):
    async with db.pool.acquire() as conn:
        await build_month(conn)
        before_second = datetime(2024, 5, 20, tzinfo=BJ)
        groups = await repo.group_counts(conn, MAY.start, MAY.end, "street", DEFAULT_RULE_SET, as_of=before_second)
    assert groups[None].excluded.n == 34


async def test_callback_landing_in_the_next_period_counts_there(db):
    async with db.pool.acquire() as conn:
        ids = await build_month(conn)
        june = period("2024-06")
        groups = await repo.group_counts(conn, june.start, june.end, "street", DEFAULT_RULE_SET, as_of=AS_OF)
        april = period("2024-04")
        earlier = await repo.group_counts(conn, april.start, april.end, "street", DEFAULT_RULE_SET, as_of=AS_OF)
        placed = await conn.fetchval("SELECT scored_at FROM ticket_scores WHERE ticket_id = $1", ids["next"][0])
    assert groups[None].all == groups[None].excluded
    assert (groups[None].all.volume, groups[None].all.n, groups[None].all.satisfied) == (1, 1, 1)
    assert (earlier[None].all.volume, earlier[None].all.n, earlier[None].all.satisfied) == (1, 1, 0)
    assert placed == datetime(2024, 5, 19, tzinfo=BJ)


async def test_rule_set_in_force_is_chosen_by_the_period_first_day(db):
    async with db.pool.acquire() as conn:
        await repo.add_rule_set(conn, SECOND, created_by="test")
        may = await repo.rule_set_for(conn, period("2024-05"))
        june = await repo.rule_set_for(conn, period("2024-06"))
    assert may.name == DEFAULT_RULE_SET.name and may.k == D("0.9")
    assert june.name == SECOND.name and june.k == D("0.6")
    with pytest.raises(repo.RuleSetExists):
        async with db.pool.acquire() as conn:
            await repo.add_rule_set(conn, SECOND)
