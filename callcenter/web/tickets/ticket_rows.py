"""The ledger page's rows and filter choices as the template prints them, worked out once in Python.

Why: the 50-row list printed each cell through a template call (a filter, a
label function, two unit-name lookups) on a database row; those calls were
most of the list page's CPU (py-spy, bench/web.py).  Here each row becomes a
small object of ready-to-print texts (the phone number always masked: the
list never shows a full one), and the template only places and escapes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping, NamedTuple

import asyncpg

from ...ledger import flow
from ...ledger.privacy import mask_phone
from ..core.render import local_time

#: 状态 choices of the filter form: (value, label), in flow order.
STATE_CHOICES: tuple[tuple[str, str], ...] = tuple((s.value, s.label) for s in flow.State)
_STATE_LABELS = dict(STATE_CHOICES)
#: Titles longer than this are cut (as jinja's ``truncate(60, true, "…")``, with its 5-character leeway).
TITLE_CUT, TITLE_LEEWAY, ELLIPSIS = 60, 5, "…"


class LedgerRow(NamedTuple):
    """One ticket as a line of the ledger: every cell already in its shown form (a tuple: 50 built per page)."""
    id: int
    ticket_no: str
    called_at: str
    title: str
    category: str
    urgent: bool
    phone: str            # masked
    unit: str
    state: str
    close_due: str
    overdue: bool         # 办结 deadline passed while the ticket is still open


def short_title(title: str) -> str:
    if len(title) <= TITLE_CUT + TITLE_LEEWAY:
        return title
    return title[:TITLE_CUT - len(ELLIPSIS)] + ELLIPSIS


def ledger_rows(rows: Iterable[asyncpg.Record], unit_names: Mapping[int, str], now: datetime,
                open_states: frozenset[str]) -> list[LedgerRow]:
    """The rows of a ledger page, newest first as queried; ``unit_names`` names 承办单位 by id."""
    shown = []
    for r in rows:
        due, status = r["close_due_at"], r["status"]
        shown.append(LedgerRow(                # positional, in field order: keywords cost twice as much
            r["id"], r["ticket_no"], local_time(r["called_at"]), short_title(str(r["title"])), r["category_l1"],
            r["urgency"] == "紧急", mask_phone(r["caller_phone"]),
            unit_names.get(r["department_id"]) or unit_names.get(r["community_id"]) or r["department_name"],
            _STATE_LABELS.get(status, status), local_time(due), bool(due and due < now and status in open_states)))
    return shown


@dataclass(frozen=True)
class FilterChoices:
    """The filter form's 承办科室, 社区 and 一级分类 choices: (value, label) pairs, values as the query has them."""
    departments: list[tuple[str, str]]
    communities: list[tuple[str, str]]
    categories: list[str]


def filter_choices(units: Iterable[asyncpg.Record], categories: list[str]) -> FilterChoices:
    return FilterChoices(
        departments=[(str(u["id"]), u["name"]) for u in units if u["kind"] == "department"],
        communities=[(str(u["id"]), u["name"]) for u in units if u["kind"] == "community"],
        categories=list(categories))
