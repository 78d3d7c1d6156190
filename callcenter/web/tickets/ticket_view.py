"""How a ticket is presented: deadline status (超期), its fields in the city's words, the action forms.

Pure functions over a ticket row and its history, so the rules are testable
without a browser.  Who may take which flow step is decided here too: the
decisions that judge the street's own work (结案审核, 延期, 重新办理, and
recording the 分中心's ruling on a return) are for supervisors.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from aiohttp import web

from ...db import tickets as tickets_repo
from ...ledger import flow
from ...ledger import ticket_record as tr
from ...ledger.flow import Action, State
from ..core.access import ALL_STAFF, MANAGERS
from ..core.params import office_datetime, unit_id
from ..core.path_params import path_id

ACTION_ROLES: dict[Action, frozenset[str]] = {
    Action.REVIEW_PASS: MANAGERS,
    Action.REVIEW_REJECT: MANAGERS,
    Action.EXTEND: MANAGERS,
    Action.REOPEN: MANAGERS,
    Action.RETURN_APPROVED: MANAGERS,
    Action.RETURN_REJECTED: MANAGERS,
}


def may_take(role: str, action: Action) -> bool:
    return role in ACTION_ROLES.get(action, ALL_STAFF)


@dataclass(frozen=True)
class ActionForm:
    action: Action
    label: str
    needs_reason: bool
    needs_unit: bool
    needs_deadline: bool


def action_forms(state: str, role: str) -> list[ActionForm]:
    """The flow steps legal now that this role may take, with what each form must ask for."""
    forms = []
    for action in flow.allowed_actions(flow.parse_state(state)):
        if may_take(role, action):
            rule = flow.RULES[action]
            forms.append(ActionForm(action, action.label, rule.needs_reason, rule.needs_unit, rule.needs_deadline))
    return forms


@dataclass(frozen=True)
class DeadlineView:
    label: str
    due_at: datetime | None
    done_at: datetime | None
    status: str          # 未到期 | 已超期 | 按时完成 | 超期完成 | 无
    overdue: bool


def _judge(label: str, due: datetime | None, done: datetime | None, still_open: bool,
           now: datetime) -> DeadlineView:
    if due is None:
        return DeadlineView(label, None, done, "无", False)
    if done is not None:
        late = done > due
        return DeadlineView(label, due, done, "超期完成" if late else "按时完成", late)
    if not still_open:
        return DeadlineView(label, due, None, "无", False)
    if now > due:
        return DeadlineView(label, due, None, "已超期", True)
    return DeadlineView(label, due, None, "未到期", False)


def deadline_views(ticket: Mapping[str, Any], events: Sequence[Mapping[str, Any]],
                   now: datetime) -> list[DeadlineView]:
    """签收 / 首次联系 / 办结 deadlines, each met, pending, or 超期."""
    state = flow.parse_state(ticket["status"])
    working = state in flow.OPEN_STATES
    closed_at = None
    if not working:
        fed_back = [e["at"] for e in events if e["to_state"] == State.FEEDBACK.value]
        closed_at = max(fed_back) if fed_back else None
    close_due = ticket["extended_due_at"] or ticket["close_due_at"]
    return [
        _unknown_or(ticket, "sign_time_unknown", ticket["signed_at"], "签收", ticket["sign_due_at"]) or
        _judge("签收", ticket["sign_due_at"], ticket["signed_at"], state is State.RECEIVED, now),
        _unknown_or(ticket, "contact_time_unknown", ticket["first_contact_at"], "首次联系", ticket["contact_due_at"]) or
        _judge("首次联系", ticket["contact_due_at"], ticket["first_contact_at"],
               working and state is not State.RECEIVED, now),
        _unknown_or(ticket, "close_time_unknown", closed_at, "办结", close_due) or
        _judge("办结" + ("(已延期)" if ticket["extended_due_at"] else ""), close_due, closed_at, working, now),
    ]


def _unknown_or(ticket: Mapping[str, Any], flag: str, done: datetime | None, label: str,
                due: datetime | None) -> DeadlineView | None:
    """时间未知: the step happened before the ticket reached our ledger, at a time the city's file lacks."""
    if done is None and ticket.get(flag):
        return DeadlineView(label, due, None, "时间未知", False)
    return None


#: City columns holding instants (shown in Beijing time) and the phone (masked unless allowed).
_TIME_COLUMNS = frozenset({"called_at", "dispatched_at", "closed_at", "city_callback_at"})


#: The city's own status and callback columns: shown as 市级系统 values, never as the ticket's live state.
CITY_SYSTEM_COLUMNS = frozenset({"city_status", "handling_result", "city_effective_callback", "city_contacted",
                                 "city_solved", "city_satisfied", "city_callback_at"})


def city_fields(ticket: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(column, Chinese header, value) for every column of the city's export, in its order.

    The city's status and answers are labelled （市级系统）: the page's one live status is
    our ledger's, and our own callback's answers are shown beside them.
    """
    return [(f.column, f"{f.header}（市级系统）" if f.column in CITY_SYSTEM_COLUMNS else f.header,
             _with_unit(f.column, ticket[f.column]))
            for f in tr.FIELDS]


#: Numbers that mean nothing without their unit.
FIELD_UNITS = {"time_limit_hours": "小时"}


def _with_unit(column: str, value: Any) -> Any:
    return f"{value} {FIELD_UNITS[column]}" if column in FIELD_UNITS and value is not None else value


def is_time_column(column: str) -> bool:
    return column in _TIME_COLUMNS


def state_label(value: str) -> str:
    try:
        return flow.State(value).label
    except ValueError:
        return value


def action_label(value: str) -> str:
    if value == "import":
        return "市级系统导入"
    try:
        return flow.Action(value).label
    except ValueError:
        return value


# --- a ticket as a request names it, and the flow step a form or a JSON body asks for -----------

#: Longest reason accepted for a flow step (a paragraph, not a document).
MAX_REASON = 2000


def ticket_id_of(request: web.Request) -> int:
    return path_id(request, "ticket_id")


def step_from(values: Mapping[str, Any], role: str) -> flow.Step:
    """The flow step a form or a JSON body asks for, read the same way for both.

    Only what this action uses is read, so stray fields are ignored; a role
    that may not take the action gets 403, anything malformed a FlowError.
    """
    action = flow.parse_action(str(values.get("action", "")))
    if not may_take(role, action):
        raise web.HTTPForbidden(text=f"您的角色不能执行“{action.label}”")
    reason = str(values.get("reason") or "").strip()
    if len(reason) > MAX_REASON:
        raise flow.FlowError(f"原因最长 {MAX_REASON} 个字")
    rule = flow.RULES[action]
    return flow.Step(
        action, reason=reason,
        unit_id=unit_id(str(values.get("unit_id") or ""), flow.FlowError) if rule.needs_unit else None,
        new_deadline=office_datetime(str(values.get("new_deadline") or ""), flow.FlowError, "新的办结期限")
        if rule.needs_deadline else None)


async def ticket_with_history(conn, ticket_id: int) -> tuple[Any, list]:
    """The ticket and its audit trail, or 404 naming the number asked for."""
    try:
        ticket = await tickets_repo.get_ticket(conn, ticket_id)
    except tickets_repo.TicketNotFound:
        raise web.HTTPNotFound(text=f"工单 {ticket_id} 不存在") from None
    return ticket, await tickets_repo.history(conn, ticket_id)
