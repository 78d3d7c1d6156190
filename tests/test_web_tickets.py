"""工单台账 pages: filters, keyset pagination, the flow worked through POSTs, masking, export."""
from __future__ import annotations

import io
import random
import re
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest

from callcenter.db.ticket_queries import TicketFilter, like_literal, ticket_page
from callcenter.ledger.timezone import OFFICE_TZ

from .factories import insert_ticket, insert_unit
from .test_web_helpers import TEST_WEB_CONFIG, client, sign_in, users  # noqa: F401

_ROW_LINK = re.compile(r'<a href="/tickets/(\d+)">([^<]*)</a>')
_NEXT = re.compile(r'<a href="([^"]+)">下一页')
BASE = datetime(2024, 5, 1, 9, tzinfo=timezone.utc)


def listed(page: str) -> list[str]:
    return [no for _, no in _ROW_LINK.findall(page)]


async def walk_pages(client, url: str) -> list[str]:
    """Every ticket number the ledger shows, following 下一页 to the end."""
    seen: list[str] = []
    for _ in range(1000):
        response = await client.get(url)
        assert response.status == 200, await response.text()
        page = await response.text()
        seen += listed(page)
        nxt = _NEXT.search(page)
        if not nxt:
            return seen
        url = nxt.group(1).replace("&amp;", "&")
    raise AssertionError("pagination does not end")


async def test_keyset_pages_show_every_ticket_exactly_once_in_order(client, db):
    rng = random.Random(20240501)
    async with db.pool.acquire() as conn:
        # Many ties on 来电时间 (only 6 distinct instants for 40 tickets): the id breaks them.
        expected = []
        for n in range(40):
            at = BASE + timedelta(hours=rng.randrange(6))
            ticket_id = await insert_ticket(conn, f"K{n:03}", called_at=at)
            expected.append((at, ticket_id, f"K{n:03}"))
    expected.sort(key=lambda t: (t[0], t[1]), reverse=True)
    await sign_in(client, "agent")
    seen = await walk_pages(client, "/tickets")
    assert seen == [no for _, _, no in expected]
    assert len(seen) == 40 and TEST_WEB_CONFIG.page_size < 40


@pytest.mark.parametrize("seed", range(5))
async def test_keyset_pagination_property_any_size_any_filter(db, seed):
    """Random sets with ties, random page sizes and filters: pages partition the filtered set."""
    rng = random.Random(seed)
    async with db.pool.acquire() as conn:
        rows = []
        for n in range(rng.randrange(0, 60)):
            at = BASE + timedelta(minutes=rng.randrange(5) * 30)
            status = rng.choice(["received", "signed", "handling"])
            rows.append((await insert_ticket(conn, f"P{n}", called_at=at, status=status), at, status))
        status = rng.choice([None, "received", "signed"])
        flt = TicketFilter(status=status)
        size, key, seen = rng.randrange(1, 9), None, []
        while True:
            page = await ticket_page(conn, flt, after=key, size=size)
            assert len(page.rows) <= size
            seen += [r["id"] for r in page.rows]
            if page.next_key is None:
                break
            assert len(page.rows) == size
            key = page.next_key
    wanted = sorted((r for r in rows if status is None or r[2] == status), key=lambda r: (r[1], r[0]), reverse=True)
    assert seen == [r[0] for r in wanted]


async def test_filters_narrow_the_list(client, db):
    async with db.pool.acquire() as conn:
        dept = await insert_unit(conn, "城管科")
        comm = await insert_unit(conn, "怡美家园社区", "community")
        a = await insert_ticket(conn, "A1", title="楼道堆物", category_l1="物业管理",
                                called_at=datetime(2024, 5, 1, 10, tzinfo=OFFICE_TZ))
        b = await insert_ticket(conn, "B2", title="夜间施工噪音", category_l1="城乡建设", status="signed",
                                called_at=datetime(2024, 5, 2, 23, 30, tzinfo=OFFICE_TZ))
        await insert_ticket(conn, "C3", title="停水", category_l1="水电气热",
                            called_at=datetime(2024, 5, 3, 0, 30, tzinfo=OFFICE_TZ))
        await conn.execute("UPDATE tickets SET department_id = $2 WHERE id = $1", a, dept)
        await conn.execute("UPDATE tickets SET community_id = $2, content = '工地凌晨仍在作业' WHERE id = $1",
                           b, comm)
    await sign_in(client, "agent")

    async def nos(query: str) -> list[str]:
        response = await client.get("/tickets?" + query)
        assert response.status == 200
        return listed(await response.text())

    assert await nos("") == ["C3", "B2", "A1"]
    assert await nos("status=signed") == ["B2"]
    assert await nos(f"department={dept}") == ["A1"]
    assert await nos(f"community={comm}") == ["B2"]
    assert await nos("category=水电气热") == ["C3"]
    # Dates are Beijing days: 05-02 23:30 is on the 2nd, 05-03 00:30 on the 3rd.
    assert await nos("from=2024-05-02&to=2024-05-02") == ["B2"]
    assert await nos("from=2024-05-03") == ["C3"]
    assert await nos("to=2024-05-01") == ["A1"]
    assert await nos("q=噪音") == ["B2"]
    assert await nos("q=凌晨") == ["B2"]            # 主要内容
    assert await nos("q=c3") == ["C3"]              # 工单编号, any case
    assert await nos("q=噪音&status=received") == []


