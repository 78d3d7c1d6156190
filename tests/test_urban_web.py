"""城市管理 pages and POST /api/urban-cases: roles, CSRF, validation, and a case from 审核 to 结案."""
from __future__ import annotations

import re

from aiohttp import FormData

from callcenter.db import api_tokens
from callcenter.db import urban as repo
from callcenter.web.core.access import route_table
from callcenter.web.api.openapi import openapi_document

from .factories import insert_unit
from .test_web_helpers import client, sign_in, users  # noqa: F401

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
CASE = {"case_no": "G-001", "case_type": "暴露垃圾", "reported_at": "2024-06-03 09:00", "address": "育新花园东门",
        "案件来源": "网格巡查", "description": "垃圾桶满溢"}


def concrete(path: str) -> str:
    return path.replace("{case_id}", "1").replace("{photo_id}", "1")


async def test_only_supervisors_and_admins_may_use_the_urban_pages_and_api(client, db):
    routes = [r for r in route_table(client.server.app) if r.path.startswith(("/urban", "/api/urban"))]
    assert {r.path for r in routes} >= {"/urban", "/urban/{case_id}", "/urban/{case_id}/step", "/api/urban-cases"}
    assert {r.roles for r in routes} == {frozenset({"admin", "supervisor"})}
    for route in routes:                                    # no session: sign-in page, or 401 for the API
        response = await client.request(route.method, concrete(route.path), allow_redirects=False)
        assert response.status == (401 if route.path.startswith("/api/") else 302), route
    token = await sign_in(client, "agent")
    for route in routes:
        response = await client.request(route.method, concrete(route.path), headers={"X-CSRF-Token": token},
                                        allow_redirects=False)
        assert response.status == 403, route
    assert await db.pool.fetchval("SELECT count(*) FROM urban_cases") == 0


async def test_the_api_creates_a_case_and_reports_every_problem(client, db):
    token = await sign_in(client, "supervisor")
    assert (await client.post("/api/urban-cases", json=CASE)).status == 403          # no CSRF header
    response = await client.post("/api/urban-cases", json=CASE, headers={"X-CSRF-Token": token})
    assert response.status == 201
    body = await response.json()
    assert body["state"] == "review" and body["case_no"] == "G-001"
    again = await client.post("/api/urban-cases", json=CASE, headers={"X-CSRF-Token": token})
    assert again.status == 409
    bad = await client.post("/api/urban-cases", headers={"X-CSRF-Token": token},
                            json={**CASE, "case_no": "G-002", "reported_at": "昨天", "案件来源": "微博"})
    assert bad.status == 422
    problems = {(p["field"], p["value"]) for p in (await bad.json())["problems"]}
    assert problems == {("reported_at", "昨天"), ("案件来源", "微博")}
    missing = await client.post("/api/urban-cases", headers={"X-CSRF-Token": token}, json={"case_no": "G-3"})
    assert missing.status == 422 and "案件类型" in (await missing.json())["message"]
    assert (await client.post("/api/urban-cases", headers={"X-CSRF-Token": token}, data="{oops",
                              )).status == 400
    async with db.pool.acquire() as conn:
        [case] = await repo.list_cases(conn)
        events = await repo.history(conn, case["id"])
    assert case["source"] == "grid" and [(e["action"], e["actor"]) for e in events] == [("create", "supervisor")]


async def test_a_case_from_review_to_closed_through_the_pages(client, db):
    async with db.pool.acquire() as conn:
        unit = await insert_unit(conn, "城管科")
    token = await sign_in(client, "supervisor")
    created = await (await client.post("/api/urban-cases", json=CASE, headers={"X-CSRF-Token": token})).json()
    url = created["url"]

    async def step(action, **fields):
        response = await client.post(f"{url}/step", data={"csrf_token": token, "action": action, **fields})
        return await response.text()

    assert "已受理" in await step("accept")
    assert "不能执行" in await step("close")                                   # refused, shown, nothing changed
    assert "已派发" in await step("dispatch", unit_id=str(unit), deadline="2099-06-05T18:00")
    assert "照片" in await step("handle", result="已清运")                        # a 处置 needs an after photo
    form = FormData()
    for key, value in {"csrf_token": token, "action": "handle", "result": "已清运"}.items():
        form.add_field(key, value)
    form.add_field("photos", JPEG, filename="after.jpg", content_type="image/jpeg")
    page = await (await client.post(f"{url}/step", data=form)).text()
    assert "已处置" in page
    closed = await step("close")
    assert "已结案" in closed
    assert "流转记录" in closed and "已处置(待结案) → 已结案" in closed            # the audit trail, in the page's words
    async with db.pool.acquire() as conn:
        case = await repo.get_case(conn, created["id"])
        events = [e["action"] for e in await repo.history(conn, created["id"])]
        [photo] = await repo.photos(conn, created["id"])
    assert case["state"] == "closed" and case["closed_by"] == "supervisor" and case["unit_name"] == "城管科"
    assert events == ["create", "accept", "dispatch", "handle", "close"]
    served = await client.get(f"{url}/photos/{photo['id']}")
    assert served.status == 200 and await served.read() == JPEG and served.content_type == "image/jpeg"
    listing = await (await client.get("/urban?state=closed")).text()
    assert "G-001" in listing
    assert (await client.get("/urban?state=bogus")).status == 400


async def test_overdue_cases_are_flagged_on_the_list(client, db):
    async with db.pool.acquire() as conn:
        unit = await insert_unit(conn, "城管科")
    token = await sign_in(client, "admin")
    created = await (await client.post("/api/urban-cases", json=CASE, headers={"X-CSRF-Token": token})).json()
    await client.post(f"{created['url']}/step", data={"csrf_token": token, "action": "accept"})
    async with db.pool.acquire() as conn:      # a deadline already past: dispatched long ago
        await conn.execute("""UPDATE urban_cases SET state = 'dispatched', unit_id = $2,
                                     deadline_at = now() - interval '1 hour' WHERE id = $1""", created["id"], unit)
    page = await (await client.get("/urban?overdue=1")).text()
    assert "G-001" in page and "已超期" in page


