"""The mechanics the street's three flows share (工单, 考核申诉, 城市管理案件); pure, no I/O.

Each flow keeps its own states, actions, transition table and the checks a
step needs (reason, unit, deadline, grounds …) in its own module, where the
domain rules read best.  What is the same in all three lives here, so their
messages and their audit-trail replay cannot drift apart: parsing a stored
state or a requested action, which actions a state allows, the refusal that
names both sides, and replaying ``(action, to_state)`` pairs.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Generic, Iterable, Mapping, Protocol, TypeVar

S = TypeVar("S", bound=Enum)
A = TypeVar("A", bound=Enum)


class _Rule(Protocol):
    sources: frozenset
    target: object          # the next state; None in the ticket flow means "stays where it is"


@dataclass(frozen=True)
class Machine(Generic[S, A]):
    states: type[S]
    actions: type[A]
    rules: Mapping[A, _Rule]
    error: type[ValueError]   # the flow's own error class
    state_noun: str           # e.g. "工单状态"
    action_noun: str          # e.g. "操作"

    def parse_state(self, value: str | S) -> S:
        try:
            return self.states(value)
        except ValueError:
            raise self.error(f"未知{self.state_noun}: {value!r}") from None

    def parse_action(self, value: str | A) -> A:
        try:
            return self.actions(value)
        except ValueError:
            known = ", ".join(a.value for a in self.actions)
            raise self.error(f"未知{self.action_noun}: {value!r} (可用: {known})") from None

    def allowed_actions(self, state: S) -> list[A]:
        return [action for action, rule in self.rules.items() if state in rule.sources]

    def refusal(self, state: S, action: A) -> str:
        """Why ``action`` cannot be taken in ``state``, and what can."""
        allowed = ", ".join(f"{a.value}({a.label})" for a in self.allowed_actions(state)) or "无"
        return (f"{self.state_noun} {state.value}({state.label}) 不能执行 {action.value}({action.label}); "
                f"该状态允许: {allowed}")

    def replay(self, initial: str | S, trail: Iterable[tuple[str, str]],
               illegal: Callable[[S, A], Exception]) -> S:
        """Replay an audit trail of ``(action, to_state)`` pairs, checking each step.

        Raises ``illegal(state, action)`` for a step the flow forbids and the
        flow's error when a recorded target disagrees with the table: either
        means a corrupted history.
        """
        state = self.parse_state(initial)
        for action, recorded in trail:
            rule = self.rules[self.parse_action(action)]
            if state not in rule.sources:
                raise illegal(state, self.parse_action(action))
            expected = rule.target if rule.target is not None else state
            if expected.value != recorded:
                raise self.error(f"审计记录不一致: {action} 应到 {expected.value}, 记录为 {recorded}")
            state = expected
        return state
