"""诉求高发: the Poisson rule, a seeded spike raises exactly its warning, a flat month raises none."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from callcenter.alerts.engine import AlertOptions, alert_pass
from callcenter.hotspots.spikes import detect, poisson_tail
from callcenter.hotspots.warnings import find_warnings, spike_source
from callcenter.ledger.timezone import OFFICE_TZ

DAY = date(2024, 5, 20)
COMMUNITIES = ("枫丹丽舍社区", "悦秀园社区", "育新花园社区")


def test_poisson_tail_matches_known_values():
    assert poisson_tail(0, 1.0) == 1.0
    assert poisson_tail(1, 1.0) == pytest.approx(1 - 0.36788, abs=1e-4)
    assert poisson_tail(5, 1.0) == pytest.approx(0.00366, abs=1e-4)
    assert poisson_tail(12, 1.0) < 1e-8


def test_the_rule_needs_both_the_minimum_count_and_the_tail():
    history = {("水电气热", "A"): 28, ("水电气热", "B"): 28}       # 1 a day each
    fired = detect({("水电气热", "A"): 5, ("水电气热", "B"): 4}, history, 28, level="community", min_count=5)
    assert [(s.unit, s.count) for s in fired] == [("A", 5)]
    assert detect({("水电气热", "A"): 5}, history, 28, level="community", min_count=6) == []
    busy = {("物业管理", "A"): 28 * 10}                              # 10 a day is normal there
    assert detect({("物业管理", "A"): 12}, busy, 28, level="community", min_count=5) == []


async def _seed(conn, rows: list[tuple[str, str, date, int]]) -> None:
    """rows: (一级分类, 社区, local day, index within the day)."""
    await conn.executemany(
        """INSERT INTO tickets (ticket_no, category_l1, title, street, community_name, called_at)
           VALUES ($1, $2, '停水', '西三旗街道', $3, $4)""",
        [(f"S{day:%m%d}{community[:2]}{category[:2]}{i:03d}", category, community,
          datetime.combine(day, time(8, i % 60), OFFICE_TZ)) for category, community, day, i in rows])


def _flat(end: date, days: int) -> list[tuple[str, str, date, int]]:
    """One ticket a day per community and category: the weekly baseline (8 weeks) needs 63+ days."""
    return [(category, community, end - timedelta(days=d), 0)
            for d in range(days) for community in COMMUNITIES for category in ("水电气热", "物业管理")]


async def test_a_seeded_spike_raises_exactly_that_warning(db):
    async with db.pool.acquire() as conn:
        await _seed(conn, [r for r in _flat(DAY, 29) if r[2] != DAY or r[0] != "水电气热" or r[1] != COMMUNITIES[0]])
        await _seed(conn, [("水电气热", COMMUNITIES[0], DAY, i + 100) for i in range(12)])
        warnings = await find_warnings(conn, "daily", DAY, min_count=5)
        assert [(w.spike.level, w.spike.category, w.spike.unit, w.spike.count) for w in warnings] == \
            [("community", "水电气热", COMMUNITIES[0], 12)]
        named = await conn.fetch("SELECT community_name, called_at FROM tickets WHERE id = ANY($1::bigint[])",
                                 warnings[0].ticket_ids)
        assert len(named) == 12 and {r["community_name"] for r in named} == {COMMUNITIES[0]}
        assert "p = " in warnings[0].reason and "12 件" in warnings[0].reason
        # The alert engine raises it once, however often it runs.
        at = datetime.combine(DAY, time(20), OFFICE_TZ)
        first = await alert_pass(conn, at, AlertOptions(email=False), [spike_source])
        again = await alert_pass(conn, at, AlertOptions(email=False), [spike_source])
        spikes = await conn.fetch("SELECT dedup_key FROM alerts WHERE rule = 'spike'")
    assert len(first.raised) >= 1 and again.raised == []
    assert any(r["dedup_key"].startswith("spike:daily:2024-05-20:community:水电气热:") for r in spikes)


async def test_a_flat_month_raises_none(db):
    async with db.pool.acquire() as conn:
        await _seed(conn, _flat(DAY, 70))
        for d in range(7):
            for kind in ("daily", "weekly"):
                assert await find_warnings(conn, kind, DAY - timedelta(days=d), min_count=1) == []