@pytest.mark.parametrize("needle", ["' OR 1=1 --", "%", "_", "\\", "'; DROP TABLE tickets; --"])
async def test_sql_metacharacters_are_taken_literally(client, db, needle):
    async with db.pool.acquire() as conn:
        await insert_ticket(conn, "PLAIN1", title="普通工单")
        await insert_ticket(conn, "PLAIN2", title="另一张工单")
        await insert_ticket(conn, "META", title=f"标题含{needle}字符")
    await sign_in(client, "agent")
    response = await client.get("/tickets", params={"q": needle})
    assert response.status == 200
    assert listed(await response.text()) == ["META"]
    for param in ("category", "status"):
        response = await client.get("/tickets", params={param: needle})
        assert listed(await response.text()) == []
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM tickets") == 3


def test_like_literal_escapes_wildcards():
    assert like_literal("50%_\\") == "%50\\%\\_\\\\%"


async def test_bad_filter_input_is_a_clear_400(client):
    await sign_in(client, "agent")
    response = await client.get("/tickets", params={"from": "2024-13-40", "department": "abc",
                                                    "status": "limbo", "after": "garbage"})
    page = await response.text()
    assert response.status == 400
    for message in ("起始日期格式应为 YYYY-MM-DD", "科室无效", "未知状态", "分页参数无效"):
        assert message in page
    response = await client.get("/tickets", params={"from": "2024-05-03", "to": "2024-05-01"})
    assert response.status == 400 and "截止日期早于起始日期" in await response.text()


async def post_step(client, ticket_id: int, token: str, action: str, **fields):
    return await client.post(f"/tickets/{ticket_id}/step", data={"action": action, "csrf_token": token, **fields},
                             allow_redirects=False)


async def test_ticket_worked_through_the_whole_flow_by_posts(db, settings, users):
    from .test_web_helpers import make_app, open_client
    agent, boss = await open_client(make_app(db, settings)), await open_client(make_app(db, settings))
    try:
        async with db.pool.acquire() as conn:
            ticket_id = await insert_ticket(conn)
            unit = await insert_unit(conn, "城管科")
        a, s = await sign_in(agent, "agent"), await sign_in(boss, "supervisor")
        steps = [(agent, a, "sign", {}), (agent, a, "dispatch", {"unit_id": str(unit)}),
                 (agent, a, "accept", {}), (agent, a, "contact", {"reason": "电话联系了市民"}),
                 (agent, a, "feedback", {"reason": "已清理楼道"}), (boss, s, "review_pass", {}),
                 (agent, a, "callback_done", {})]
        for who, token, action, fields in steps:
            response = await post_step(who, ticket_id, token, action, **fields)
            assert response.status == 303 and response.headers["Location"] == f"/tickets/{ticket_id}"
        async with db.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT status, department_id, signed_at, first_contact_at "
                                      "FROM tickets WHERE id = $1", ticket_id)
            events = await conn.fetch("SELECT actor, action, to_state, reason FROM ticket_events "
                                      "WHERE ticket_id = $1 ORDER BY id", ticket_id)
        assert row["status"] == "called_back" and row["department_id"] == unit
        assert row["signed_at"] and row["first_contact_at"]
        assert [e["action"] for e in events] == [step[2] for step in steps]
        assert [e["actor"] for e in events] == ["agent"] * 5 + ["supervisor", "agent"]
        assert events[-1]["to_state"] == "called_back" and events[4]["reason"] == "已清理楼道"
        page = await (await agent.get(f"/tickets/{ticket_id}")).text()
        assert "已回访" in page and "结案审核通过" in page and "已清理楼道" in page and "城管科" in page
    finally:
        await agent.close()
        await boss.close()


