"""Ids in URL paths: a malformed or impossible one is a 404, never a query.

Why every route pattern accepts any segment and checks here instead: one
rule (positive, fits a bigint) and one answer for every page area.
"""
from __future__ import annotations

import uuid

from aiohttp import web

from ...inputs import ascii_digits
from .params import MAX_ID


def path_id(request: web.Request, name: str, *, missing: str | None = None) -> int:
    """A positive integer id from the path, or 404 (route patterns accept any segment)."""
    raw = request.match_info[name]
    if not ascii_digits(raw) or len(raw) > 19 or not 0 < int(raw) <= MAX_ID:
        raise web.HTTPNotFound(text=missing)
    return int(raw)


def path_uuid(request: web.Request, name: str, *, missing: str | None = None) -> uuid.UUID:
    """A UUID (a callback attempt's id) from the path, or 404."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound(text=missing) from None
