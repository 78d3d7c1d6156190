"""The ledger's query string ↔ a TicketFilter and a page key, with clear errors for bad input.

Dates are Beijing calendar days (来电时间 from the start of 起 to the end of 止).
The page key travels in the URL as ``<ISO time>~<id>`` so "下一页" is a plain link.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Mapping

from ...db.ticket_queries import PageKey, TicketFilter
from ...ledger import flow
from ...ledger.timezone import OFFICE_TZ
from ..core.paging import after_key, encode_page_key, split_numeric_page_key
from ..core.params import optional_day, optional_id

#: Query parameters the ledger understands (the export takes the same ones).
FILTER_PARAMS = ("status", "department", "community", "category", "from", "to", "q", "overdue")
MAX_KEYWORD = 200


@dataclass
class ParsedQuery:
    filter: TicketFilter
    after: PageKey | None
    values: dict[str, str]                 # the cleaned parameters, to refill the form
    errors: list[str] = field(default_factory=list)


def _positive_id(raw: str, label: str, errors: list[str]) -> int | None:
    return optional_id(raw, errors, f"{label}无效: {raw[:40]}")


def _day(raw: str, label: str, errors: list[str]) -> date | None:
    return optional_day(raw, errors, f"{label}格式应为 YYYY-MM-DD: {raw[:40]}")


def encode_key(key: PageKey) -> str:
    return encode_page_key(key.called_at, key.id)


def decode_key(raw: str) -> PageKey:
    return PageKey(*split_numeric_page_key(raw))


def parse_query(query: Mapping[str, str]) -> ParsedQuery:
    """Everything wrong is reported at once; a bad parameter is dropped, not guessed at."""
    values = {name: str(query.get(name, "")).strip() for name in FILTER_PARAMS}
    errors: list[str] = []
    status = values["status"] or None
    if status is not None and status not in {s.value for s in flow.State}:
        errors.append(f"未知状态: {status[:40]}")
        status = None
    keyword = values["q"] or None
    if keyword is not None and len(keyword) > MAX_KEYWORD:
        errors.append(f"关键词最长 {MAX_KEYWORD} 个字符")
        keyword = None
    if keyword is not None and "\x00" in keyword:
        errors.append("关键词包含非法字符")
        keyword = None
    start = _day(values["from"], "起始日期", errors)
    end = _day(values["to"], "截止日期", errors)
    if start and end and end < start:
        errors.append("截止日期早于起始日期")
    after = after_key(query, decode_key, errors)
    if values["overdue"] not in ("", "1"):
        errors.append("超期筛选应为 1")
        values["overdue"] = ""
    flt = TicketFilter(
        status=status,
        department_id=_positive_id(values["department"], "科室", errors),
        community_id=_positive_id(values["community"], "社区", errors),
        category_l1=values["category"] or None,
        called_from=datetime.combine(start, time(), OFFICE_TZ) if start else None,
        called_until=datetime.combine(end + timedelta(days=1), time(), OFFICE_TZ) if end else None,
        keyword=keyword,
        overdue_at=datetime.now(OFFICE_TZ) if values["overdue"] == "1" else None,
        open_states=tuple(s.value for s in flow.OPEN_STATES),
    )
    return ParsedQuery(flt, after, values, errors)
