"""The ticket list's total: exact on every request while small; a big one counted once per TTL and labelled."""
from __future__ import annotations

import re

from callcenter.web.tickets import ticket_total

from .factories import insert_ticket
from .test_web_helpers import client, sign_in, users  # noqa: F401  (fixtures)

_TOTAL = re.compile(r'id="ticket-total">共 (\d+) 件(（统计于 \d\d:\d\d:\d\d）)?')


async def shown_total(client) -> tuple[int, bool]:  # noqa: F811
    page = await (await client.get("/tickets")).text()
    found = _TOTAL.search(page)
    return int(found.group(1)), found.group(2) is not None


async def test_small_totals_are_exact_and_big_ones_say_when_they_were_counted(client, db, monkeypatch):  # noqa: F811
    monkeypatch.setattr(ticket_total, "EXACT_UP_TO", 3)
    await sign_in(client, "agent")
    async with db.pool.acquire() as conn:
        for i in range(3):
            await insert_ticket(conn, f"T{i}")
    assert await shown_total(client) == (3, False)
    async with db.pool.acquire() as conn:
        await insert_ticket(conn, "T3")
    assert await shown_total(client) == (4, True)          # over the exact limit: counted now, stamped
    async with db.pool.acquire() as conn:
        await insert_ticket(conn, "T4")
    assert await shown_total(client) == (4, True)          # within the TTL: the stamped figure again
    monkeypatch.setattr(ticket_total, "TTL", 0.0)
    assert await shown_total(client) == (5, True)          # expired: counted afresh


async def test_a_fresh_big_total_is_shown_without_recounting_until_it_expires(client, db, monkeypatch):  # noqa: F811
    monkeypatch.setattr(ticket_total, "EXACT_UP_TO", 3)
    await sign_in(client, "agent")
    async with db.pool.acquire() as conn:
        for i in range(5):
            await insert_ticket(conn, f"T{i}")
    assert await shown_total(client) == (5, True)
    async with db.pool.acquire() as conn:
        await conn.execute("DELETE FROM tickets WHERE ticket_no IN ('T0', 'T1', 'T2')")
    assert await shown_total(client) == (5, True)          # small now, but the stamped count is seconds old
    monkeypatch.setattr(ticket_total, "TTL", 0.0)
    assert await shown_total(client) == (2, False)         # expired: small again, so exact and unstamped


async def test_the_page_cache_keeps_at_most_its_bound(monkeypatch):
    from aiohttp import web

    from callcenter.web.core import cache
    monkeypatch.setattr(cache, "MAX_ENTRIES", 3)
    app = web.Application()
    cache.setup_app(app)
    for n in range(10):                      # ten filters typed by users: only the three latest are kept
        async def compute(n=n):
            return n
        assert await cache.cached(app, f"k{n}", 60, compute) == n
    assert set(app[cache.CACHE]) == {"k7", "k8", "k9", ("lock", "k7"), ("lock", "k8"), ("lock", "k9")}
