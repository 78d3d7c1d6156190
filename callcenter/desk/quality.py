"""质检 and 坐席统计: grading forms, the weekly sample and per-agent figures (pure, no I/O).

A grade's total is the sum of its item scores, each within the form's maximum;
corrections are new versions (the database refuses to change a saved grade).
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Iterable, Mapping

from ..ledger.timezone import as_local
from ..scoring.rates import display, round_half_up


class GradeError(ValueError):
    """A grade that cannot be saved, in words for the supervisor."""


@dataclass(frozen=True)
class FormItem:
    key: str
    label: str
    max: int


#: Grade form fields that are not score items: an item may not take these keys.
RESERVED_KEYS = frozenset({"comment", "reason", "csrf_token"})
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


def parse_form_items(specs: Iterable[str]) -> list[FormItem]:
    """``key:label:max`` texts as a form's items (a new form version); refusals name the bad one."""
    items: list[FormItem] = []
    for spec in specs:
        parts = spec.split(":")
        if len(parts) != 3:
            raise GradeError(f"评分项应写作 key:名称:满分 (如 script:按脚本准确读题:30): {spec!r}")
        key, label, raw_max = (p.strip() for p in parts)
        if not _KEY.match(key) or key in RESERVED_KEYS:
            raise GradeError(f"评分项代号须为小写英文字母开头的字母数字下划线, 且不能是 {'/'.join(sorted(RESERVED_KEYS))}: {key!r}")
        if not label or len(label) > 40:
            raise GradeError(f"评分项 {key} 须有 1–40 字的名称")
        if not raw_max.isascii() or not raw_max.isdigit() or not 1 <= int(raw_max) <= 100:
            raise GradeError(f"评分项 {key} 的满分须为 1–100 的整数: {raw_max!r}")
        if key in {i.key for i in items}:
            raise GradeError(f"评分项代号重复: {key}")
        items.append(FormItem(key, label, int(raw_max)))
    if not items:
        raise GradeError("质检表至少要有一个评分项")
    return items


def grade_total(items: Iterable[FormItem], scores: Mapping[str, str | int]) -> tuple[dict[str, int], Decimal]:
    """Each item's score checked against the form; returns (scores, total)."""
    kept: dict[str, int] = {}
    for item in items:
        raw = str(scores.get(item.key, "")).strip()
        if not raw.isascii() or not raw.isdigit():
            raise GradeError(f"“{item.label}”须填写 0–{item.max} 的整数")
        value = int(raw)
        if value > item.max:
            raise GradeError(f"“{item.label}”最高 {item.max} 分")
        kept[item.key] = value
    return kept, Decimal(sum(kept.values()))


def week_of(at: datetime) -> date:
    """The Monday (Beijing) of the week ``at`` falls in."""
    day = as_local(at).date()
    return day - timedelta(days=day.weekday())


def weekly_sample(calls_by_agent: Mapping[str, list[str]], rate: float, week: date) -> dict[str, list[str]]:
    """ceil(rate × calls) of each agent's calls (at least one if they made any), drawn reproducibly per week."""
    picked = {}
    for agent, calls in sorted(calls_by_agent.items()):
        if not calls:
            continue
        want = min(len(calls), max(1, math.ceil(rate * len(calls))))
        rng = random.Random(f"{week.isoformat()}/{agent}")
        picked[agent] = sorted(rng.sample(sorted(calls), want))
    return picked


def last_finished_week(now: datetime) -> date:
    """The Monday of the last whole week before ``now``: the week whose sample is due."""
    return week_of(now) - timedelta(days=7)


@dataclass(frozen=True)
class AgentCall:
    agent: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str
    corrections: int = 0          # supervisor versions added to this call's answers


@dataclass(frozen=True)
class AgentFigures:
    agent: str
    calls: int
    hours: int                    # distinct clock hours (Beijing) with at least one call
    calls_per_hour: Fraction | None
    talk_seconds: int
    completion_rate: Fraction | None
    qa_score: Decimal | None      # mean of the latest version of each graded call
    corrections: int


def agent_figures(calls: Iterable[AgentCall], qa_totals: Mapping[str, list[Decimal]]) -> list[AgentFigures]:
    """Per-agent figures, by agent name."""
    by_agent: dict[str, list[AgentCall]] = {}
    for call in calls:
        by_agent.setdefault(call.agent, []).append(call)
    out = []
    for agent in sorted(set(by_agent) | set(qa_totals)):
        mine = by_agent.get(agent, [])
        hours = len({as_local(c.started_at).replace(minute=0, second=0, microsecond=0) for c in mine})
        talk = sum(int((c.ended_at - c.answered_at).total_seconds()) for c in mine
                   if c.answered_at is not None and c.ended_at is not None and c.ended_at > c.answered_at)
        complete = sum(c.outcome == "answered-complete" for c in mine)
        totals = qa_totals.get(agent, [])
        out.append(AgentFigures(
            agent, len(mine), hours, Fraction(len(mine), hours) if hours else None, talk,
            Fraction(complete, len(mine)) if mine else None,
            (sum(totals, Decimal(0)) / len(totals)).quantize(Decimal("0.01")) if totals else None,
            sum(c.corrections for c in mine)))
    return out


#: The 坐席统计 columns: the page and the monthly report show the same table.
AGENT_HEADERS = ("坐席", "呼叫数", "每小时呼叫", "通话时长(分)", "完成率(%)", "质检均分", "答案被更正")
AGENT_NOTE = ("呼叫数为人工回访坐席拨打的通话; 每小时呼叫 = 呼叫数 ÷ 有呼叫的小时数 (北京时间整点); "
              "完成率 = 完成回访 ÷ 呼叫数; 质检均分取每通评分 (含专线通话) 的最新版本; "
              "答案被更正 = 主管对其所录答案的更正次数")


def agent_row(f: AgentFigures) -> list:
    """One agent's figures as shown (two decimals, talk time in minutes to one); None where nothing to show."""
    return [f.agent, f.calls, display(f.calls_per_hour, percent=False),
            round_half_up(Fraction(f.talk_seconds, 60), 1), display(f.completion_rate), f.qa_score, f.corrections]
