"""考核申诉: the appeal state machine, its grounds and deadline, and the daily candidate rules.

Pure, like :mod:`callcenter.ledger.flow`: the repository asks :func:`apply`
whether a step is legal and records it; the candidate rules are plain
functions over ticket facts, each returning a reason a supervisor can check
against the ticket before confirming it.  Nothing here reads a clock or a file:
thresholds, keyword and category lists and the street's address list come in
as an :class:`AppealRules` (stored in the database, editable as TOML).
"""
from __future__ import annotations

import tomllib
from collections import defaultdict
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Iterable, Mapping, Sequence

from .privacy import mask_phone
from .state_machine import Machine
from .timezone import as_local


# --- the appeal record's states ------------------------------------------------------------

class State(str, Enum):
    DRAFT = "draft"            # 草稿
    SUBMITTED = "submitted"    # 提交 (awaiting the 分中心)
    GRANTED = "granted"        # 通过 (核减): leaves the 剔除后 basis
    DENIED = "denied"          # 查否

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {State.DRAFT: "草稿", State.SUBMITTED: "已提交", State.GRANTED: "通过(核减)", State.DENIED: "查否"}
#: An appeal in one of these states blocks a second appeal on the same ticket.
LIVE_STATES = frozenset({State.DRAFT, State.SUBMITTED, State.GRANTED})


class Action(str, Enum):
    SUBMIT = "submit"    # 提交 to the 分中心
    GRANT = "grant"      # the 分中心 grants it (核减)
    DENY = "deny"        # the 分中心 denies it (查否, with its reason)
    WITHDRAW = "withdraw"  # back to 草稿 before a decision (reason), e.g. to add evidence

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS = {Action.SUBMIT: "提交", Action.GRANT: "通过(核减)", Action.DENY: "查否", Action.WITHDRAW: "撤回"}


@dataclass(frozen=True)
class Rule:
    sources: frozenset[State]
    target: State
    needs_reason: bool = False


RULES: dict[Action, Rule] = {
    Action.SUBMIT: Rule(frozenset({State.DRAFT}), State.SUBMITTED),
    Action.GRANT: Rule(frozenset({State.SUBMITTED}), State.GRANTED),
    Action.DENY: Rule(frozenset({State.SUBMITTED}), State.DENIED, needs_reason=True),
    Action.WITHDRAW: Rule(frozenset({State.SUBMITTED}), State.DRAFT, needs_reason=True),
}


# --- grounds (domain.md "Appeals") ------------------------------------------------------------

GROUNDS: dict[str, str] = {
    "不合理诉求": "诉求无法律政策依据、超出公共服务职责, 或属恶意、重复骚扰",
    "非本辖区": "问题点位不在本街道辖区",
    "超职责范围": "诉求事项不属街道职责",
    "重复诉求": "与已办结工单为同一事项",
    "无法联系": "诉求人无法联系或电话号码错误",
}


class AppealError(ValueError):
    """A step the appeal flow does not allow, or that lacks what it needs."""


MACHINE = Machine(State, Action, RULES, AppealError, state_noun="申诉状态", action_noun="申诉操作")


class IllegalTransition(AppealError):
    def __init__(self, state: State, action: Action):
        self.state, self.action = state, action
        super().__init__(MACHINE.refusal(state, action))


parse_state = MACHINE.parse_state
parse_action = MACHINE.parse_action


def check_grounds(grounds: str) -> str:
    if grounds not in GROUNDS:
        raise AppealError(f"未知申诉理由 “{grounds}”, 可选: {'/'.join(GROUNDS)}")
    return grounds


allowed_actions = MACHINE.allowed_actions


@dataclass(frozen=True)
class Draft:
    """What a submission needs on file; checked at 提交, not while drafting."""
    grounds: str
    statement: str
    evidence_count: int = 0