async def test_illegal_or_incomplete_steps_flash_an_error_and_change_nothing(client, db):
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn)
    token = await sign_in(client, "supervisor")
    cases = [("feedback", {}, "不能执行"), ("return", {"reason": "  "}, "必须填写原因"), ("teleport", {}, "未知操作")]
    for action, fields, message in cases:
        response = await post_step(client, ticket_id, token, action, **fields)
        assert response.status == 303
        page = await (await client.get(f"/tickets/{ticket_id}")).text()
        assert "操作未执行" in page and message in page, action
        assert "操作未执行" not in await (await client.get(f"/tickets/{ticket_id}")).text()   # shown once
    await post_step(client, ticket_id, token, "sign")
    bad = [("dispatch", {"unit_id": "abc"}, "承办单位无效"),
           ("dispatch", {"unit_id": "424242"}, "不存在或已停用"),
           ("dispatch", {}, "必须指定")]
    for action, fields, message in bad:
        await post_step(client, ticket_id, token, action, **fields)
        assert message in await (await client.get(f"/tickets/{ticket_id}")).text(), fields
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT status FROM tickets WHERE id = $1", ticket_id) == "signed"
        assert await conn.fetchval("SELECT count(*) FROM ticket_events") == 1
    assert (await post_step(client, 999999, token, "sign")).status == 404


async def test_detail_offers_only_legal_steps_the_role_may_take(client, db):
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn, status="feedback")
    token = await sign_in(client, "agent")
    page = await (await client.get(f"/tickets/{ticket_id}")).text()
    assert 'value="review_pass"' not in page and 'value="sign"' not in page
    response = await post_step(client, ticket_id, token, "review_pass")
    assert response.status == 403
    await sign_in(client, "supervisor")
    page = await (await client.get(f"/tickets/{ticket_id}")).text()
    assert 'value="review_pass"' in page and 'value="review_reject"' in page and 'value="sign"' not in page


async def test_extension_form_sets_a_new_deadline_within_the_policy(client, db):
    dispatched = datetime.now(OFFICE_TZ).replace(second=0, microsecond=0) - timedelta(days=1)
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn, status="handling", called_at=dispatched)
    token = await sign_in(client, "supervisor")
    wanted = dispatched + timedelta(days=10)
    await post_step(client, ticket_id, token, "extend", reason="涉及多部门", new_deadline=f"{wanted:%Y-%m-%dT%H:%M}")
    async with db.pool.acquire() as conn:
        due = await conn.fetchval("SELECT extended_due_at FROM tickets WHERE id = $1", ticket_id)
    assert due == wanted
    history = await (await client.get(f"/tickets/{ticket_id}")).text()
    assert f"新期限: {wanted:%Y-%m-%d %H:%M}<" in history            # office time as people write it, not ISO
    await post_step(client, ticket_id, token, "extend", reason="再延", new_deadline="20.05.2024")
    assert "期限格式无效" in await (await client.get(f"/tickets/{ticket_id}")).text()
    # Earlier than now, not later than the current deadline, beyond 15 days from dispatch: each names its limit.
    for when, limit in ((dispatched - timedelta(days=2), "早于当前时间"), (wanted - timedelta(hours=1), "不晚于当前期限"),
                        (dispatched + timedelta(days=15, minutes=1), "超过最长延期: 派单后 15 天")):
        await post_step(client, ticket_id, token, "extend", reason="再延", new_deadline=f"{when:%Y-%m-%dT%H:%M}")
        assert limit in await (await client.get(f"/tickets/{ticket_id}")).text(), limit
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT extended_due_at FROM tickets WHERE id = $1", ticket_id) == wanted
        assert await conn.fetchval("SELECT count(*) FROM ticket_events WHERE action = 'extend'") == 1


async def test_overdue_deadlines_are_highlighted(client, db):
    async with db.pool.acquire() as conn:
        late = await insert_ticket(conn, "LATE", called_at=datetime(2024, 5, 1, tzinfo=timezone.utc))
        fresh = await insert_ticket(conn, "FRESH", called_at=datetime.now(timezone.utc))
    await sign_in(client, "agent")
    late_page = await (await client.get(f"/tickets/{late}")).text()
    fresh_page = await (await client.get(f"/tickets/{fresh}")).text()
    # Still 待签收 in 2024: 签收 and 办结 are overdue; 首次联系 does not run before signing.
    assert late_page.count('class="overdue"') == 2 and late_page.count("已超期") == 2
    assert 'class="overdue"' not in fresh_page and "未到期" in fresh_page


