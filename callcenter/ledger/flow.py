"""The street's ticket flow (工单流转) as a pure state machine.

No I/O here: the database layer asks this module whether a step is legal and
what state it leads to, then records the step in ``ticket_events``.  Because
every change goes through :func:`apply`, replaying a ticket's audit trail with
:func:`replay` always reproduces its current state.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable

from .state_machine import Machine


class State(str, Enum):
    RECEIVED = "received"                    # 接收 (待签收)
    RETURNED = "returned"                    # 已退回, awaiting the 分中心's decision
    RETURN_APPROVED = "return_approved"      # 退回成功: the ticket left the street
    SIGNED = "signed"                        # 已签收
    DISPATCHED = "dispatched"                # 已派单 to a department or community
    HANDLING = "handling"                    # 办理中
    FEEDBACK = "feedback"                    # 已反馈, awaiting 结案审核
    AWAITING_CALLBACK = "awaiting_callback"  # 待回访
    CALLED_BACK = "called_back"              # 已回访
    CALLBACK_FAILED = "callback_failed"      # 回访不成功 (unreachable after all attempts)

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS: dict[State, str] = {
    State.RECEIVED: "待签收",
    State.RETURNED: "已退回(待审核)",
    State.RETURN_APPROVED: "退回成功",
    State.SIGNED: "已签收",
    State.DISPATCHED: "已派单",
    State.HANDLING: "办理中",
    State.FEEDBACK: "已反馈(待结案审核)",
    State.AWAITING_CALLBACK: "待回访",
    State.CALLED_BACK: "已回访",
    State.CALLBACK_FAILED: "回访不成功",
}

#: States in which a ticket is still being worked by the street (deadlines run).
OPEN_STATES = frozenset({State.RECEIVED, State.SIGNED, State.DISPATCHED, State.HANDLING, State.FEEDBACK})


class Action(str, Enum):
    SIGN = "sign"                        # 签收
    RETURN = "return"                    # 退回 to the 分中心 (reason)
    RETURN_REJECTED = "return_rejected"  # the 分中心 rejects the return (reason)
    RETURN_APPROVED = "return_approved"  # the 分中心 accepts the return
    DISPATCH = "dispatch"                # 派单 to a unit
    REDISPATCH = "redispatch"            # 改派: the unit sends it back for another (reason)
    ACCEPT = "accept"                    # the unit starts 办理
    CONTACT = "contact"                  # first contact with the citizen (stays in 办理)
    EXTEND = "extend"                    # 延期 approved (reason, new deadline)
    FEEDBACK = "feedback"                # 反馈 the handling result
    REVIEW_PASS = "review_pass"          # 结案审核 passed → 待回访
    REVIEW_REJECT = "review_reject"      # 结案审核 rejected → back to 办理 (reason)
    CALLBACK_DONE = "callback_done"      # 回访 completed
    CALLBACK_FAILED = "callback_failed"  # 回访不成功 after all attempts
    REOPEN = "reopen"                    # 重新办理 after an unsatisfied callback (reason; counted)

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS: dict[Action, str] = {
    Action.SIGN: "签收",
    Action.RETURN: "退回",
    Action.RETURN_REJECTED: "退回被驳回",
    Action.RETURN_APPROVED: "退回通过",
    Action.DISPATCH: "派单",
    Action.REDISPATCH: "改派",
    Action.ACCEPT: "接单办理",
    Action.CONTACT: "首次联系",
    Action.EXTEND: "延期",
    Action.FEEDBACK: "反馈",
    Action.REVIEW_PASS: "结案审核通过",
    Action.REVIEW_REJECT: "结案审核驳回",
    Action.CALLBACK_DONE: "回访完成",
    Action.CALLBACK_FAILED: "回访不成功",
    Action.REOPEN: "重新办理",
}


@dataclass(frozen=True)
class Rule:
    sources: frozenset[State]
    target: State | None          # None: the state does not change (a recorded step inside a state)
    needs_reason: bool = False
    needs_unit: bool = False
    needs_deadline: bool = False


def _from(*states: State) -> frozenset[State]:
    return frozenset(states)


RULES: dict[Action, Rule] = {
    Action.SIGN: Rule(_from(State.RECEIVED), State.SIGNED),
    Action.RETURN: Rule(_from(State.RECEIVED, State.SIGNED), State.RETURNED, needs_reason=True),
    Action.RETURN_REJECTED: Rule(_from(State.RETURNED), State.RECEIVED, needs_reason=True),
    Action.RETURN_APPROVED: Rule(_from(State.RETURNED), State.RETURN_APPROVED),
    Action.DISPATCH: Rule(_from(State.SIGNED), State.DISPATCHED, needs_unit=True),
    Action.REDISPATCH: Rule(_from(State.DISPATCHED, State.HANDLING), State.DISPATCHED,
                            needs_reason=True, needs_unit=True),
    Action.ACCEPT: Rule(_from(State.DISPATCHED), State.HANDLING),
    Action.CONTACT: Rule(_from(State.HANDLING), None),
    Action.EXTEND: Rule(_from(State.HANDLING), None, needs_reason=True, needs_deadline=True),
    Action.FEEDBACK: Rule(_from(State.HANDLING), State.FEEDBACK, needs_reason=True),
    Action.REVIEW_PASS: Rule(_from(State.FEEDBACK), State.AWAITING_CALLBACK),
    Action.REVIEW_REJECT: Rule(_from(State.FEEDBACK), State.HANDLING, needs_reason=True),
    Action.CALLBACK_DONE: Rule(_from(State.AWAITING_CALLBACK), State.CALLED_BACK),
    Action.CALLBACK_FAILED: Rule(_from(State.AWAITING_CALLBACK), State.CALLBACK_FAILED),
    Action.REOPEN: Rule(_from(State.CALLED_BACK, State.CALLBACK_FAILED), State.HANDLING, needs_reason=True),
}


class FlowError(ValueError):
    """A step that the flow does not allow, or that lacks what it needs."""


MACHINE = Machine(State, Action, RULES, FlowError, state_noun="工单状态", action_noun="操作")


class IllegalTransition(FlowError):
    def __init__(self, state: State, action: Action):
        self.state, self.action = state, action
        super().__init__(MACHINE.refusal(state, action))


parse_state = MACHINE.parse_state
parse_action = MACHINE.parse_action


allowed_actions = MACHINE.allowed_actions


@dataclass(frozen=True)
class Step:
    """One requested flow step; what the caller must supply depends on the action."""
    action: Action
    reason: str = ""
    unit_id: int | None = None
    new_deadline: object | None = None   # a datetime; kept opaque here so the domain stays I/O free


def apply(state: State | str, step: Step) -> State:
    """Return the state after ``step``, or raise :class:`FlowError` naming both sides."""
    state = parse_state(state)
    action = parse_action(step.action)
    rule = RULES[action]
    if state not in rule.sources:
        raise IllegalTransition(state, action)
    if rule.needs_reason and not step.reason.strip():
        raise FlowError(f"{action.label} 必须填写原因 (state {state.value}, action {action.value})")
    if rule.needs_unit and step.unit_id is None:
        raise FlowError(f"{action.label} 必须指定承办科室或社区")
    if rule.needs_deadline and step.new_deadline is None:
        raise FlowError(f"{action.label} 必须给出新的办结期限")
    return rule.target if rule.target is not None else state


def replay(initial: State | str, actions: Iterable[tuple[str, str]]) -> State:
    """Replay an audit trail of ``(action, to_state)`` pairs and check each step.

    Raises :class:`FlowError` when the trail contains a step the flow forbids or
    whose recorded target disagrees with the machine: a corrupted history.
    """
    return MACHINE.replay(initial, actions, IllegalTransition)
