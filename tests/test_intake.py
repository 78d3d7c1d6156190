"""Intake: stable-size rule, exactly once, rejected files with a report, web upload and POST /api/imports."""
from __future__ import annotations

from pathlib import Path

from aiohttp import FormData

from callcenter.intake.inbox import InboxWatcher, Settling
from callcenter.intake.take import take_file

from .test_web2_api import bearer, make_token
from .test_web_helpers import client, sign_in, users  # noqa: F401
from .test_intake_alerts_e2e import ticket_file


def test_a_file_is_ready_only_after_holding_still_for_the_settle_time():
    s = Settling(settle=2.0)
    assert s.ready({"a.csv": (10, 1)}, now=0.0) == []
    assert s.ready({"a.csv": (20, 2)}, now=1.0) == []            # still growing: the clock restarts
    assert s.ready({"a.csv": (20, 2)}, now=2.5) == []
    assert s.ready({"a.csv": (20, 2)}, now=3.0) == ["a.csv"]
    assert s.ready({}, now=4.0) == [] and s.ready({"a.csv": (20, 2)}, now=4.5) == []   # gone and back: anew


async def test_watcher_imports_once_rejects_bad_files_with_a_report_and_ignores_part_files(db, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    watcher = InboxWatcher(db.pool, inbox, poll=0, settle=0)
    content = ticket_file(["A1", "A2"])
    (inbox / "a.csv").write_text(content, encoding="utf-8")
    (inbox / "again.csv").write_text(content, encoding="utf-8")      # other name, same bytes
    (inbox / "bad.csv").write_text("工单编号,一级分类,来电时间\nB1,没有这个分类,2024-05-01 08:00\n", encoding="utf-8")
    (inbox / "copying.csv.part").write_text("half", encoding="utf-8")
    (inbox / "notes.txt").write_text("hello", encoding="utf-8")
    await watcher.pass_once()                         # first sight: nothing is stable yet
    results = {r.file_name: r for r in await watcher.pass_once()}
    assert set(results) == {"a.csv", "again.csv", "bad.csv", "notes.txt"}
    assert results["a.csv"].inserted == 2 and results["a.csv"].outcome == "done"
    assert results["again.csv"].outcome == "done" and results["again.csv"].inserted == 0
    assert results["bad.csv"].outcome == "rejected" and "一级分类" in results["bad.csv"].report()
    assert results["notes.txt"].outcome == "rejected"
    assert sorted(p.name for p in (inbox / "done").iterdir() if not p.name.endswith(".txt")) == ["a.csv", "again.csv"]
    assert (inbox / "rejected" / "bad.csv.report.txt").read_text(encoding="utf-8").count("第 2 行")
    assert (inbox / "copying.csv.part").exists()
    # The very same content dropped again is not imported a second time.
    (inbox / "a.csv").write_text(content, encoding="utf-8")
    await watcher.pass_once()
    again = await watcher.pass_once()
    assert [r.duplicate for r in again] == [True]
    assert (inbox / "done").joinpath("a.csv").exists() and len(list((inbox / "done").glob("a.*.csv"))) == 1
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM tickets") == 2


async def test_a_crash_mid_file_is_all_or_nothing(db, tmp_path):
    inbox = tmp_path / "inbox"
    path = tmp_path / "mixed.csv"
    path.write_text(ticket_file(["M1"]) + "M2,水电气热,停水,,,,not a time,\n", encoding="utf-8")
    result = await take_file(db.pool, path, inbox)
    assert result.outcome == "rejected" and result.errors and result.errors[0]["line"] == 3
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM tickets") == 0


def _form(name: str, text: str) -> FormData:
    form = FormData()
    form.add_field("file", text.encode("utf-8"), filename=name, content_type="text/csv")
    return form


async def test_api_imports_with_a_token_and_agents_may_not(client, db, users):
    supervisor = await make_token(db, "supervisor")
    ok = await client.post("/api/imports", data=_form("x.csv", ticket_file(["P1"])), headers=bearer(supervisor))
    assert ok.status == 200, await ok.text()
    assert (await ok.json())["inserted"] == 1
    bad = await client.post("/api/imports", data=_form("y.csv", "工单编号\nP2\n"), headers=bearer(supervisor))
    assert bad.status == 422 and "一级分类" in (await bad.json())["message"]
    wrong = await client.post("/api/imports", data=_form("y.pdf", "x"), headers=bearer(supervisor))
    assert wrong.status == 400
    not_form = await client.post("/api/imports", json={}, headers=bearer(supervisor))
    assert not_form.status == 400
    agent = await make_token(db, "agent")
    refused = await client.post("/api/imports", data=_form("z.csv", ticket_file(["P3"])), headers=bearer(agent))
    assert refused.status == 403


async def test_web_upload_lists_who_imported_what(client, db, users):
    token = await sign_in(client, "admin")
    form = _form("网页.csv", ticket_file(["W1", "W2"]))
    form.add_field("csrf_token", token)
    posted = await client.post("/imports", data=form, allow_redirects=False)
    assert posted.status == 303
    page = await (await client.get("/imports")).text()
    assert "网页.csv" in page and "网页上传" in page and "admin" in page
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM tickets WHERE ticket_no LIKE 'W%'") == 2
