"""审计日志: every audited act — recordings listened to, scores corrected, flow and campaign changes,
tokens, purges — for admins, newest first, filterable by who, what and day."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Mapping

from aiohttp import web

from ...db import audit_queries as queries
from ...ledger.timezone import OFFICE_TZ
from ..core import keys
from ..core.access import require_role
from ..core.cache import cached
from ..core.paging import after_key, encode_page_key, list_context, split_numeric_page_key
from ..core.params import optional_day
from ..core.labels import ACTION_NAMES, SETTING_NAMES, action_name, actor_name, audit_sentence
from ..core.render import NavItem, render

routes = web.RouteTableDef()
NAV = [NavItem("审计日志", "audit")]          # shown to admins only: the route allows no one else
PAGE_SIZE = 100
ACTIONS_TTL = 60.0      # the picker's kinds of action: a DISTINCT over the whole log, and they rarely change


@dataclass
class ParsedAudit:
    filter: queries.AuditFilter
    after: Any
    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def encode_key(key: tuple[datetime, int]) -> str:
    return encode_page_key(*key)


def parse_audit_query(query: Mapping[str, str]) -> ParsedAudit:
    values = {k: str(query.get(k, "")).strip()[:100] for k in ("actor", "action", "day")}
    errors: list[str] = []
    day = optional_day(values["day"], errors, "日期格式应为 YYYY-MM-DD")
    since = datetime.combine(day, time.min, OFFICE_TZ) if day else None
    f = queries.AuditFilter(actor=values["actor"] or None, action_prefix=values["action"] or None,
                            since=since, until=since + timedelta(days=1) if since else None)
    return ParsedAudit(f, after_key(query, split_numeric_page_key, errors), values, errors)


def sentence(row: Mapping[str, Any]) -> dict[str, str]:
    """One audit row read as a sentence: who, did what, to which object (with its link), and the rest."""
    label, href = row["object_id"], ""
    if row["ticket_no"]:
        label, href = row["ticket_no"], f"/tickets/{row['ticket_id']}"
    elif row["object_type"] == "campaign":
        label, href = row["campaign_name"] or f"#{row['object_id']}", f"/campaigns/{row['object_id']}"
    elif row["object_type"] == "setting":
        label = f"“{SETTING_NAMES.get(row['object_id'], row['object_id'])}”"
    elif row["object_type"] in ("tickets", "repeat_rules", "retention", "repeat_ledger"):
        label = ""
    verb, obj, tail = audit_sentence(row["action"], row["object_type"], label)
    who = row["actor_display"] or actor_name(row["actor"])
    return {"who": who, "verb": verb, "object": obj, "href": href, "tail": tail}


@routes.get("/audit", name="audit")
@require_role("admin")
async def audit_list(request: web.Request) -> web.Response:
    parsed = parse_audit_query(request.query)
    async with request.app[keys.DB].pool.acquire() as conn:
        actions = await cached(request.app, "audit-actions", ACTIONS_TTL, lambda: queries.audit_actions(conn))
        page = None
        if not parsed.errors:
            page = await queries.audit_page(conn, parsed.filter, after=parsed.after, size=PAGE_SIZE)
    return await render("admin/audit/list.html", request, {
        **list_context("/audit", parsed, page, encode_key),
        "actions": sorted(set(actions) | set(ACTION_NAMES), key=action_name),
        "sentence": sentence,
        "detail_text": lambda detail: json.dumps(detail, ensure_ascii=False, default=str),
    }, status=400 if parsed.errors else 200)
