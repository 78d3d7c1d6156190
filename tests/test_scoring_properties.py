"""Properties of the pure core: monotonicity, independence of contributions, exact rounding, ranking order."""
from dataclasses import replace
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import given, strategies as st

from callcenter.scoring.answers import Outcome
from callcenter.scoring.explain import explain, ticket_costs
from callcenter.scoring.rates import Counts, contribution, counted, numerators, rates, round_half_up, tally
from callcenter.scoring.ranking import rank
from callcenter.scoring.rules import DEFAULT_RULE_SET, RuleSet

AT = datetime(2024, 5, 1, tzinfo=timezone.utc)

rule_sets = st.builds(
    lambda k, a, b, partly, consult, failed: RuleSet(
        name="r", effective_from=AT.date(), k=Decimal(k) / 100, w_response=Decimal(a) / 100,
        w_solved=Decimal(b) / 100, w_satisfied=Decimal(100 - a - b) / 100, partly_counts_as=Decimal(partly) / 10,
        exclude_consult=consult, exclude_failed=failed),
    st.integers(0, 100), st.integers(0, 50), st.integers(0, 50), st.integers(0, 10), st.booleans(), st.booleans())


@st.composite
def outcome_lists(draw, min_size=0):
    n = draw(st.integers(min_size, 40))
    result = []
    for i in range(n):
        source = draw(st.sampled_from(["own", "city", "failed", "pending"]))
        answered = source in ("own", "city")
        result.append(Outcome(
            ticket_id=i + 1, scored_at=AT, source=source, consult=draw(st.booleans()),
            contacted=draw(st.sampled_from(["yes", "no"])) if answered else None,
            solved=draw(st.sampled_from(["solved", "partly", "unsolved"])) if answered else None,
            satisfaction=draw(st.sampled_from(["satisfied", "basic", "dissatisfied"])) if answered else None,
            department_id=draw(st.sampled_from([1, 2, 3])), community_id=None, category_l1="物业管理"))
    return result


def satisfied_outcome(ticket_id: int) -> Outcome:
    return Outcome(ticket_id=ticket_id, scored_at=AT, source="own", consult=False, contacted="yes",
                   solved="solved", satisfaction="satisfied", department_id=1, community_id=None,
                   category_l1="物业管理")


@given(outcome_lists(), rule_sets)
def test_adding_a_satisfied_ticket_never_lowers_the_satisfaction_rate(outcomes, rule_set):
    before = rates(tally(outcomes, rule_set), rule_set)
    after = rates(tally(outcomes + [satisfied_outcome(10_000)], rule_set), rule_set)
    assert after.satisfied is not None
    assert before.satisfied is None or after.satisfied >= before.satisfied
    assert before.response is None or after.response >= before.response


@given(outcome_lists(min_size=1), rule_sets, st.data())
def test_excluding_a_ticket_leaves_every_other_contribution_unchanged(outcomes, rule_set, data):
    victim = data.draw(st.sampled_from(outcomes))
    whole = numerators(tally(outcomes, rule_set), rule_set)
    without = numerators(tally(outcomes, rule_set, frozenset({victim.ticket_id})), rule_set)
    own = contribution(victim, rule_set) if counted(victim, rule_set) else (0, 0, 0)
    assert tuple(w - x for w, x in zip(whole, without)) == tuple(own)
    rest = [o for o in outcomes if o is not victim and counted(o, rule_set)]
    assert without == tuple(sum((contribution(o, rule_set)[i] for o in rest), Fraction(0)) for i in range(3))
    # Volume keeps the excluded ticket (核减 removes it from the rates, not from the workload).
    assert tally(outcomes, rule_set, frozenset({victim.ticket_id})).volume == len(outcomes)


@given(outcome_lists(min_size=1), rule_sets)
def test_ticket_losses_add_up_to_the_whole_gap(outcomes, rule_set):
    r = rates(tally(outcomes, rule_set), rule_set)
    costs = ticket_costs(outcomes, rule_set)
    if r.composite is None:
        assert costs == []
        return
    assert sum(c.satisfied for c in costs) == 100 - r.satisfied * 100
    assert sum(c.solved for c in costs) == 100 - r.solved * 100
    assert sum(c.composite for c in costs) == 100 - r.composite


@given(outcome_lists(min_size=1), st.data())
def test_what_if_granting_pending_appeals_equals_excluding_them(outcomes, data):
    pending = frozenset(data.draw(st.sets(st.sampled_from([o.ticket_id for o in outcomes]))))
    result = explain(outcomes, DEFAULT_RULE_SET, pending_appeal_ids=pending)
    if pending:
        assert result.what_ifs[0].rates == rates(tally(outcomes, DEFAULT_RULE_SET, pending), DEFAULT_RULE_SET)
        for ticket_id, what_if in zip(sorted(pending), result.what_ifs[1:], strict=True):
            assert what_if.rates == rates(tally(outcomes, DEFAULT_RULE_SET, frozenset({ticket_id})), DEFAULT_RULE_SET)
    else:
        assert result.what_ifs == ()


