"""The city's 工单状态 → our flow state table (docs/city-data.md), one test per row, and re-import moves."""
import pytest

from callcenter.ledger import city_status as cs
from callcenter.ledger.flow import State

# Written out again by hand from docs/city-data.md, so a changed row in the code fails here.
EXPECTED = {
    "": State.RECEIVED, "待签收": State.RECEIVED, "未签收": State.RECEIVED, "已退回": State.RETURNED,
    "退回成功": State.RETURN_APPROVED, "已签收": State.SIGNED, "已派单": State.DISPATCHED,
    "办理中": State.HANDLING, "已反馈": State.FEEDBACK, "已办结": State.AWAITING_CALLBACK,
    "待回访": State.AWAITING_CALLBACK, "已回访": State.CALLED_BACK, "回访不成功": State.CALLBACK_FAILED,
}
# (签收, 首次联系, 办结) passed without our flow recording them.
SKIPPED = {
    State.RECEIVED: (False, False, False), State.RETURNED: (False, False, False),
    State.RETURN_APPROVED: (False, False, False), State.SIGNED: (True, False, False),
    State.DISPATCHED: (True, False, False), State.HANDLING: (True, True, False), State.FEEDBACK: (True, True, False),
    State.AWAITING_CALLBACK: (True, True, True), State.CALLED_BACK: (True, True, True),
    State.CALLBACK_FAILED: (True, True, True),
}


def test_the_table_has_exactly_the_documented_rows():
    assert {row.label for row in cs.CITY_STATUSES} == set(EXPECTED)


@pytest.mark.parametrize("label", sorted(EXPECTED))
def test_each_city_status_enters_at_its_state_and_skips_its_steps(label):
    state = cs.entry_state(label)
    assert state is EXPECTED[label]
    skipped = cs.skipped_steps(state)
    assert (skipped.sign, skipped.contact, skipped.close) == SKIPPED[state]
    placed = cs.place(state, None)
    assert (placed.state, placed.sign_unknown, placed.contact_unknown, placed.close_skipped) == (state, *SKIPPED[state])


def test_an_ineffective_city_callback_enters_as_failed_and_spaces_are_ignored():
    assert cs.entry_state("已回访", effective_callback=False) is State.CALLBACK_FAILED
    assert cs.entry_state(" 已 回访", effective_callback=True) is State.CALLED_BACK


def test_an_unknown_status_is_refused_with_the_known_ones():
    with pytest.raises(cs.CityStatusError, match="未知工单状态 “已作废”.*已回访"):
        cs.entry_state("已作废")


def test_reimport_moves_only_forward_and_keeps_unknown_times():
    ahead = cs.LedgerPlace(State.AWAITING_CALLBACK, signed=True, contacted=True)
    assert cs.place(State.HANDLING, ahead) == cs.Placement(State.AWAITING_CALLBACK, False, False, False)
    signed = cs.LedgerPlace(State.SIGNED, signed=True, contacted=False)
    assert cs.place(State.CALLED_BACK, signed) == cs.Placement(State.CALLED_BACK, False, True, True)
    unknown = cs.LedgerPlace(State.HANDLING, signed=False, contacted=False, sign_unknown=True, contact_unknown=True)
    assert cs.place(State.FEEDBACK, unknown) == cs.Placement(State.FEEDBACK, True, True, False)
    # Same rank, different state (our 已回访 vs the city's 回访不成功): ours is kept.
    done = cs.LedgerPlace(State.CALLED_BACK, signed=True, contacted=True)
    assert cs.place(State.CALLBACK_FAILED, done).state is State.CALLED_BACK
