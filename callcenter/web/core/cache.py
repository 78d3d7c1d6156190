"""Short-lived per-app caches for figures many requests ask for at once (dashboard, pickers, list totals).

Seconds-old figures are fine for a page people read; recomputing them for
each of fifty concurrent requests is not.  Each web process keeps its own
(with several, CALLCENTER_WEB_WORKERS, a figure may differ between them for
at most its TTL; see docs/scale.md).  At most :data:`MAX_ENTRIES` figures are
kept: keys built from what a user typed (a list filter) cannot grow memory.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

from aiohttp import web

CACHE = web.AppKey("cc_page_cache", dict)
MAX_ENTRIES = 1000


def setup_app(app: web.Application) -> None:
    app[CACHE] = {}


async def cached(app: web.Application, key: str, ttl: float, compute: Callable[[], Awaitable[Any]]) -> Any:
    """``compute()``'s result, reused for ``ttl`` seconds; one request refreshes it while the others
    keep answering with the previous value (no stampede, no one waits behind the refresh)."""
    cache = app.get(CACHE)
    if cache is None:
        return await compute()
    hit = cache.get(key)
    if _fresh(hit, ttl):
        return hit[1]
    lock = cache.setdefault(("lock", key), asyncio.Lock())
    if hit is not None and lock.locked():
        return hit[1]                       # someone is refreshing: the previous figures are seconds old
    async with lock:
        hit = cache.get(key)
        if _fresh(hit, ttl):
            return hit[1]
        value = await compute()
        cache.pop(key, None)                # re-inserted last: the oldest-refreshed figure goes first
        cache[key] = (time.monotonic(), value)
        _evict(cache)
        return value


def peek(app: web.Application, key: str, ttl: float) -> Any:
    """The value :func:`cached` holds for ``key`` if it is less than ``ttl`` seconds old, else None (computes nothing)."""
    hit = (app.get(CACHE) or {}).get(key)
    return hit[1] if _fresh(hit, ttl) else None


def _fresh(hit: tuple[float, Any] | None, ttl: float) -> bool:
    """Whether a cached (stored at, value) pair is younger than ``ttl`` seconds."""
    return hit is not None and time.monotonic() - hit[0] < ttl


def _evict(cache: dict) -> None:
    """Drop the figures refreshed longest ago (and their idle locks) beyond :data:`MAX_ENTRIES`."""
    figures = [k for k in cache if not (isinstance(k, tuple) and k[0] == "lock")]
    for oldest in figures[:max(0, len(figures) - MAX_ENTRIES)]:
        del cache[oldest]
        lock = cache.get(("lock", oldest))
        if lock is not None and not lock.locked():
            del cache[("lock", oldest)]
