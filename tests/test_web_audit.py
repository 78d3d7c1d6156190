"""审计日志 page: admins read who did what (listens, corrections, campaign changes); nobody else may."""
from __future__ import annotations

from .test_web_helpers import client, sign_in, users  # noqa: F401  (fixtures)


async def log(conn, actor: str, action: str, object_id: str, **detail) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, action, object_type, object_id, detail) VALUES ($1, $2, 'x', $3, $4)",
        actor, action, object_id, detail)


async def test_admin_reads_and_filters_the_audit_log(client, db):
    async with db.pool.acquire() as conn:
        await log(conn, "zhang", "recording.listen", "att-1", range="bytes=0-")
        await log(conn, "li", "answer.correct", "att-2", reason="市民口误")
        await log(conn, "zhang", "campaign.start", "7")
    await sign_in(client, "admin")
    page = await (await client.get("/audit")).text()
    assert all(a in page for a in ("recording.listen", "answer.correct", "campaign.start", "市民口误"))
    assert page.index("campaign.start") < page.index("recording.listen")        # newest first
    only_zhang = await (await client.get("/audit?actor=zhang")).text()
    assert "att-1" in only_zhang and "att-2" not in only_zhang
    listens = await (await client.get("/audit?action=recording.")).text()
    assert "att-1" in listens and "campaign.start</td>" not in listens
    bad = await client.get("/audit?day=yesterday")
    assert bad.status == 400 and "日期格式" in await bad.text()
    for after in ("junk", "2026-01-01T00:00:00+08:00~99999999999999999999"):     # the id overflows a bigint
        bad_key = await client.get("/audit", params={"after": after})
        assert bad_key.status == 400 and "分页参数无效" in await bad_key.text()


async def test_audit_log_pages_by_keyset(client, db):
    async with db.pool.acquire() as conn:
        for n in range(105):
            await log(conn, "bulk", "ticket.step", f"t-{n:03d}")
    await sign_in(client, "admin")
    first = await (await client.get("/audit?actor=bulk")).text()
    assert "t-104" in first and "t-004" not in first and "下一页" in first
    next_url = first.split('href="')[-1].split('"')[0].replace("&amp;", "&")
    second = await (await client.get(next_url)).text()
    assert "t-004" in second and "t-000" in second and "t-104" not in second


async def test_only_admins_see_the_audit_log(client):
    for role in ("supervisor", "agent"):
        await sign_in(client, role)
        assert (await client.get("/audit", allow_redirects=False)).status == 403


async def test_audit_rows_read_as_sentences_linked_to_their_object(client, db):
    import re

    from .factories import insert_ticket
    from callcenter.db import callbacks
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE users SET display_name = '王主任' WHERE username = 'supervisor'")
        ticket = await insert_ticket(conn, "2024010100123")
        attempt = await callbacks.create_attempt(conn, ticket, phone="13800000001", state="answered")
        await conn.execute(
            """INSERT INTO audit_log (actor, action, object_type, object_id, detail)
               VALUES ('supervisor', 'recording.listen', 'callback_attempt', $1, '{"answer_id": 1}'),
                      ('dialer', 'campaign.start', 'campaign', '7', '{}')""", str(attempt))
    await sign_in(client, "admin")
    page = await (await client.get("/audit")).text()
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "王主任 收听了 工单 2024010100123 的回访录音" in text
    assert f'<a href="/tickets/{ticket}">工单 2024010100123</a>' in page
    assert "自动外呼 开始了 回访活动 #7" in text
    # The filter offers Chinese action names (the codes stay in the option values only).
    assert '<option value="recording.listen">收听录音</option>' in page
    assert ">recording.listen<" not in page and ">campaign.start<" not in page
