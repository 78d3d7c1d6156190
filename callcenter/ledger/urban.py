"""城市管理考核 / 网格 cases: their flow as a pure state machine, and overdue detection.

Cases arrive from the district's urban-management platform or from grid
inspections.  审核 accepts one (or rejects it as not ours, with a reason);
派发 gives it to a department or community with a deadline; 处置 records the
result and after-photos; 结案 is a reviewer's confirmation, or a send-back to
the unit.  The repository records every step through :func:`apply`, so the
audit trail always replays to the stored state.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields as dc_fields
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Iterable, Mapping

from . import ticket_record as tr
from .state_machine import Machine


class State(str, Enum):
    REVIEW = "review"            # 待审核
    REJECTED = "rejected"        # 不属本街道 (final)
    ACCEPTED = "accepted"        # 已受理, awaiting 派发
    DISPATCHED = "dispatched"    # 已派发 (unit + deadline)
    HANDLED = "handled"          # 已处置, awaiting 结案 review
    CLOSED = "closed"            # 已结案

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {State.REVIEW: "待审核", State.REJECTED: "已退回(非本街道)", State.ACCEPTED: "已受理(待派发)",
                State.DISPATCHED: "已派发", State.HANDLED: "已处置(待结案)", State.CLOSED: "已结案"}
#: The deadline runs while the unit still owes a result.
RUNNING_STATES = frozenset({State.DISPATCHED, State.HANDLED})
FINAL_STATES = frozenset({State.REJECTED, State.CLOSED})


class Action(str, Enum):
    ACCEPT = "accept"        # 审核通过
    REJECT = "reject"        # 审核退回: not ours (reason)
    DISPATCH = "dispatch"    # 派发 (unit, deadline)
    HANDLE = "handle"        # 处置 (result text, after photos)
    CLOSE = "close"          # 结案 (a reviewer confirms)
    SEND_BACK = "send_back"  # 结案审核不通过 → back to the unit (reason)

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS = {Action.ACCEPT: "审核通过", Action.REJECT: "退回(非本街道)", Action.DISPATCH: "派发",
                 Action.HANDLE: "处置反馈", Action.CLOSE: "结案", Action.SEND_BACK: "结案退回"}


@dataclass(frozen=True)
class Rule:
    sources: frozenset[State]
    target: State
    needs_reason: bool = False
    needs_unit: bool = False
    needs_deadline: bool = False
    needs_result: bool = False


RULES: dict[Action, Rule] = {
    Action.ACCEPT: Rule(frozenset({State.REVIEW}), State.ACCEPTED),
    Action.REJECT: Rule(frozenset({State.REVIEW}), State.REJECTED, needs_reason=True),
    Action.DISPATCH: Rule(frozenset({State.ACCEPTED}), State.DISPATCHED, needs_unit=True, needs_deadline=True),
    Action.HANDLE: Rule(frozenset({State.DISPATCHED}), State.HANDLED, needs_result=True),
    Action.CLOSE: Rule(frozenset({State.HANDLED}), State.CLOSED),
    Action.SEND_BACK: Rule(frozenset({State.HANDLED}), State.DISPATCHED, needs_reason=True),
}


class UrbanFlowError(ValueError):
    """A step the case flow does not allow, or that lacks what it needs."""


MACHINE = Machine(State, Action, RULES, UrbanFlowError, state_noun="案件状态", action_noun="案件操作")


class IllegalTransition(UrbanFlowError):
    def __init__(self, state: State, action: Action):
        self.state, self.action = state, action
        super().__init__(MACHINE.refusal(state, action))


parse_state = MACHINE.parse_state
parse_action = MACHINE.parse_action


allowed_actions = MACHINE.allowed_actions


@dataclass(frozen=True)
class Step:
    action: Action
    reason: str = ""
    unit_id: int | None = None
    deadline: datetime | None = None
    result: str = ""
    photo_count: int = 0      # after photos on file, including any sent with this step
    at: datetime | None = None


def apply(state: State | str, step: Step) -> State:
    """The state after ``step``, or :class:`UrbanFlowError` naming both sides."""
    state, action = parse_state(state), parse_action(step.action)
    rule = RULES[action]
    if state not in rule.sources:
        raise IllegalTransition(state, action)
    if rule.needs_reason and not step.reason.strip():
        raise UrbanFlowError(f"{action.label} 必须填写原因")
    if rule.needs_unit and step.unit_id is None:
        raise UrbanFlowError(f"{action.label} 必须指定承办科室或社区")
    if rule.needs_deadline:
        if step.deadline is None:
            raise UrbanFlowError(f"{action.label} 必须给出处置期限")
        if step.deadline.tzinfo is None:
            raise UrbanFlowError("处置期限必须带时区")
        if step.at is not None and step.deadline <= step.at:
            raise UrbanFlowError("处置期限必须晚于派发时间")
    if rule.needs_result:
        if not step.result.strip():
            raise UrbanFlowError("处置必须填写处置结果")
        if step.photo_count < 1:
            raise UrbanFlowError("处置必须上传至少一张处置后照片")
    return rule.target


def replay(actions: Iterable[tuple[str, str]], initial: State = State.REVIEW) -> State:
    """Replay ``(action, to_state)`` pairs of an audit trail; raises on a step the flow forbids."""
    return MACHINE.replay(initial, actions, IllegalTransition)


# --- deadlines -----------------------------------------------------------------------------

def is_overdue(state: State | str, deadline: datetime | None, now: datetime) -> bool:
    """Still owed by the unit (派发/处置 awaiting 结案) and past its deadline."""
    return parse_state(state) in RUNNING_STATES and deadline is not None and now > deadline


def closed_on_time(deadline: datetime | None, closed_at: datetime | None) -> bool | None:
    """Whether 结案 came by the deadline (the platform scores closure, not the unit's report);
    None when there is no deadline or the case is not closed."""
    if deadline is None or closed_at is None:
        return None
    return closed_at <= deadline


def due_soon(state: State | str, deadline: datetime | None, now: datetime, within: timedelta) -> bool:
    return parse_state(state) in RUNNING_STATES and deadline is not None and now <= deadline <= now + within


# --- one incoming case (import file row or API payload) ----------------------------------------

SOURCES = {"platform": "城管平台", "grid": "网格巡查", "api": "接口"}
_SOURCE_ALIASES = {"城管平台": "platform", "城市管理平台": "platform", "考核平台": "platform",
                   "网格": "grid", "网格巡查": "grid"}
_CASE_NO = re.compile(r"^\S{1,64}$")


def _case_no(value: Any) -> str:
    text = tr.required_text(value)
    if not _CASE_NO.match(text):
        raise tr.FieldError("案件编号不能含空白, 最长 64 个字符")
    return text


def _source(value: Any) -> str:
    text = tr.text_cell(value)
    if not text:
        return "platform"
    text = _SOURCE_ALIASES.get(text, text)
    if text not in ("platform", "grid"):
        raise tr.FieldError(f"无效取值 “{text}”, 可选: 城管平台/网格巡查")
    return text


def _limited(limit: int, required: bool = False):
    def parse(value: Any) -> str:
        text = tr.required_text(value) if required else tr.text_cell(value)
        if len(text) > limit:
            raise tr.FieldError(f"过长 ({len(text)} 字, 最多 {limit})")
        return text
    return parse


FIELDS: tuple[tr.Field, ...] = (
    tr.Field("case_no", "案件编号", _case_no, required=True),
    tr.Field("source", "案件来源", _source),
    tr.Field("case_type", "案件类型", _limited(100, required=True), required=True),
    tr.Field("description", "问题描述", _limited(4000)),
    tr.Field("address", "问题点位", _limited(500)),
    tr.Field("community_name", "所在社区", _limited(100)),
    tr.Field("reporter", "上报人", _limited(100)),
    tr.Field("reported_at", "上报时间", tr.required_time, required=True),
)
HEADERS = tuple(f.header for f in FIELDS)


@dataclass(frozen=True)
class CaseRecord:
    case_no: str
    case_type: str
    reported_at: datetime
    source: str = "platform"
    description: str = ""
    address: str = ""
    community_name: str = ""
    reporter: str = ""


assert {f.name for f in dc_fields(CaseRecord)} == {f.column for f in FIELDS}, "FIELDS and CaseRecord disagree"


def parse_row(cells, headers: tr.HeaderMap, line: int, *, now: datetime | None = None) -> CaseRecord | list[tr.RowError]:
    """A record, or every error of the row, reported exactly as the ticket importer reports them."""
    values, errors = tr.parse_fields(cells, headers, line)
    reported = values.get("reported_at")
    if now is not None and reported is not None and reported > now + timedelta(minutes=5):
        errors.append(tr.RowError(line, headers.label("reported_at"), "上报时间晚于当前时间",
                                  tr.cell_text(cells[headers.positions["reported_at"]])))
    if errors:
        return errors
    return CaseRecord(**values)


def parse_mapping(data: Mapping[str, Any], *, now: datetime | None = None) -> CaseRecord | list[tr.RowError]:
    """An API payload (column names or the Chinese headers as keys) through the same fields."""
    keys = list(data)
    headers = tr.resolve_headers(keys, FIELDS)      # HeaderError for missing/duplicated keys
    return parse_row([data[k] for k in keys], headers, 1, now=now)
