"""The pure appeal machine, its deadline, its configuration, and each candidate rule on a crafted day."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from callcenter.ledger import appeals as ap

BJ = timezone(timedelta(hours=8))
DAY = datetime(2024, 5, 20, 10, tzinfo=BJ)
DRAFT = ap.Draft("不合理诉求", "该诉求无政策依据。", evidence_count=1)


def test_every_state_is_reachable_through_legal_steps():
    state = ap.State.DRAFT
    state = ap.apply(state, "submit", draft=DRAFT)
    assert state is ap.State.SUBMITTED
    assert ap.apply(state, "withdraw", reason="补充证据") is ap.State.DRAFT
    assert ap.apply(state, "grant") is ap.State.GRANTED
    assert ap.apply(state, "deny", reason="证据不足") is ap.State.DENIED


@pytest.mark.parametrize("state, action", [
    ("draft", "grant"), ("draft", "deny"), ("draft", "withdraw"),
    ("submitted", "submit"),
    ("granted", "submit"), ("granted", "deny"), ("granted", "withdraw"), ("granted", "grant"),
    ("denied", "grant"), ("denied", "submit"), ("denied", "withdraw"), ("denied", "deny"),
])
def test_illegal_transitions_are_named(state, action):
    with pytest.raises(ap.IllegalTransition) as info:
        ap.apply(state, action, reason="x", draft=DRAFT)
    assert state in str(info.value) and action in str(info.value)


@given(st.sampled_from(list(ap.State)), st.sampled_from(list(ap.Action)))
def test_apply_agrees_with_the_rule_table(state, action):
    legal = state in ap.RULES[action].sources
    try:
        target = ap.apply(state, action, reason="r", draft=DRAFT)
    except ap.IllegalTransition:
        assert not legal
    else:
        assert legal and target is ap.RULES[action].target


def test_submit_needs_grounds_from_the_list_and_a_statement():
    with pytest.raises(ap.AppealError, match="未知申诉理由"):
        ap.apply("draft", "submit", draft=ap.Draft("看不顺眼", "说明"))
    with pytest.raises(ap.AppealError, match="申诉说明"):
        ap.apply("draft", "submit", draft=ap.Draft("非本辖区", "  "))
    with pytest.raises(ap.AppealError, match="原因"):
        ap.apply("submitted", "deny")


def test_grounds_cover_the_domain_list():
    assert {"不合理诉求", "非本辖区", "超职责范围", "重复诉求", "无法联系"} == set(ap.GROUNDS)


def test_deadline_warns_as_it_nears_and_flags_when_past():
    rules = ap.AppealRules(submit_within_days=5, warn_within_hours=48)
    due = ap.submission_deadline(DAY, rules)
    assert due == DAY + timedelta(days=5)
    assert ap.deadline_view(due, DAY, rules).level == "ok"
    assert ap.deadline_view(due, due - timedelta(hours=48), rules).level == "warning"
    assert ap.deadline_view(due, due - timedelta(hours=49), rules).level == "ok"
    assert ap.deadline_view(due, due, rules).level == "overdue"
    assert "2 天" in ap.deadline_view(due, due - timedelta(hours=48), rules).label


def test_rules_load_from_toml_and_report_every_problem():
    rules = ap.rules_from_toml('[appeals]\nstreet_name = "西三旗街道"\nkeywords = ["退款"]\nrepeat_min_tickets = 4\n')
    assert rules.keywords == ("退款",) and rules.repeat_min_tickets == 4
    assert ap.rules_from_mapping(ap.rules_to_mapping(rules)) == rules
    with pytest.raises(ap.AppealError) as info:
        ap.rules_from_mapping({"repeat_min_tickets": 0, "keywords": "退款", "colour": "red"})
    text = str(info.value)
    assert "repeat_min_tickets" in text and "keywords" in text and "colour" in text
    with pytest.raises(ap.AppealError, match="TOML"):
        ap.rules_from_toml("[appeals\n")


# --- the crafted day -------------------------------------------------------------------------

RULES = ap.AppealRules(street_name="西三旗街道", address_keywords=("育新花园", "永泰庄", "西三旗"),
                       repeat_min_tickets=3, repeat_window_days=30, duplicate_window_days=90,
                       keywords=("退还定金",), categories=("劳动和社会保障",))


def facts(ticket_id, no, *, at=DAY, phone="", l1="城乡建设", l2="道路", title="问题", content="", street="",
          address="育新花园1号楼", closed=None, outcomes=()):
    return ap.TicketFacts(ticket_id, no, at, phone, l1, l2, title, content, street, "", address, closed, outcomes)


def crafted_day():
    """One ticket per rule, plus near misses each rule must leave alone."""
    history = [
        # repeat caller: two earlier tickets on the same matter inside the window …
        facts(1, "H1", at=DAY - timedelta(days=20), phone="13800000001", l1="物业管理", l2="噪音", address="永泰庄北路"),
        facts(2, "H2", at=DAY - timedelta(days=5), phone="13800000001", l1="物业管理", l2="噪音", address="永泰庄西路"),
        # … and a near miss: 13800000002 has one in the window, one 40 days ago
        facts(3, "H3", at=DAY - timedelta(days=40), phone="13800000002", l1="物业管理", l2="噪音"),
        facts(4, "H4", at=DAY - timedelta(days=3), phone="13800000002", l1="物业管理", l2="噪音"),
        # duplicate: handled 10 days ago at the same place on the same matter
        facts(5, "H5", at=DAY - timedelta(days=15), phone="13800000005", l1="城乡建设", l2="路灯",
              address="西三旗桥东路灯", closed=DAY - timedelta(days=10)),
        # near miss: same place and matter but never closed
        facts(6, "H6", at=DAY - timedelta(days=15), phone="13800000006", l1="城乡建设", l2="井盖",
              address="育新花园东门"),
    ]
    day = [
        facts(10, "D-REPEAT", phone="13800000001", l1="物业管理", l2="噪音", address="永泰庄北路"),
        facts(11, "D-NEAR-REPEAT", phone="13800000002", l1="物业管理", l2="噪音"),
        facts(12, "D-KEYWORD", phone="13800000012", title="要求商家退还定金"),
        facts(13, "D-CATEGORY", phone="13800000013", l1="劳动和社会保障", l2="工资"),
        facts(14, "D-STREET", phone="13800000014", street="清河街道", address="清河中街"),
        facts(15, "D-ADDRESS", phone="13800000015", address="回龙观西大街"),
        facts(16, "D-DUP", phone="13800000016", l1="城乡建设", l2="路灯", address="西三旗桥东路灯"),
        facts(17, "D-NEAR-DUP", phone="13800000017", l1="城乡建设", l2="井盖", address="育新花园东门"),
        facts(18, "D-WRONG", phone="13800000018", outcomes=("no-answer", "invalid-number")),
        facts(19, "D-REACHED", phone="13800000019", outcomes=("invalid-number", "answered-complete")),
        facts(20, "D-CLEAN", phone="13800000020", title="路面坑洼", address="育新花园3号楼"),
    ]
    return day, history


def test_each_rule_finds_exactly_its_ticket_on_the_crafted_day():
    day, history = crafted_day()
    found = {(c.ticket_id, c.rule) for c in ap.find_candidates(day, history, RULES)}
    assert found == {(10, "repeat_caller"), (12, "keyword"), (13, "category"), (14, "outside_address"),
                     (15, "outside_address"), (16, "duplicate"), (18, "wrong_number")}


def test_reasons_name_what_a_person_can_check():
    day, history = crafted_day()
    reasons = {c.ticket_id: c for c in ap.find_candidates(day, history, RULES)}
    assert "H1、H2、D-REPEAT" in reasons[10].reason and "138****0001" in reasons[10].reason
    assert "退还定金" in reasons[12].reason
    assert "劳动和社会保障" in reasons[13].reason
    assert "清河街道" in reasons[14].reason
    assert "回龙观西大街" in reasons[15].reason
    assert "H5" in reasons[16].reason
    assert "号码无效" in reasons[18].reason
    assert {c.grounds for c in reasons.values()} <= set(ap.GROUNDS)


def test_a_threshold_change_changes_what_the_repeat_rule_finds():
    day, history = crafted_day()
    loose = replace(RULES, repeat_min_tickets=2)
    found = {c.ticket_id for c in ap.find_candidates(day, history, loose) if c.rule == "repeat_caller"}
    assert found == {10, 11}


def test_no_address_list_means_the_address_rule_only_uses_the_street_column():
    day, history = crafted_day()
    rules = ap.AppealRules(street_name="西三旗街道")
    found = {c.ticket_id for c in ap.find_candidates(day, history, rules) if c.rule == "outside_address"}
    assert found == {14}


_phones = st.sampled_from(["", "13800000001", "13800000002", "13800000003"])
_facts = st.builds(
    lambda i, days, phone, l2, title, address, closed, outcomes: facts(
        i, f"T{i}", at=DAY - timedelta(days=days), phone=phone, l2=l2, title=title, address=address,
        closed=DAY - timedelta(days=days) + timedelta(hours=closed) if closed is not None else None,
        outcomes=outcomes),
    st.integers(1, 10_000), st.one_of(st.just(0), st.integers(1, 120)), _phones, st.sampled_from(["噪音", "路灯"]),
    st.sampled_from(["问题", "退还定金"]), st.sampled_from(["育新花园", "回龙观", "西三旗桥"]),
    st.one_of(st.none(), st.integers(1, 200)),
    st.lists(st.sampled_from(["no-answer", "invalid-number", "answered-complete"]), max_size=3).map(tuple))


@given(st.lists(_facts, max_size=25, unique_by=lambda t: t.ticket_id), st.data())
def test_candidates_are_only_for_the_days_tickets_and_ignore_input_order(tickets, data):
    day = [t for t in tickets if t.called_at == DAY]
    history = [t for t in tickets if t.called_at != DAY]
    found = ap.find_candidates(day, history, RULES)
    assert {c.ticket_id for c in found} <= {t.ticket_id for t in day}
    assert all(c.rule in ap.RULE_LABELS and c.grounds in ap.GROUNDS and c.reason for c in found)
    shuffled = ap.find_candidates(data.draw(st.permutations(day)), data.draw(st.permutations(history)), RULES)
    assert sorted(found, key=repr) == sorted(shuffled, key=repr)
    # the rules that look at one ticket alone do not depend on the history at all
    alone = {(c.ticket_id, c.rule) for c in ap.find_candidates(day, [], RULES)
             if c.rule not in ("repeat_caller", "duplicate")}
    assert alone == {(c.ticket_id, c.rule) for c in found if c.rule not in ("repeat_caller", "duplicate")}


def test_submit_needs_evidence_or_a_written_reason_why_none_is_needed():
    bare = ap.Draft("非本辖区", "点位属清河街道。", evidence_count=0)
    with pytest.raises(ap.AppealError, match="至少一项证据"):
        ap.apply("draft", "submit", draft=bare)
    with pytest.raises(ap.AppealError, match="至少一项证据"):
        ap.apply("draft", "submit", draft=bare, reason="   ")
    assert ap.apply("draft", "submit", draft=bare, reason="区划图已公开, 无需另附") is ap.State.SUBMITTED
    assert ap.apply("draft", "submit", draft=replace(bare, evidence_count=1)) is ap.State.SUBMITTED


def test_tickets_our_callback_or_the_city_found_solved_and_satisfied_are_never_candidates():
    day, history = crafted_day()
    fine = ("yes", "solved", "satisfied")
    day = [replace(t, answers=fine) if t.ticket_id in (12, 13) else
           replace(t, answers=("yes", "solved", "basic")) if t.ticket_id == 14 else t for t in day]
    found = {(c.ticket_id, c.rule) for c in ap.find_candidates(day, history, RULES)}
    assert found == {(10, "repeat_caller"), (14, "outside_address"), (15, "outside_address"), (16, "duplicate"),
                     (18, "wrong_number")}
    # A satisfied earlier ticket still counts as a repeat of the matter.
    history = [replace(t, answers=fine) for t in history]
    assert (10, "repeat_caller") in {(c.ticket_id, c.rule) for c in ap.find_candidates(day, history, RULES)}