def apply(state: State | str, action: Action | str, *, reason: str = "", draft: Draft | None = None) -> State:
    """The state after ``action``, or :class:`AppealError` naming what is wrong.

    提交 needs valid grounds, a written statement, and at least one piece of
    evidence — or, as ``reason``, a written reason why none is needed: the
    分中心 rejects an appeal without them, so it must not leave the street half-done.
    """
    state, action = parse_state(state), parse_action(action)
    rule = RULES[action]
    if state not in rule.sources:
        raise IllegalTransition(state, action)
    if rule.needs_reason and not reason.strip():
        raise AppealError(f"{action.label} 必须填写原因")
    if action is Action.SUBMIT:
        if draft is None:
            raise AppealError("提交需要申诉材料")
        check_grounds(draft.grounds)
        if not draft.statement.strip():
            raise AppealError("提交前必须填写申诉说明")
        if draft.evidence_count < 1 and not reason.strip():
            raise AppealError("提交需要至少一项证据 (照片、文件或回访录音), 或写明无需证据的理由")
    return rule.target


# --- submission deadline ----------------------------------------------------------------------

@dataclass(frozen=True)
class DeadlineView:
    due_at: datetime
    level: str          # ok | warning | overdue
    remaining: timedelta

    @property
    def label(self) -> str:
        if self.level == "overdue":
            return "已超过申诉提交期限"
        hours = int(self.remaining.total_seconds() // 3600)
        return f"距申诉提交截止还有 {hours // 24} 天 {hours % 24} 小时"


def submission_deadline(basis: datetime, rules: "AppealRules") -> datetime:
    """Appeals are due ``submit_within_days`` after the ticket's 办结 (or 来电, if never closed)."""
    return as_local(basis) + timedelta(days=rules.submit_within_days)


def deadline_view(due_at: datetime, now: datetime, rules: "AppealRules") -> DeadlineView:
    remaining = due_at - now
    if remaining <= timedelta(0):
        level = "overdue"
    elif remaining <= timedelta(hours=rules.warn_within_hours):
        level = "warning"
    else:
        level = "ok"
    return DeadlineView(due_at, level, remaining)


# --- configurable rules --------------------------------------------------------------------

@dataclass(frozen=True)
class AppealRules:
    """Everything the candidate rules and deadlines take from the street's configuration."""
    street_name: str = "西三旗街道"
    #: 所在社区 / road / compound names inside the street; an address naming none is "outside".
    address_keywords: tuple[str, ...] = ()
    repeat_min_tickets: int = 3          # same caller, same matter, within the window
    repeat_window_days: int = 30
    duplicate_window_days: int = 90      # an earlier, handled ticket on the same matter
    keywords: tuple[str, ...] = ()       # matters the street cannot act on (title/content)
    categories: tuple[str, ...] = ()     # 一级/二级分类 outside the street's duties
    submit_within_days: int = 5
    warn_within_hours: int = 48


_TEXT_LISTS = ("address_keywords", "keywords", "categories")
_POSITIVE = ("repeat_min_tickets", "repeat_window_days", "duplicate_window_days", "submit_within_days",
             "warn_within_hours")


def rules_from_mapping(data: Mapping[str, Any]) -> AppealRules:
    """Validated rules; every problem is listed in one :class:`AppealError`."""
    known = {f.name for f in fields(AppealRules)}
    problems = [f"未知配置项 {k!r}" for k in data if k not in known]
    values: dict[str, Any] = {}
    for key, raw in data.items():
        if key not in known:
            continue
        if key in _TEXT_LISTS:
            if not isinstance(raw, (list, tuple)) or not all(isinstance(x, str) and x.strip() for x in raw):
                problems.append(f"{key}: 须为非空文字的列表")
                continue
            values[key] = tuple(x.strip() for x in raw)
        elif key in _POSITIVE:
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
                problems.append(f"{key}: 须为正整数, 得到 {raw!r}")
                continue
            values[key] = raw
        else:
            if not isinstance(raw, str) or not raw.strip():
                problems.append(f"{key}: 不能为空")
                continue
            values[key] = raw.strip()
    if problems:
        raise AppealError("申诉规则配置错误: " + "; ".join(problems))
    return replace(AppealRules(), **values)


def rules_from_toml(text: str) -> AppealRules:
    """The ``[appeals]`` table of a TOML document (the whole document if it has none)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AppealError(f"TOML 语法错误: {exc}") from None
    return rules_from_mapping(data.get("appeals", data))


def rules_to_mapping(rules: AppealRules) -> dict[str, Any]:
    return {f.name: list(v) if isinstance(v := getattr(rules, f.name), tuple) else v for f in fields(rules)}


# --- candidate rules -------------------------------------------------------------------------

@dataclass(frozen=True)
class TicketFacts:
    """What the candidate rules look at, for one ticket."""
    ticket_id: int
    ticket_no: str
    called_at: datetime
    caller_phone: str = ""
    category_l1: str = ""
    category_l2: str = ""
    title: str = ""
    content: str = ""
    street: str = ""
    community_name: str = ""
    address: str = ""
    closed_at: datetime | None = None
    #: Outcomes of our callback attempts, oldest first (callback_attempts.outcome).
    callback_outcomes: tuple[str, ...] = ()
    #: The answers that count for the ticket (our callback, else the city's: ticket_scores),
    #: as (contacted, solved, satisfaction) intents; None each while there is no effective callback.
    answers: tuple[str | None, str | None, str | None] = (None, None, None)

    @property
    def costs_nothing(self) -> bool:
        """Contacted, solved and satisfied: the ticket loses no points, so appealing it gains none."""
        return self.answers == ("yes", "solved", "satisfied")

    @property
    def matter(self) -> tuple[str, str]:
        """Same caller + same classification = the same matter (how the 分中心 counts repeats)."""
        return self.category_l1, self.category_l2

    @property
    def matter_label(self) -> str:
        return "/".join(x for x in self.matter if x) or "未分类"


@dataclass(frozen=True)
class Candidate:
    ticket_id: int
    rule: str
    reason: str
    grounds: str          # the appeal ground a confirmed candidate would start with


RULE_LABELS = {
    "repeat_caller": "重复来电",
    "keyword": "不可办理事项(关键词)",
    "category": "不可办理事项(分类)",
    "outside_address": "非本辖区地址",
    "duplicate": "重复工单",
    "wrong_number": "号码错误",
}


def repeat_caller(ticket: TicketFacts, history: Sequence[TicketFacts], rules: AppealRules) -> Candidate | None:
    """The caller raised the same matter at least ``repeat_min_tickets`` times in the window (this one included)."""
    if not ticket.caller_phone:
        return None
    since = ticket.called_at - timedelta(days=rules.repeat_window_days)
    same = sorted({t for t in history if t.caller_phone == ticket.caller_phone and t.matter == ticket.matter
                   and since <= t.called_at <= ticket.called_at} | {ticket}, key=lambda t: (t.called_at, t.ticket_id))
    if len(same) < rules.repeat_min_tickets:
        return None
    numbers = "、".join(t.ticket_no for t in same)
    return Candidate(ticket.ticket_id, "repeat_caller",
                     f"来电人 {mask_phone(ticket.caller_phone)} 在 {rules.repeat_window_days} 天内就“{ticket.matter_label}”"
                     f"反映 {len(same)} 次 (工单 {numbers})", "不合理诉求")


def keyword(ticket: TicketFacts, rules: AppealRules) -> Candidate | None:
    text = f"{ticket.title}\n{ticket.content}"
    hits = [k for k in rules.keywords if k in text]
    if not hits:
        return None
    return Candidate(ticket.ticket_id, "keyword",
                     f"标题或内容含不可办理事项关键词 “{'”“'.join(hits)}”", "超职责范围")


def category(ticket: TicketFacts, rules: AppealRules) -> Candidate | None:
    hit = next((c for c in (ticket.category_l1, ticket.category_l2) if c and c in rules.categories), None)
    if hit is None:
        return None
    return Candidate(ticket.ticket_id, "category", f"分类 “{hit}” 在街道不可办理的分类清单中", "超职责范围")


def outside_address(ticket: TicketFacts, rules: AppealRules) -> Candidate | None:
    """被反映街乡镇 names another street, or the 问题点位 names none of the street's places."""
    if ticket.street and ticket.street != rules.street_name:
        return Candidate(ticket.ticket_id, "outside_address",
                         f"被反映街乡镇为 “{ticket.street}”, 不是{rules.street_name}", "非本辖区")
    if not rules.address_keywords or not ticket.address:
        return None
    place = f"{ticket.community_name} {ticket.address}"
    if any(k in place for k in rules.address_keywords):
        return None
    return Candidate(ticket.ticket_id, "outside_address",
                     f"问题点位 “{ticket.address}” 不含本街道任何社区或地名", "非本辖区")


def duplicate(ticket: TicketFacts, history: Sequence[TicketFacts], rules: AppealRules) -> Candidate | None:
    """An earlier ticket on the same matter and place was already 办结 before this call."""
    since = ticket.called_at - timedelta(days=rules.duplicate_window_days)
    earlier = [t for t in history if t.ticket_id != ticket.ticket_id and t.matter == ticket.matter
               and t.address and t.address == ticket.address and t.closed_at is not None
               and since <= t.closed_at <= ticket.called_at]
    if not earlier:
        return None
    first = min(earlier, key=lambda t: (t.closed_at, t.ticket_id))
    return Candidate(ticket.ticket_id, "duplicate",
                     f"与已办结工单 {first.ticket_no} (办结于 {as_local(first.closed_at):%Y-%m-%d}) 为同一地点同一事项 "
                     f"“{ticket.matter_label}”", "重复诉求")


def wrong_number(ticket: TicketFacts, rules: AppealRules) -> Candidate | None:
    """Our callback reached no one because the number does not exist (空号/错号)."""
    if "invalid-number" not in ticket.callback_outcomes or any(
            o.startswith("answered") for o in ticket.callback_outcomes):
        return None
    tries = len(ticket.callback_outcomes)
    return Candidate(ticket.ticket_id, "wrong_number",
                     f"回访 {tries} 次未接通, 其中拨号结果为号码无效 (空号), 号码 {mask_phone(ticket.caller_phone)}",
                     "无法联系")


def find_candidates(day: Iterable[TicketFacts], history: Sequence[TicketFacts],
                    rules: AppealRules) -> list[Candidate]:
    """Every rule over the day's tickets; ``history`` holds the earlier tickets the repeat rules compare with."""
    by_phone: dict[str, list[TicketFacts]] = defaultdict(list)
    by_matter: dict[tuple[str, str], list[TicketFacts]] = defaultdict(list)
    pool = {t.ticket_id: t for t in history}
    day = list(day)
    for t in day:
        pool.setdefault(t.ticket_id, t)
    for t in pool.values():
        if t.caller_phone:
            by_phone[t.caller_phone].append(t)
        by_matter[t.matter].append(t)
    found: list[Candidate] = []
    # Tickets already answered 已解决 and 满意 (our callback or the city's) still count as
    # earlier repeats of a matter, but are never candidates themselves.
    for t in sorted((t for t in day if not t.costs_nothing), key=lambda t: (t.called_at, t.ticket_id)):
        checks = (repeat_caller(t, by_phone.get(t.caller_phone, []), rules), keyword(t, rules), category(t, rules),
                  outside_address(t, rules), duplicate(t, by_matter[t.matter], rules), wrong_number(t, rules))
        found.extend(c for c in checks if c is not None)
    return found
