"""A ticket's page shows one live status; the city's columns are labelled 市级系统; our callback's answers show."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from callcenter.transfer.importer import import_tickets

from . import scoring_factories as f
from .test_import import row, write_csv
from .test_web_helpers import client, sign_in, users  # noqa: F401  (fixtures)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_detail_has_one_status_city_labels_and_our_answers(client, db, tmp_path):
    await import_tickets(db.pool, write_csv(tmp_path / "t.csv", [row("C1", 工单状态="已办结", 办结时间="2024-05-03 10:00")]))
    async with db.pool.acquire() as conn:
        ticket_id = await conn.fetchval("SELECT id FROM tickets WHERE ticket_no = 'C1'")
        await conn.execute("UPDATE tickets SET status = 'called_back' WHERE id = $1", ticket_id)
        await f.attempt(conn, ticket_id, 1, answered_at=datetime(2024, 5, 5, 10, tzinfo=timezone(timedelta(hours=8))),
                        answers=f.own("yes", "partly", "basic"))
    await sign_in(client, "agent")
    page = text_of(await (await client.get(f"/tickets/{ticket_id}")).text())
    assert "工单状态（市级系统） 已办结" in page
    assert "工单状态 " not in page.replace("工单状态（市级系统）", "")      # no second, unlabelled status
    assert "是否解决（计分） 部分解决（本街道回访）" in page and "是否满意（计分） 基本满意（本街道回访）" in page
    assert "是否联系: 是 · 是否解决: 部分解决 · 是否满意: 基本满意" in page      # 回访记录 with its answers
    assert "市级系统导入" in page and "市级工单状态: 已办结" in page and "import" not in page.split("流转记录")[1]


async def test_steps_passed_before_import_read_time_unknown_not_overdue(client, db, tmp_path):
    await import_tickets(db.pool, write_csv(tmp_path / "t.csv", [row("C2", 工单状态="办理中")]))
    async with db.pool.acquire() as conn:
        ticket_id = await conn.fetchval("SELECT id FROM tickets WHERE ticket_no = 'C2'")
    await sign_in(client, "agent")
    page = text_of(await (await client.get(f"/tickets/{ticket_id}")).text())
    deadlines = page.split("期限 环节")[1].split("办理")[0]
    assert deadlines.count("时间未知") == 2 and "已超期" not in deadlines.split("办结")[0]


async def test_dashboard_shows_unknown_times_beside_the_on_time_rates(client, db, tmp_path):
    rows = [row(f"D{i}", 工单状态="已回访", 办结时间="2024-05-03 10:00", 是否有效回访="是", 是否联系="是",
                是否解决="已解决", 是否满意="满意") for i in range(3)]
    await import_tickets(db.pool, write_csv(tmp_path / "t.csv", rows))
    await sign_in(client, "agent")
    page = text_of(await (await client.get("/?period=2024-05")).text())
    table = page.split("时限执行")[1]
    assert "时间未知(不计入)" in table
    # 签收 and 首次联系: no known time, so no rate, and all 3 counted as unknown; 办结 known and on time.
    assert "签收 0 0 0 0 — 3" in table and "首次联系 0 0 0 0 — 3" in table and "办结 3 0 0 0 100.00 0" in table