async def test_phone_is_masked_for_agents_and_in_lists(client, db):
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn, phone="13812345678")
    await sign_in(client, "agent")
    for path in ("/tickets", f"/tickets/{ticket_id}"):
        page = await (await client.get(path)).text()
        assert "138****5678" in page and "13812345678" not in page, path
    await sign_in(client, "supervisor")
    assert "13812345678" not in await (await client.get("/tickets")).text()
    assert "13812345678" in await (await client.get(f"/tickets/{ticket_id}")).text()


async def test_export_writes_the_filtered_tickets_and_audits_it(client, db):
    async with db.pool.acquire() as conn:
        await insert_ticket(conn, "E1", title="噪音扰民", phone="13812345678")
        await insert_ticket(conn, "E2", title="楼道堆物")
    await sign_in(client, "supervisor")
    response = await client.get("/tickets/export.xlsx", params={"q": "噪音"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(await response.read()), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][0] == "工单编号" and rows[0][-1] == "街道流转状态"
    assert [r[0] for r in rows[1:]] == ["E1"]
    assert "138****5678" in rows[1] and "13812345678" not in rows[1] and "待签收" in rows[1]   # masked by default
    full = await client.get("/tickets/export.xlsx", params={"q": "噪音", "unmasked": "1"})
    rows = list(openpyxl.load_workbook(io.BytesIO(await full.read()), read_only=True).active.iter_rows(values_only=True))
    assert "13812345678" in rows[1]
    async with db.pool.acquire() as conn:
        audit = await conn.fetch("SELECT actor, action, detail FROM audit_log ORDER BY id")
    assert [(a["actor"], a["action"], a["detail"]["unmasked"]) for a in audit] == [
        ("supervisor", "export_tickets", False), ("supervisor", "export_tickets", True)]
    assert audit[0]["detail"]["rows"] == 1 and audit[0]["detail"]["filter"]["q"] == "噪音"


async def test_export_refuses_more_rows_than_the_limit(db, settings, users):
    from dataclasses import replace

    from .test_web_helpers import make_app, open_client
    c = await open_client(make_app(db, settings, web_config=replace(TEST_WEB_CONFIG, export_max_rows=2)))
    try:
        async with db.pool.acquire() as conn:
            for n in range(3):
                await insert_ticket(conn, f"X{n}")
        await sign_in(c, "admin")
        response = await c.get("/tickets/export.xlsx")
        assert response.status == 413 and "缩小筛选范围" in await response.text()
    finally:
        await c.close()


async def test_the_ledger_counts_numbers_its_pages_and_filters_the_overdue(client, db):
    size = TEST_WEB_CONFIG.page_size
    now = datetime.now(timezone.utc)
    async with db.pool.acquire() as conn:
        for n in range(3 * size + 2):
            await insert_ticket(conn, f"P{n:03}", called_at=BASE + timedelta(minutes=n))
        late = await insert_ticket(conn, "P-LATE", status="handling", called_at=BASE - timedelta(days=1))
        done = await insert_ticket(conn, "P-DONE", status="awaiting_callback", called_at=BASE - timedelta(days=2))
        await conn.execute("UPDATE tickets SET close_due_at = $1, extended_due_at = NULL", now + timedelta(days=1))
        await conn.execute("UPDATE tickets SET close_due_at = $1, time_limit_hours = 168 WHERE id = ANY($2::bigint[])",
                           now - timedelta(hours=1), [late, done])
    total = 3 * size + 4
    await sign_in(client, "agent")
    first = await (await client.get("/tickets")).text()
    assert f"共 {total} 件 · 第 1 / 4 页" in first
    assert re.search(r'<a href="/tickets\?page=3">3</a>', first) and 'aria-current="page">1<' in first
    third = await (await client.get("/tickets?page=3")).text()
    assert "第 3 / 4 页" in third
    # Page 3 shows what following 下一页 twice shows: page numbers sit on the keyset pages.
    expected = (await walk_pages(client, "/tickets"))[2 * size:3 * size]
    assert listed(third) == expected
    nxt = _NEXT.search(third).group(1).replace("&amp;", "&")
    assert "page=4" in nxt and "第 4 / 4 页" in await (await client.get(nxt)).text()
    overdue = await (await client.get("/tickets?overdue=1")).text()
    assert listed(overdue) == ["P-LATE"] and "共 1 件" in overdue        # 已结案 tickets are not overdue
    assert 'name="overdue" value="1" checked' in overdue
    assert (await client.get("/tickets?overdue=yes")).status == 400
    assert (await client.get("/tickets?page=999")).status == 200         # past the end: the first page
    detail = await (await client.get(f"/tickets/{late}")).text()
    assert "168 小时" in detail                                            # 办理时限 with its unit
