"""数据分析 queries: volumes by dimension and day, hot spots, repeat callers, deadline compliance, reasons."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from callcenter.db import analysis
from callcenter.db import scoring as repo
from callcenter.reports.figures import hotspots
from callcenter.scoring.periods import period
from callcenter.scoring.trends import top_with_change

from . import scoring_factories as f

BJ = timezone(timedelta(hours=8))
MAY = period("2024-05")


async def test_volumes_by_dimension_hour_and_report_day(db):
    async with db.pool.acquire() as conn:
        dept = await f.unit(conn, "城管科")
        comm = await f.unit(conn, "建材城社区", "community")
        await f.ticket(conn, called_at=datetime(2024, 5, 1, 11, 59, tzinfo=BJ), department_id=dept, community_id=comm)
        await f.ticket(conn, called_at=datetime(2024, 5, 1, 12, 0, tzinfo=BJ), category_l1="供暖", appeal_kind="求助")
        await f.ticket(conn, called_at=datetime(2024, 5, 1, 12, 30, tzinfo=BJ), category_l1="供暖")
        await f.ticket(conn, called_at=datetime(2024, 5, 19, 0, 0, tzinfo=BJ))        # next period
        assert await analysis.volume_by(conn, MAY.start, MAY.end, "category_l1") == [("供暖", 2), ("物业管理", 1)]
        assert await analysis.volume_by(conn, MAY.start, MAY.end, "department") == [("未派单", 2), ("城管科", 1)]
        assert await analysis.volume_by(conn, MAY.start, MAY.end, "community") == [("未派单", 2), ("建材城社区", 1)]
        assert await analysis.volume_by(conn, MAY.start, MAY.end, "appeal_kind") == [("投诉", 2), ("求助", 1)]
        assert await analysis.volume_by(conn, MAY.start, MAY.end, "hour") == [("12", 2), ("11", 1)]
        assert await analysis.daily_volume(conn, MAY.start, MAY.end) == [(date(2024, 5, 1), 1), (date(2024, 5, 2), 2)]
        levels = await analysis.volume_by_category_levels(conn, MAY.start, MAY.end)
        assert [(r["category_l1"], r["tickets"]) for r in levels] == [("供暖", 2), ("物业管理", 1)]


async def test_hot_spots_group_one_building_written_several_ways_and_repeat_callers(db):
    addresses = ["育新花园3号楼", "育新花园 3 号楼2单元", "育新花园社区三号楼"]
    async with db.pool.acquire() as conn:
        for i, address in enumerate(addresses):
            await f.ticket(conn, called_at=datetime(2024, 5, 1 + i, 9, tzinfo=BJ), address=address,
                           phone="13900000001", category_l1="物业管理" if i else "供暖")
        await f.ticket(conn, called_at=datetime(2024, 5, 2, 9, tzinfo=BJ), address="建材城西路", phone="13900000002")
        spots = hotspots(await analysis.place_tickets(conn, MAY.start, MAY.end))
        callers = await analysis.repeat_callers(conn, MAY.start, MAY.end)
    assert [(s.place, s.tickets, s.categories) for s in spots] == [("育新花园3号楼", 3, ("供暖", "物业管理"))]
    assert [(c["caller_phone"], c["tickets"]) for c in callers] == [("13900000001", 3)]


async def test_deadline_compliance(db):
    now = datetime(2024, 5, 10, tzinfo=BJ)
    due = datetime(2024, 5, 5, tzinfo=BJ)
    async with db.pool.acquire() as conn:
        rows = [  # signed_at, sign_due_at, closed_at, close_due_at, extended_due_at
            (due - timedelta(hours=1), due, due, due, None),                  # both on time
            (due + timedelta(hours=1), due, due + timedelta(days=2), due, due + timedelta(days=3)),  # late sign; 延期 on time
            (None, due, None, due, None),                                      # overdue, not done
            (None, now + timedelta(hours=1), None, now + timedelta(days=1), None),   # not yet due
        ]
        for signed, sign_due, closed, close_due, extended in rows:
            tid = await f.ticket(conn, called_at=datetime(2024, 5, 1, tzinfo=BJ), closed_at=closed)
            await conn.execute("""UPDATE tickets SET signed_at = $2, sign_due_at = $3, close_due_at = $4,
                                                     extended_due_at = $5 WHERE id = $1""",
                               tid, signed, sign_due, close_due, extended)
        result = {c.kind: c for c in await analysis.deadline_compliance(conn, MAY.start, MAY.end, now=now)}
    assert (result["sign"].on_time, result["sign"].late, result["sign"].overdue, result["sign"].pending) == (1, 1, 1, 1)
    assert (result["close"].on_time, result["close"].late, result["close"].overdue, result["close"].pending) == (2, 0, 1, 1)
    assert result["contact"].due == 0


async def test_problem_list_carries_the_newest_stated_reason(db):
    async with db.pool.acquire() as conn:
        tid = await f.ticket(conn, called_at=datetime(2024, 5, 1, tzinfo=BJ), title="噪音扰民")
        attempt = await f.attempt(conn, tid, 1, answered_at=datetime(2024, 5, 3, tzinfo=BJ),
                                  answers=f.own("yes", "solved", "dissatisfied"))
        await f.answer(conn, attempt, "dissatisfaction_reason", None, version=1, transcript="晚上还是很吵")
        await f.answer(conn, attempt, "dissatisfaction_reason", None, version=2, transcript="夜间施工未停止")
        ok = await f.ticket(conn, called_at=datetime(2024, 5, 1, tzinfo=BJ))
        await f.attempt(conn, ok, 1, answered_at=datetime(2024, 5, 3, tzinfo=BJ), answers=f.own("yes", "solved", "basic"))
        rows = await repo.problem_tickets(conn, MAY.start, MAY.end, as_of=MAY.end)
    assert [(r["title"], r["reason"], r["granted"]) for r in rows] == [("噪音扰民", "夜间施工未停止", False)]


def test_top_categories_with_month_on_month_change():
    trends = top_with_change({"供暖": 30, "物业管理": 30, "教育": 5}, {"供暖": 20, "教育": 10}, top=2)
    assert [(t.key, t.count, t.previous, t.change) for t in trends] == [("供暖", 30, 20, 10), ("物业管理", 30, 0, 30)]
    assert trends[0].change_ratio == 0.5 and trends[1].change_ratio is None