async def test_every_urban_post_needs_the_csrf_token(client, db):
    token = await sign_in(client, "supervisor")
    created = await (await client.post("/api/urban-cases", json=CASE, headers={"X-CSRF-Token": token})).json()
    posts = [r for r in route_table(client.server.app)
             if r.path.startswith(("/urban", "/api/urban")) and r.method == "POST"]
    assert posts
    for route in posts:
        path = route.path.replace("{case_id}", str(created["id"]))
        for headers, data in (({}, {"action": "accept"}), ({"X-CSRF-Token": token[:-1] + "x"}, {"action": "accept"}),
                              ({}, {"action": "accept", "csrf_token": "nope"})):
            response = await client.post(path, data=data, headers=headers, allow_redirects=False)
            assert response.status == 403, route
    async with db.pool.acquire() as conn:
        assert (await repo.get_case(conn, created["id"]))["state"] == "review"


async def test_the_api_takes_a_bearer_token_without_csrf_and_is_described(client, db):
    async with db.pool.acquire() as conn:
        supervisor = (await api_tokens.create_token(conn, "supervisor", label="platform"))[1]
        agent = (await api_tokens.create_token(conn, "agent", label="x"))[1]
    ok = await client.post("/api/urban-cases", json=CASE, headers={"Authorization": f"Bearer {supervisor}"})
    assert ok.status == 201
    refused = await client.post("/api/urban-cases", json={**CASE, "case_no": "G-9"},
                                headers={"Authorization": f"Bearer {agent}"})
    assert refused.status == 403
    bad = await client.post("/api/urban-cases", json={**CASE, "case_no": "G-9"}, headers={"Authorization": "Bearer cc_no"})
    assert bad.status == 401
    assert await db.pool.fetchval("SELECT count(*) FROM urban_cases") == 1
    document = openapi_document(client.server.app)
    operation = document["paths"]["/api/urban-cases"]["post"]
    assert "x-generated" not in operation and "case_no" in operation["requestBody"]["content"]["application/json"]["schema"]["properties"]


async def test_new_case_form_keeps_what_was_typed_and_marks_the_field(client, db):
    token = await sign_in(client, "supervisor")
    page = await (await client.get("/urban")).text()
    assert 'id="urban-new"' in page and 'id="urban-import"' in page and 'class="required"' in page
    bad = await client.post("/urban/new", data={"csrf_token": token, "case_no": "G-9", "case_type": "占道经营",
                                                "address": "西三旗桥下", "reported_at": "昨天", "source": "grid"})
    text = await bad.text()
    assert bad.status == 400 and 'value="西三旗桥下"' in text and 'value="占道经营"' in text
    assert re.search(r'<label class="has-error">上报时间.*?<span class="field-error" role="alert">[^<]+</span>', text, re.S)
    good = await client.post("/urban/new", data={"csrf_token": token, "case_no": "G-9", "case_type": "占道经营",
                                                 "address": "西三旗桥下", "reported_at": "2024-06-03T09:00",
                                                 "source": "grid"}, allow_redirects=False)
    assert good.status == 303
    listing = await (await client.get("/urban")).text()
    assert "G-9" in listing and "网格巡查" in listing
    again = await client.post("/urban/new", data={"csrf_token": token, "case_no": "G-9", "case_type": "x",
                                                  "reported_at": "2024-06-03T09:00"})
    assert again.status == 400 and "已存在" in await again.text()


async def test_upload_uses_the_importer_and_lists_row_errors(client, db, tmp_path):
    import openpyxl
    token = await sign_in(client, "supervisor")

    def workbook(rows) -> bytes:
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(["案件编号", "案件来源", "案件类型", "问题点位", "上报时间"])
        for row in rows:
            sheet.append(row)
        path = tmp_path / "cases.xlsx"
        book.save(path)
        return path.read_bytes()

    def upload(data: bytes, name: str = "网格案件.xlsx") -> FormData:
        form = FormData()
        form.add_field("csrf_token", token)
        form.add_field("file", data, filename=name)
        return form

    bad = await client.post("/urban/import", data=upload(workbook([
        ["U-1", "网格巡查", "暴露垃圾", "东门", "2024-06-03 09:00"], ["U-2", "网格巡查", "", "西门", "不是时间"]])))
    text = await bad.text()
    assert bad.status == 400 and 'id="upload-errors"' in text and "未导入" in text
    assert re.search(r"<tr><td>3</td><td>案件类型</td>", text) and re.search(r"<tr><td>3</td><td>上报时间</td>", text)
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM urban_cases") == 0       # all or nothing
    good = await client.post("/urban/import", data=upload(workbook([
        ["U-1", "网格巡查", "暴露垃圾", "东门", "2024-06-03 09:00"]])), allow_redirects=False)
    assert good.status == 303
    assert "已导入 1 件新案件" in await (await client.get("/urban")).text()
    wrong = await client.post("/urban/import", data=upload(b"MZ", "x.exe"))
    assert wrong.status == 400 and "只接受" in await wrong.text()


async def test_the_api_keeps_the_source_it_is_given(client, db):
    token = await sign_in(client, "supervisor")
    created = await (await client.post("/api/urban-cases", json=CASE, headers={"X-CSRF-Token": token})).json()
    page = await (await client.get(created["url"])).text()
    assert "网格巡查" in page and "接口" not in page.split("<dt>来源</dt>")[1][:40]
