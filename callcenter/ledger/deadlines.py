"""Deadlines of a ticket (签收 / first contact / 办结) from a dated policy.

The city changes these rules, so a policy carries the date it takes effect and
a ticket is always judged by the policy in force when it was dispatched.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Sequence

from .timezone import PerOfficeDay, local_date, office_text

#: 一级分类 with the emergency (24 h) closure rule, unless the policy table says otherwise.
UTILITY_CATEGORIES = frozenset({"水电气热"})


@dataclass(frozen=True)
class DeadlinePolicy:
    effective_from: date
    sign_hours: int = 2
    contact_hours: int = 24
    contact_hours_urgent: int = 2
    close_days: int = 7
    close_days_complex: int = 15
    close_hours_urgent: int = 24


DEFAULT_POLICY = DeadlinePolicy(effective_from=date(2021, 1, 1))


@dataclass(frozen=True)
class Deadlines:
    sign_due_at: datetime
    contact_due_at: datetime
    close_due_at: datetime


def policy_in_force(policies: Sequence[DeadlinePolicy], at: datetime) -> DeadlinePolicy:
    """The newest policy whose effective date (Asia/Shanghai) is on or before ``at``."""
    day = local_date(at)
    candidates = [p for p in policies if p.effective_from <= day]
    if not candidates:
        raise LookupError(f"no deadline policy in force on {day}")
    return max(candidates, key=lambda p: p.effective_from)


class PoliciesByDay(PerOfficeDay[DeadlinePolicy]):
    """:func:`policy_in_force` remembered per office day: a bulk import asks once per ticket, for a few hundred days.

    Why: scanning the policies for every one of 100k tickets was a sixth of building
    the import's staging rows.  Same answer and same :class:`LookupError` as the function.
    """
    __slots__ = ()

    def __init__(self, policies: Sequence[DeadlinePolicy]):
        super().__init__(functools.partial(policy_in_force, policies))


def compute_deadlines(
    policy: DeadlinePolicy,
    dispatched_at: datetime,
    *,
    urgent: bool,
    category_l1: str,
    is_complex: bool = False,
    time_limit_hours: int | None = None,
    utility_categories: frozenset[str] = UTILITY_CATEGORIES,
) -> Deadlines:
    """Deadlines counted from dispatch.

    The city's own 办理时限 (hours), when the export carries one, is the closure
    limit; otherwise the policy decides: emergencies and 水电气热 close in 24 h,
    complex tickets in 15 days, the rest in 7.
    """
    if dispatched_at.tzinfo is None:
        raise ValueError("dispatched_at must be timezone-aware")
    contact_hours = policy.contact_hours_urgent if urgent else policy.contact_hours
    if time_limit_hours:
        close = timedelta(hours=time_limit_hours)
    elif urgent or category_l1 in utility_categories:
        close = timedelta(hours=policy.close_hours_urgent)
    elif is_complex:
        close = timedelta(days=policy.close_days_complex)
    else:
        close = timedelta(days=policy.close_days)
    return Deadlines(
        sign_due_at=dispatched_at + timedelta(hours=policy.sign_hours),
        contact_due_at=dispatched_at + timedelta(hours=contact_hours),
        close_due_at=dispatched_at + close,
    )


class ExtensionRefused(ValueError):
    """A 延期 whose new deadline the policy does not allow; the message names the limit."""


def check_extension(new_due: datetime, *, now: datetime, current_due: datetime | None, start: datetime,
                    policy: DeadlinePolicy) -> datetime:
    """A 延期's new 办结 deadline, or :class:`ExtensionRefused` naming the limit it breaks.

    It must lie after now and after the current deadline (an extension never brings a
    ticket closer to overdue), and no further than the policy's longest extension:
    ``close_days_complex`` days from dispatch (``start``).
    """
    if new_due.tzinfo is None:
        raise ValueError("new_due must be timezone-aware")
    if new_due <= now:
        raise ExtensionRefused(f"新的办结期限 {office_text(new_due)} 早于当前时间 {office_text(now)}")
    if current_due is not None and new_due <= current_due:
        raise ExtensionRefused(f"新的办结期限 {office_text(new_due)} 不晚于当前期限 {office_text(current_due)}, 延期须延后期限")
    longest = start + timedelta(days=policy.close_days_complex)
    if new_due > longest:
        raise ExtensionRefused(f"新的办结期限 {office_text(new_due)} 超过最长延期: 派单后 {policy.close_days_complex} 天, "
                               f"即 {office_text(longest)} (办理期限规则自 {policy.effective_from.isoformat()} 起)")
    return new_due


#: The limits a policy sets, in the order people read them, with their Chinese names.
POLICY_FIELDS: tuple[tuple[str, str], ...] = (
    ("sign_hours", "签收时限(小时)"), ("contact_hours", "首次联系时限(小时)"),
    ("contact_hours_urgent", "紧急工单首次联系(小时)"), ("close_days", "办结时限(天)"),
    ("close_days_complex", "复杂工单/最长延期(天)"), ("close_hours_urgent", "紧急及水电气热办结(小时)"),
)


def policy_problems(policy: DeadlinePolicy) -> list[str]:
    """Everything wrong with a policy (empty: it can be used)."""
    problems = [f"{label} 须为正整数" for name, label in POLICY_FIELDS
                if not isinstance(getattr(policy, name), int) or getattr(policy, name) <= 0]
    if not problems and policy.close_days_complex < policy.close_days:
        problems.append("复杂工单/最长延期(天) 不能短于 办结时限(天)")
    if not problems and policy.contact_hours_urgent > policy.contact_hours:
        problems.append("紧急工单首次联系(小时) 不能长于 首次联系时限(小时)")
    return problems