@given(st.fractions(min_value=-1000, max_value=1000, max_denominator=10_000))
def test_round_half_up_matches_decimal_on_exact_values(value):
    exact = Decimal(value.numerator) / Decimal(value.denominator)   # 28 digits: enough for these
    assert round_half_up(value) == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_round_half_up_on_a_tie():
    assert round_half_up(Fraction(12345, 1000)) == Decimal("12.35")
    assert round_half_up(Fraction(-12345, 1000)) == Decimal("-12.35")


counts = st.builds(lambda v, n, c, s, p, m, b: Counts(v + n, n, min(c, n), min(s, n), min(p, n - min(s, n)),
                                                      min(m, n), min(b, n - min(m, n))),
                   *(st.integers(0, 30) for _ in range(7)))


@given(st.dictionaries(st.integers(1, 20), counts, max_size=15), st.dictionaries(st.integers(1, 20), counts))
def test_ranking_orders_by_composite_then_volume(current, previous):
    ranked = rank(current, previous, {}, DEFAULT_RULE_SET, DEFAULT_RULE_SET)
    scored = [u for u in ranked if u.rank is not None]
    assert [u.rank is None for u in ranked] == sorted(u.rank is None for u in ranked)
    for a, b in zip(scored, scored[1:]):
        assert (a.rates.composite, a.volume) >= (b.rates.composite, b.volume)
        assert a.rank <= b.rank
        assert (a.rank == b.rank) == ((a.rates.composite, a.volume) == (b.rates.composite, b.volume))
    for u in scored:
        assert u.rank == 1 + sum(1 for o in scored if (o.rates.composite, o.volume) > (u.rates.composite, u.volume))
        if u.key in previous and u.previous_rank is not None:
            assert u.composite_change == u.rates.composite - rates(previous[u.key], DEFAULT_RULE_SET).composite


def test_ranking_ties_broken_by_volume_and_change_reported():
    rule = DEFAULT_RULE_SET
    perfect = lambda n, volume: Counts(volume, n, n, n, 0, n, 0)  # noqa: E731
    ranked = rank({1: perfect(5, 9), 2: perfect(5, 12), 3: Counts(4, 4, 4, 0, 0, 0, 0), 4: Counts(3)},
                  {1: perfect(5, 5), 3: perfect(2, 2)}, {1: "城管科", 2: "物业科", 3: "民政科", 4: "司法所"}, rule, rule)
    assert [(u.name, u.rank) for u in ranked] == [("物业科", 1), ("城管科", 2), ("民政科", 3), ("司法所", None)]
    assert ranked[1].rank_change == -1 and ranked[1].composite_change == 0
    assert ranked[2].composite_change == Fraction(10) - 100


def test_explain_names_the_costly_group_and_its_category():
    outcomes = [replace(satisfied_outcome(i), satisfaction="dissatisfied",
                        category_l1="物业管理" if i < 5 else "城乡建设") for i in range(7)]
    outcomes += [satisfied_outcome(100 + i) for i in range(93)]
    result = explain(outcomes, DEFAULT_RULE_SET)
    group = result.groups[0]
    assert group.label == "不满意" and len(group.ticket_ids) == 7
    assert group.points == 7                       # 7 of 100 tickets: 7 points of 满意率
    assert group.composite_points == Fraction(28, 10)
    assert group.sentence() == "这 7 件不满意工单使满意率损失 7.00 个百分点（综合成绩 2.80 分），其中 5 件属于物业管理"
    assert [c.ticket_id for c in result.costliest] == list(range(7))


@given(outcome_lists(min_size=1), rule_sets)
def test_loss_groups_add_up_to_the_composite_gap(outcomes, rule_set):
    """Each rate's groups partition its losers; with 回访不成功 they sum to exactly 100 − 综合成绩."""
    result = explain(outcomes, rule_set)
    if result.rates.composite is None:
        assert result.groups == ()
        return
    assert sum(g.composite_points for g in result.groups) == 100 - result.rates.composite
    for rate in ("response", "solved", "satisfied"):
        members = [i for g in result.groups if g.rate == rate for i in g.ticket_ids]
        assert len(members) == len(set(members))          # no ticket twice within one rate
    assert [g.composite_points for g in result.groups] == sorted((g.composite_points for g in result.groups),
                                                                 reverse=True)


def test_a_group_costs_its_rate_loss_times_the_rate_weight():
    outcomes = [replace(satisfied_outcome(i), satisfaction="basic", solved="unsolved") for i in range(3)]
    outcomes += [satisfied_outcome(100 + i) for i in range(97)]
    groups = {g.label: g for g in explain(outcomes, DEFAULT_RULE_SET).groups}
    basic, unsolved = groups["基本满意"], groups["未解决"]
    assert basic.points == Fraction(3, 10) and basic.composite_points == Fraction(3, 10) * Fraction(4, 10)
    assert unsolved.points == 3 and unsolved.composite_points == Fraction(3, 2)
    assert "满意率损失 0.30 个百分点（综合成绩 0.12 分）" in basic.sentence()
