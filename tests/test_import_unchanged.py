"""A re-import stages only the rows the merge would write; the ledger ends exactly as when it staged every row.

The unchanged rows are told apart in Python (callcenter.db.ticket_import.TicketUpsert._changed);
these tests run the same imports with that filter switched off (every row staged, the merge's
IS DISTINCT FROM deciding) and compare everything the import leaves behind.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.db import ticket_import
from callcenter.transfer.importer import import_tickets

from .test_import import row, write_csv


def _stage_everything(self, records, line_numbers, stored):
    return list(records), list(line_numbers)


def files(tmp_path: Path, prefix: str) -> list[Path]:
    """A first import, then re-imports: unchanged, changed here and there, narrower, with new rows."""
    def no(i: int) -> str:
        return f"{prefix}{i}"
    first = [row(no(0)), row(no(1), 工单状态="待签收"), row(no(2), 是否有效回访="否", 工单状态="已办结",
                                                            办结时间="2024-05-02 10:00"),
             row(no(3), 办理时限=""), row(no(4), 所在社区="")]
    changed = [row(no(0)),                                            # unchanged
               row(no(1), 工单状态="已办结", 办结时间="2024-05-03 10:00"),   # forward
               row(no(2), 是否有效回访="", 工单状态="已办结", 办结时间="2024-05-02 10:00"),  # False -> None
               row(no(3), 办理时限="72"),                               # None -> 72
               row(no(4), 来电时间="2024-05-01 09:30:01"),               # a second later, new community
               row(no(5))]                                            # new
    same_instant = [row(no(0), 来电时间="2024-05-01T09:30:00", 派单时间="2024-05-01 11:00:00")]
    narrow_headers = ["工单编号", "一级分类", "来电时间", "标题"]
    narrow_same = [{"工单编号": no(0), "一级分类": "物业管理", "来电时间": "2024-05-01 09:30", "标题": "电梯故障"}]
    narrow_new_title = [{"工单编号": no(1), "一级分类": "物业管理", "来电时间": "2024-05-01 09:30", "标题": "新标题"}]
    narrow_new_time = [{"工单编号": no(3), "一级分类": "物业管理", "来电时间": "2024-05-01 08:00", "标题": "电梯故障"}]
    made = [("first", first, None), ("changed", changed, None), ("again", changed, None),
            ("same_instant", same_instant, None), ("narrow_same", narrow_same, narrow_headers),
            ("narrow_title", narrow_new_title, narrow_headers), ("narrow_time", narrow_new_time, narrow_headers)]
    return [write_csv(tmp_path / f"{prefix}-{name}.csv", rows, headers=headers) for name, rows, headers in made]


async def ledger_of(db, prefix: str) -> tuple[list, list]:
    """Every column of the prefix's tickets (but ids and now()) and their events, ticket numbers unprefixed."""
    tickets = await db.pool.fetch("SELECT * FROM tickets WHERE ticket_no LIKE $1 || '%' ORDER BY ticket_no", prefix)
    skip = {"id", "created_at", "updated_at", "awaiting_since", "ticket_no"}
    ledger = [(t["ticket_no"][len(prefix):], {k: v for k, v in t.items() if k not in skip}) for t in tickets]
    events = await db.pool.fetch(
        "SELECT t.ticket_no, e.actor, e.action, e.from_state, e.to_state, e.data - 'source' AS data "
        "FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no LIKE $1 || '%' "
        "ORDER BY t.ticket_no, e.id", prefix)
    return ledger, [(e["ticket_no"][len(prefix):], *list(e.values())[1:]) for e in events]


async def test_skipping_unchanged_rows_leaves_the_ledger_as_staging_all_of_them(db, tmp_path, monkeypatch):
    fast = [await import_tickets(db.pool, path) for path in files(tmp_path, "F")]
    with monkeypatch.context() as patch:
        patch.setattr(ticket_import.TicketUpsert, "_changed", _stage_everything)
        plain = [await import_tickets(db.pool, path) for path in files(tmp_path, "P")]
    counts = [(r.inserted, r.updated, r.unchanged) for r in fast]
    assert counts == [(r.inserted, r.updated, r.unchanged) for r in plain]
    assert counts == [(5, 0, 0), (1, 4, 1), (0, 0, 6), (0, 0, 1), (0, 0, 1), (0, 1, 0), (0, 1, 0)]
    assert await ledger_of(db, "F") == await ledger_of(db, "P")


async def test_an_unchanged_ticket_is_not_touched(db, tmp_path):
    path = write_csv(tmp_path / "t.csv", [row("U1"), row("U2")])
    await import_tickets(db.pool, path)
    before = await db.pool.fetch("SELECT xmin::text, updated_at FROM tickets ORDER BY ticket_no")
    report = await import_tickets(db.pool, write_csv(tmp_path / "t2.csv", [row("U1"), row("U2", 标题="变了")]))
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 1)
    after = await db.pool.fetch("SELECT xmin::text, updated_at FROM tickets ORDER BY ticket_no")
    assert after[0] == before[0] and after[1] != before[1]


async def test_the_units_of_unchanged_tickets_are_still_made(db, tmp_path):
    """The merge creates the units a file names, staged or not: a unit removed since comes back."""
    path = write_csv(tmp_path / "t.csv", [row("V1", 所在社区="新社区")])
    await import_tickets(db.pool, path)
    await db.pool.execute("UPDATE tickets SET community_id = NULL WHERE ticket_no = 'V1'")
    await db.pool.execute("DELETE FROM units WHERE kind = 'community' AND name = '新社区'")
    report = await import_tickets(db.pool, path)
    assert (report.unchanged, report.units_created) == (1, 1)
    assert await db.pool.fetchval("SELECT count(*) FROM units WHERE kind = 'community' AND name = '新社区'") == 1


@pytest.mark.parametrize("changes", [{"工单状态": "已办结", "办结时间": "2024-05-03 10:00"}, {}])
async def test_unchanged_and_changed_rows_count_as_before(db, tmp_path, changes):
    await import_tickets(db.pool, write_csv(tmp_path / "a.csv", [row("W1"), row("W2")]))
    report = await import_tickets(db.pool, write_csv(tmp_path / "b.csv", [row("W1"), row("W2", **changes), row("W3")]))
    assert (report.inserted, report.updated, report.unchanged) == (1, 1 if changes else 0, 2 if not changes else 1)
