"""A refused step comes back as a message on the page it came from, never a 500.

Why a context manager: every form POST of a flow (工单, 申诉, 城市管理案件)
ends the same way: the object is unknown (404), or the domain refused the
step (flash the reason, redirect back, nothing written), or it went through.
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from aiohttp import web

from .render import redirect_with_flash


@asynccontextmanager
async def refusals_shown(request: web.Request, back: str, prefix: str, *,
                         missing: type[Exception] | tuple[type[Exception], ...],
                         refused: type[Exception] | tuple[type[Exception], ...],
                         missing_text: str | None = None) -> AsyncIterator[None]:
    """``missing`` becomes a 404 (with ``missing_text``); ``refused`` a flash "prefix: reason" and a 303 to ``back``."""
    try:
        yield
    except missing:
        raise web.HTTPNotFound(text=missing_text) from None
    except refused as exc:
        await redirect_with_flash(request, back, "error", f"{prefix}: {exc}")
