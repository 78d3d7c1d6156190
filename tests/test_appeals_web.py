"""考核申诉 pages: who may use them, CSRF on every POST, and an appeal from candidate to submitted."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone

import docx
from aiohttp import FormData

from callcenter.db import appeals as repo
from callcenter.ledger import appeals as ap
from callcenter.web.core.access import route_table
from callcenter.web.core.limits import MAX_UPLOAD

from . import scoring_factories as f
from .test_web_helpers import client, sign_in, users  # noqa: F401

BJ = timezone(timedelta(hours=8))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
DAY = date(2024, 5, 20)


def my_routes(app, prefix):
    return [r for r in route_table(app) if r.path.startswith(prefix)]


async def seeded(db) -> int:
    async with db.pool.acquire() as conn:
        await repo.save_rules(conn, ap.AppealRules(keywords=("退还定金",)), actor="admin")
        return await f.ticket(conn, ticket_no="W1", called_at=datetime(2024, 5, 19, 15, tzinfo=BJ),
                              title="要求退还定金", closed_at=datetime(2024, 5, 20, 9, tzinfo=BJ))


def concrete(path: str) -> str:
    for name in ("{appeal_id}", "{candidate_id}", "{evidence_id}"):
        path = path.replace(name, "1")
    return path


async def test_only_supervisors_and_admins_may_use_the_appeal_pages(client, db):
    routes = my_routes(client.server.app, "/appeals")
    assert {r.roles for r in routes} == {frozenset({"admin", "supervisor"})}
    assert len(routes) >= 9
    for route in routes:                                    # no session: sign-in page, nothing done
        response = await client.request(route.method, concrete(route.path), allow_redirects=False)
        assert response.status == 302 and response.headers["Location"].startswith("/login"), route
    token = await sign_in(client, "agent")
    for route in routes:
        response = await client.request(route.method, concrete(route.path), headers={"X-CSRF-Token": token},
                                        allow_redirects=False)
        assert response.status == 403, route


async def test_every_appeal_post_needs_the_csrf_token(client, db):
    ticket_id = await seeded(db)
    async with db.pool.acquire() as conn:
        appeal_id = await repo.create_appeal(conn, ticket_id, grounds="不合理诉求", statement="x", actor="sup")
    await sign_in(client, "supervisor")
    posts = [r for r in my_routes(client.server.app, "/appeals") if r.method == "POST"]
    for route in posts:
        path = route.path.replace("{appeal_id}", str(appeal_id)).replace("{candidate_id}", "1")
        response = await client.post(path, data={"action": "submit", "day": DAY.isoformat(), "ticket_no": "W1"},
                                     allow_redirects=False)
        assert response.status == 403, route
    async with db.pool.acquire() as conn:
        assert (await repo.get_appeal(conn, appeal_id))["state"] == "draft"
        assert await conn.fetchval("SELECT count(*) FROM appeal_candidates") == 0


async def test_from_candidate_to_submitted_with_evidence_and_docx(client, db, settings):
    await seeded(db)
    token = await sign_in(client, "supervisor")
    response = await client.post("/appeals/candidates/run", data={"csrf_token": token, "day": DAY.isoformat()},
                                 allow_redirects=False)
    assert response.status == 303
    page = await (await client.get(f"/appeals?day={DAY}")).text()
    assert "W1" in page and "退还定金" in page and "新增 1 条" in page
    assert "挽回综合成绩" in page and "已通过(核减) 0 件" in page
    async with db.pool.acquire() as conn:
        [candidate] = await repo.list_candidates(conn, DAY)
    response = await client.post(f"/appeals/candidates/{candidate['id']}/decide", allow_redirects=False,
                                 data={"csrf_token": token, "decision": "confirm", "day": DAY.isoformat()})
    assert response.status == 303
    appeal_url = response.headers["Location"]
    appeal_id = int(appeal_url.rsplit("/", 1)[1])
    page = await (await client.get(appeal_url)).text()
    assert "草稿" in page and "申诉提交截止" in page
    await client.post(f"{appeal_url}/edit", data={"csrf_token": token, "grounds": "超职责范围",
                                                  "statement": "属商业纠纷, 不属街道职责。", "handling_record": "已告知"})
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("file", PNG, filename="现场.png", content_type="application/octet-stream")
    assert (await client.post(f"{appeal_url}/evidence", data=form, allow_redirects=False)).status == 303
    bad = FormData()
    bad.add_field("csrf_token", token)
    bad.add_field("file", b"MZ\x90\x00 not a picture", filename="photo.png", content_type="image/png")
    assert "只接受" in await (await client.post(f"{appeal_url}/evidence", data=bad)).text()
    big = FormData()
    big.add_field("csrf_token", token)
    big.add_field("file", PNG + b"\x00" * (MAX_UPLOAD + 1 - len(PNG)), filename="big.png",
                       content_type="image/png")   # one byte over, the body itself still within MAX_BODY
    assert "文件过大" in await (await client.post(f"{appeal_url}/evidence", data=big)).text()
    async with db.pool.acquire() as conn:
        [item] = await repo.evidence(conn, appeal_id)
    assert item["filename"] == "现场.png" and item["content_type"] == "image/png"
    assert repo.attachment_path(settings.home, item["sha256"]).read_bytes() == PNG
    download = await client.get(f"{appeal_url}/evidence/{item['id']}")
    assert await download.read() == PNG and "attachment" in download.headers["Content-Disposition"]

    response = await client.post(f"{appeal_url}/step", data={"csrf_token": token, "action": "submit"})
    page = await response.text()
    assert "已提交" in page
    assert "办理记录" in page and "草稿 → 已提交" in page and "添加证据" in page     # the audit trail, labelled
    document = docx.Document(io.BytesIO(await (await client.get(f"{appeal_url}/statement.docx")).read()))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "W1" in text and "超职责范围" in text and "现场.png" in text and "2024-05-19 15:00" in text


async def test_refusals_come_back_as_messages_not_errors(client, db):
    ticket_id = await seeded(db)
    async with db.pool.acquire() as conn:
        appeal_id = await repo.create_appeal(conn, ticket_id, actor="sup")
    token = await sign_in(client, "admin")
    page = await (await client.post(f"/appeals/{appeal_id}/step", data={"csrf_token": token, "action": "grant"})).text()
    assert "不能执行" in page
    page = await (await client.post(f"/appeals/{appeal_id}/step", data={"csrf_token": token, "action": "submit"})).text()
    assert "申诉理由" in page
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("file", b"MZ\x90", filename="x.exe")
    page = await (await client.post(f"/appeals/{appeal_id}/evidence", data=form)).text()
    assert "只接受" in page
    page = await (await client.post("/appeals/new", data={"csrf_token": token, "ticket_no": "NOPE"})).text()
    assert "NOPE" in page and "不存在" in page
    assert (await client.get("/appeals/99999")).status == 404
    assert (await client.get("/appeals/abc")).status == 404
    assert (await client.get("/appeals?day=2024-13-01")).status == 400


async def test_appeal_page_names_outcomes_and_sizes_for_people(client, db):
    ticket_id = await seeded(db)
    async with db.pool.acquire() as conn:
        await f.attempt(conn, ticket_id, 1, answered_at=datetime(2024, 5, 20, 10, tzinfo=timezone.utc),
                        answers=f.own("yes", "solved", "satisfied"))
        await conn.execute("UPDATE callback_attempts SET outcome = 'answered-complete' WHERE ticket_id = $1",
                           ticket_id)
        appeal_id = await repo.create_appeal(conn, ticket_id, actor="sup")
    await sign_in(client, "supervisor")
    page = await (await client.get(f"/appeals/{appeal_id}")).text()
    assert "第 1 次回访 · 完成回访 ·" in page and "answered-complete ·" not in page      # the recording picker
    assert "最大 16 MB" in page and MAX_UPLOAD > 15 * 1024 * 1024 and " KB" not in page
