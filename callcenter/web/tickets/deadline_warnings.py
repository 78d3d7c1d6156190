"""超期预警, whole: every ticket the street holds that is past a deadline or about to be, paged.

The dashboard shows the most urgent few; this page lists them all, most urgent
first, a page at a time (keyset on due time, ticket and step), so a long list
is never cut off at an arbitrary cap.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from aiohttp import web

from ...db import tickets as tickets_repo
from ...inputs import ascii_digits
from ..core import keys
from ..core.access import ALL_STAFF, require_role
from ..core.labels import DEADLINE_NAMES as DEADLINE_LABELS
from ..core.paging import BAD_KEY, after_key, encode_page_key, list_context, split_page_key
from ..core.params import MAX_ID
from ..core.render import render

routes = web.RouteTableDef()
PAGE_SIZE = 100


@dataclass
class Page:
    rows: list
    next_key: tickets_repo.WarningKey | None


@dataclass
class ParsedWarnings:
    after: Any
    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def encode_key(key: tickets_repo.WarningKey) -> str:
    at, ticket_id, kind = key
    return encode_page_key(at, f"{ticket_id}.{kind}")


def decode_key(raw: str) -> tickets_repo.WarningKey:
    at, ident = split_page_key(raw)
    ticket_id, _, kind = ident.partition(".")
    if not ascii_digits(ticket_id) or int(ticket_id) > MAX_ID or kind not in DEADLINE_LABELS:
        raise ValueError(BAD_KEY)
    return at, int(ticket_id), kind


def parse_query(query: Mapping[str, str]) -> ParsedWarnings:
    errors: list[str] = []
    return ParsedWarnings(after_key(query, decode_key, errors), {}, errors)


@routes.get("/tickets/warnings", name="deadline_warnings")
@require_role(*ALL_STAFF)
async def warning_list(request: web.Request) -> web.Response:
    parsed = parse_query(request.query)
    now = datetime.now(timezone.utc)
    page = None
    if not parsed.errors:
        async with request.app[keys.DB].pool.acquire() as conn:
            rows = await tickets_repo.deadline_warnings(conn, now=now, limit=PAGE_SIZE + 1, after=parsed.after)
        shown = rows[:PAGE_SIZE]
        page = Page(shown, (shown[-1].due_at, shown[-1].ticket_id, shown[-1].kind) if len(rows) > PAGE_SIZE else None)
    return await render("tickets/deadlines/warnings.html", request, {
        **list_context("/tickets/warnings", parsed, page, encode_key),
        "deadline_labels": DEADLINE_LABELS,
    }, status=400 if parsed.errors else 200)
