"""How fast the 工单台账 pages' queries are at ledger scale (default 1,000,000 tickets).

Fills a private embedded PostgreSQL (or --dsn, which must be a scratch database:
tickets are added to it) with synthetic tickets, then times the queries behind
the ledger list: first page, a deep keyset page, each filter, keyword search
and the capped count the export does.  Prints figures and the machine they
came from; nothing here asserts a speed.

    .venv/bin/python bench/bench_web_ledger.py [--tickets 1000000] [--repeat 5]
"""
from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402  (bench/machine.py, shared by the benches)

from callcenter.db.database import _init_connection
from callcenter.db.embedded import start_embedded, with_database
from callcenter.db.migrations import migrate
from callcenter.db.ticket_queries import PageKey, TicketFilter, count_tickets, ticket_page

# Synthetic rows: ten years of calls, 12 departments, 24 communities, realistic short Chinese text.
_FILL = """
INSERT INTO tickets (ticket_no, category_l1, title, content, called_at, status, department_id, community_id,
                     caller_phone)
SELECT 'B' || lpad(g::text, 9, '0'),
       (ARRAY['物业管理','城乡建设','市场管理','公共服务','住房','交通管理','环境保护','供暖','水电气热'])[1 + g % 9],
       (ARRAY['楼道堆物','夜间施工噪音','小区停车难','路灯不亮','垃圾清运不及时','供暖温度不达标',
              '占道经营','漏水','电梯故障','违规养犬'])[1 + (g * 7) % 10] || '问题' || (g % 997),
       '市民反映' || (ARRAY['西三旗','育新花园','怡美家园','建材城西路','永泰庄'])[1 + g % 5]
           || '附近' || md5(g::text) || '请尽快处理',
       timestamptz '2016-01-01 00:00+08' + ((g::bigint * 314159) % 315360000) * interval '1 second',
       (ARRAY['received','signed','dispatched','handling','feedback','awaiting_callback','called_back'])[1 + g % 7],
       $3 + (g % 12), $4 + (g % 24),
       '138' || lpad((g % 100000000)::text, 8, '0')
  FROM generate_series($1::bigint, $2::bigint) AS g
"""


async def fill(conn: asyncpg.Connection, tickets: int) -> None:
    have = await conn.fetchval("SELECT count(*) FROM tickets")
    if have >= tickets:
        print(f"using the {have} tickets already there")
        return
    units = []
    for kind, count in (("department", 12), ("community", 24)):
        for n in range(count):
            units.append(await conn.fetchval(
                "INSERT INTO units (kind, name) VALUES ($1, $2) ON CONFLICT (kind, name) DO UPDATE SET active = true "
                "RETURNING id", kind, f"bench-{kind}-{n}"))
    started = time.perf_counter()
    batch = 100_000
    for start in range(have + 1, tickets + 1, batch):
        end = min(start + batch - 1, tickets)
        await conn.execute(_FILL, start, end, units[0], units[12])
        print(f"  filled {end:>9} tickets ({time.perf_counter() - started:.0f} s)", flush=True)
    await conn.execute("ANALYZE tickets")


async def timed(label: str, repeat: int, query) -> None:
    times = []
    rows = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = await query()
        times.append((time.perf_counter() - t0) * 1000)
    print(f"  {label:<44} median {statistics.median(times):8.2f} ms   max {max(times):8.2f} ms   rows {rows}")


async def run(dsn: str, tickets: int, repeat: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await fill(conn, tickets)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, init=_init_connection)
    async with pool.acquire() as conn:
        total = await conn.fetchval("SELECT count(*) FROM tickets")
        dept = await conn.fetchval("SELECT min(department_id) FROM tickets")
        middle = await conn.fetchrow(
            "SELECT called_at, id FROM tickets ORDER BY called_at DESC, id DESC OFFSET $1 LIMIT 1", total // 2)
        deep = PageKey(middle["called_at"], middle["id"])
        since = datetime(2024, 5, 1, tzinfo=timezone.utc)
        until = datetime(2024, 5, 8, tzinfo=timezone.utc)

        def page(flt: TicketFilter, after: PageKey | None = None):
            async def q():
                return len((await ticket_page(conn, flt, after=after, size=50)).rows)
            return q

        print(f"\nledger queries over {total} tickets, page size 50, {repeat} runs each")
        print(f"machine: {describe()}; platform.processor() = {platform.processor()!r}")
        print(f"server: {(await conn.fetchval('SELECT version()')).split(' on ')[0]}")
        await timed("first page, no filter", repeat, page(TicketFilter()))
        await timed("page in the middle (keyset)", repeat, page(TicketFilter(), deep))
        await timed("status = handling", repeat, page(TicketFilter(status="handling")))
        await timed("status = handling, middle page", repeat, page(TicketFilter(status="handling"), deep))
        await timed("one department", repeat, page(TicketFilter(department_id=dept)))
        await timed("category 供暖 + one week", repeat,
                    page(TicketFilter(category_l1="供暖", called_from=since, called_until=until)))
        await timed("keyword 3+ chars: 供暖温度 (common)", repeat, page(TicketFilter(keyword="供暖温度")))
        await timed("keyword rare: 问题996 (trigram)", repeat, page(TicketFilter(keyword="问题996")))
        await timed("keyword absent: 不存在的关键词", repeat, page(TicketFilter(keyword="不存在的关键词")))
        await timed("keyword 2 chars: 漏水 (no trigram)", repeat, page(TicketFilter(keyword="漏水")))
        await timed("keyword 2 chars absent: 火灾 (worst case)", repeat, page(TicketFilter(keyword="火灾")))
        await timed("ticket number B000123456", repeat, page(TicketFilter(keyword="B000123456")))

        async def capped():
            return await count_tickets(conn, TicketFilter(status="handling"), limit=200_001)
        await timed("export size check (count, capped 200k)", repeat, capped)
    await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dsn", help="a scratch database (default: a private embedded server)")
    parser.add_argument("--pgdata", type=Path, help="keep the embedded data here to reuse it between runs")
    args = parser.parse_args()
    if args.dsn:
        dsn = args.dsn
    else:
        pgdata = args.pgdata or Path(tempfile.mkdtemp(prefix="cc-bench-")) / "pgdata"
        server = start_embedded(pgdata)
        dsn = with_database(server, "postgres")
    asyncio.run(run(dsn, args.tickets, args.repeat))


if __name__ == "__main__":
    main()
