"""Short-lived per-app caches for figures many requests ask for at once (dashboard, pickers).

Seconds-old figures are fine for a page people read; recomputing them for
each of fifty concurrent requests is not.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

from aiohttp import web

CACHE = web.AppKey("cc_page_cache", dict)


def setup_app(app: web.Application) -> None:
    app[CACHE] = {}


async def cached(app: web.Application, key: str, ttl: float, compute: Callable[[], Awaitable[Any]]) -> Any:
    """``compute()``'s result, reused for ``ttl`` seconds; one request refreshes it while the others
    keep answering with the previous value (no stampede, no one waits behind the refresh)."""
    cache = app.get(CACHE)
    if cache is None:
        return await compute()
    hit = cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < ttl:
        return hit[1]
    lock = cache.setdefault(("lock", key), asyncio.Lock())
    if hit is not None and lock.locked():
        return hit[1]                       # someone is refreshing: the previous figures are seconds old
    async with lock:
        hit = cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < ttl:
            return hit[1]
        value = await compute()
        cache[key] = (time.monotonic(), value)
        return value
