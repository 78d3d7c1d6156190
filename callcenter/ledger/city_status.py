"""Where an imported ticket enters the street's flow: the city's 工单状态 → our state.

The city's file says what state a ticket is in, but carries only two of the
flow's times (派单时间, 办结时间).  A ticket enters at the state the file names,
with one ``import`` event; the 签收 / 首次联系 / 办结 steps it has passed
without a time in the file are marked 时间未知, so they leave the on-time rates
instead of counting as late.  A re-import only moves a ticket forward: a ledger
state ahead of the city's is kept and the disagreement is recorded.
docs/city-data.md shows this table next to the flow; keep the two together.
"""
from __future__ import annotations

from dataclasses import dataclass

from .flow import State


class CityStatusError(ValueError):
    """A 工单状态 the table does not know."""


@dataclass(frozen=True)
class CityStatus:
    label: str              # 工单状态 as the city writes it ('' = the file has no status)
    state: State            # where the ticket enters our flow
    note: str               # why, in words (docs/city-data.md)


#: One row per spelling the city's exports use.  已回访 with 是否有效回访 = 否 enters as 回访不成功.
CITY_STATUSES: tuple[CityStatus, ...] = (
    CityStatus("", State.RECEIVED, "文件无工单状态: 按新派来的工单, 待签收"),
    CityStatus("待签收", State.RECEIVED, "分中心已派来, 街道尚未签收"),
    CityStatus("未签收", State.RECEIVED, "同 待签收"),
    CityStatus("已退回", State.RETURNED, "街道已退回, 待分中心审核"),
    CityStatus("退回成功", State.RETURN_APPROVED, "分中心同意退回, 工单离开街道"),
    CityStatus("已签收", State.SIGNED, "已签收, 尚未派单"),
    CityStatus("已派单", State.DISPATCHED, "已派至科室或社区"),
    CityStatus("办理中", State.HANDLING, "科室或社区办理中"),
    CityStatus("已反馈", State.FEEDBACK, "已反馈办理结果, 待结案审核"),
    CityStatus("已办结", State.AWAITING_CALLBACK, "已办结 (办结时间), 待回访"),
    CityStatus("待回访", State.AWAITING_CALLBACK, "同 已办结"),
    CityStatus("已回访", State.CALLED_BACK, "市级已回访; 是否有效回访=否 时为 回访不成功"),
    CityStatus("回访不成功", State.CALLBACK_FAILED, "市级回访未能联系到诉求人"),
)
_BY_LABEL = {s.label: s for s in CITY_STATUSES}
KNOWN_LABELS = tuple(s.label for s in CITY_STATUSES if s.label)

#: How far along the flow a state is: a re-import moves a ticket only to a higher rank.
STATE_RANK: dict[State, int] = {
    State.RECEIVED: 0, State.SIGNED: 1, State.RETURNED: 1, State.DISPATCHED: 2, State.HANDLING: 3,
    State.FEEDBACK: 4, State.AWAITING_CALLBACK: 5, State.CALLED_BACK: 6, State.CALLBACK_FAILED: 6,
    State.RETURN_APPROVED: 7,
}

#: The states past each timed step (签收, 首次联系, 办结): entering one of them skips the step.
_PAST_SIGN = frozenset({State.SIGNED, State.DISPATCHED, State.HANDLING, State.FEEDBACK,
                        State.AWAITING_CALLBACK, State.CALLED_BACK, State.CALLBACK_FAILED})
_PAST_CONTACT = frozenset({State.HANDLING, State.FEEDBACK, State.AWAITING_CALLBACK, State.CALLED_BACK,
                           State.CALLBACK_FAILED})
_PAST_CLOSE = frozenset({State.AWAITING_CALLBACK, State.CALLED_BACK, State.CALLBACK_FAILED})


def check_label(text: str) -> str:
    """The status as written, or :class:`CityStatusError` listing the known ones."""
    label = text.replace(" ", "")
    if label not in _BY_LABEL:
        raise CityStatusError(f"未知工单状态 “{label}”, 可选: {'/'.join(KNOWN_LABELS)}")
    return label


def entry_state(city_status: str, effective_callback: bool | None = None) -> State:
    """The state an imported ticket enters at (or moves forward to on re-import)."""
    state = _BY_LABEL[check_label(city_status)].state
    if state is State.CALLED_BACK and effective_callback is False:
        return State.CALLBACK_FAILED
    return state


@dataclass(frozen=True)
class SkippedSteps:
    """Which timed steps a ticket entering ``state`` has passed without our flow recording them."""
    sign: bool
    contact: bool
    close: bool


def skipped_steps(state: State) -> SkippedSteps:
    return SkippedSteps(state in _PAST_SIGN, state in _PAST_CONTACT, state in _PAST_CLOSE)


def moves_forward(ledger: State, city: State) -> bool:
    """Whether a re-import may move a ticket from ``ledger`` to ``city`` (never backwards)."""
    return STATE_RANK[city] > STATE_RANK[ledger]


@dataclass(frozen=True)
class LedgerPlace:
    """What the ledger already holds of a ticket a file imports again."""
    state: State
    signed: bool                 # signed_at is recorded
    contacted: bool              # first_contact_at is recorded
    sign_unknown: bool = False
    contact_unknown: bool = False
    close_unknown: bool = False


@dataclass(frozen=True)
class Placement:
    """Where the import leaves a ticket, and which of its step times are 时间未知."""
    state: State
    sign_unknown: bool
    contact_unknown: bool
    close_skipped: bool          # past 办结: unknown unless the file has a 办结时间


def place(city: State, ledger: LedgerPlace | None) -> Placement:
    """New tickets enter at ``city``; known ones move only forward, and 时间未知 never unsets."""
    skipped = skipped_steps(city)
    if ledger is None:
        return Placement(city, skipped.sign, skipped.contact, skipped.close)
    if not moves_forward(ledger.state, city):
        return Placement(ledger.state, ledger.sign_unknown, ledger.contact_unknown, ledger.close_unknown)
    return Placement(city, ledger.sign_unknown or (skipped.sign and not ledger.signed),
                     ledger.contact_unknown or (skipped.contact and not ledger.contacted),
                     ledger.close_unknown or skipped.close)
