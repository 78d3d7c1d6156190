"""New tickets are scored by their insert's own trigger (schema/0028) exactly as scoring_refresh scores them.

The insert trigger reads the transition table instead of calling scoring_refresh; here one
statement inserts tickets in every city-result case (valid, junk, padded and missing answers,
effective callback yes/no/unknown, 回访失败, 咨询, with and without 办结时间 and 回访时间), and a
scoring_refresh of all of them afterwards must leave every ticket_scores row as it was.
"""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

BASE = datetime(2024, 4, 10, 9, tzinfo=timezone.utc)
ANSWERS = [("是", "已解决", "满意"), ("否", "部分解决", "基本满意"), (" 已联系 ", "未解决", "不满意"),
           ("", "", ""), ("是", "", "满意"), ("不知道", "是", "满意")]
EFFECTIVE = [True, False, None]
STATUSES = ["received", "awaiting_callback", "callback_failed", "closed"]
TIMES = [(None, None), (BASE + timedelta(days=2), None), (BASE + timedelta(days=2), BASE + timedelta(days=3)),
         (None, BASE + timedelta(days=4))]
TYPES = ["诉求", "咨询"]


async def scores(conn) -> list:
    return [tuple(r) for r in await conn.fetch("SELECT * FROM ticket_scores ORDER BY ticket_id")]


async def test_an_inserted_ticket_is_scored_as_scoring_refresh_scores_it(db):
    cases = list(itertools.product(ANSWERS, EFFECTIVE, STATUSES, TIMES, TYPES))
    async with db.pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT p.proname FROM pg_trigger g JOIN pg_proc p ON p.oid = g.tgfoid "
            "WHERE g.tgname = 'tickets_scoring_ins'") == "scoring_on_new_tickets"
        unit = await conn.fetchval("INSERT INTO units (kind, name) VALUES ('department', 'S科室') RETURNING id")
        await conn.execute(
            """INSERT INTO tickets (ticket_no, ticket_type, category_l1, called_at, closed_at, status, department_id,
                                    city_effective_callback, city_contacted, city_solved, city_satisfied,
                                    city_callback_at)
               SELECT 'S' || n, c.ticket_type, '物业管理', $1, c.closed_at, c.status, CASE WHEN n % 2 = 0 THEN $2::integer END,
                      c.effective, c.contacted, c.solved, c.satisfied, c.callback_at
                 FROM unnest($3::text[], $4::timestamptz[], $5::text[], $6::boolean[], $7::text[], $8::text[],
                             $9::text[], $10::timestamptz[])
                      WITH ORDINALITY AS c(ticket_type, closed_at, status, effective, contacted, solved, satisfied,
                                           callback_at, n)""",
            BASE, unit, [c[4] for c in cases], [c[3][0] for c in cases], [c[2] for c in cases],
            [c[1] for c in cases], [c[0][0] for c in cases], [c[0][1] for c in cases], [c[0][2] for c in cases],
            [c[3][1] for c in cases])
        inserted = await scores(conn)
        assert len(inserted) == len(cases)
        assert {r[2] for r in inserted} == {"city", "failed", "pending"}
        await conn.execute("SELECT scoring_refresh(ARRAY(SELECT id FROM tickets))")
        assert await scores(conn) == inserted
        await conn.execute("DELETE FROM ticket_scores")
        await conn.execute("SELECT scoring_refresh(ARRAY(SELECT id FROM tickets))")
        assert await scores(conn) == inserted
