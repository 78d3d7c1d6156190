"""The web side of the input rules (callcenter/inputs.py): NUL bytes are stopped at the door.

Why a middleware for NUL: PostgreSQL refuses U+0000 in text, so a NUL in any
path, query or form field reached a query and failed there as a 500 — in
about twenty handlers.  Refusing it once, before any handler, names the field
and leaves no handler to forget.  Multipart uploads are streamed by their
handlers and checked there (file names) — the error net catches the rest.
"""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ...inputs import has_nul
from .access import is_api

FORM = "application/x-www-form-urlencoded"


def _refuse(request: web.Request, message: str) -> web.Response:
    if is_api(request.path):
        return web.json_response({"error": "invalid", "message": message}, status=400,
                                 dumps=lambda v: json.dumps(v, ensure_ascii=False))
    raise web.HTTPBadRequest(text=message)


def _nul_field(request: web.Request, form: Any) -> str | None:
    if has_nul(request.path):
        return "网址路径"
    for source in (request.query, form or {}):
        for name, value in source.items():
            if has_nul(name) or (isinstance(value, str) and has_nul(value)):
                return name.replace("\x00", "") or "?"
    return None


@web.middleware
async def input_guard_middleware(request: web.Request, handler):
    form = await request.post() if request.method == "POST" and request.content_type == FORM else None
    field = _nul_field(request, form)
    if field is not None:
        return _refuse(request, f"字段“{field[:40]}”含有不允许的控制字符 (NUL)")
    return await handler(request)

