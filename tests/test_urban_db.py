"""Urban cases in the database: the audited flow, overdue lists, statistics, the importer and its CLI."""
from __future__ import annotations

import asyncio
import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

from callcenter import cli
from callcenter.db import urban as repo
from callcenter.ledger import urban as ub
from callcenter.transfer.importer import ImportRejected
from callcenter.transfer.reader import FileRejected
from callcenter.transfer.urban_import import import_urban_cases

from .factories import insert_unit

BJ = timezone(timedelta(hours=8))
T0 = datetime(2024, 6, 3, 9, tzinfo=BJ)
NOW = datetime(2024, 7, 1, tzinfo=BJ)
PHOTO = repo.Photo("a" * 64, "after.jpg", "image/jpeg", 1234)


def record(no="C1", **kw):
    values = dict(case_no=no, case_type="暴露垃圾", reported_at=T0, address="育新花园东门", community_name="育新花园社区")
    values.update(kw)
    return ub.CaseRecord(**values)


async def close_case(conn, case_id, unit_id, *, deadline, closed_at):
    await repo.apply_step(conn, case_id, ub.Step(ub.Action.ACCEPT), actor="sup", at=T0)
    await repo.apply_step(conn, case_id, ub.Step(ub.Action.DISPATCH, unit_id=unit_id, deadline=deadline),
                          actor="sup", at=T0 + timedelta(minutes=5))
    await repo.apply_step(conn, case_id, ub.Step(ub.Action.HANDLE, result="已清运"), actor="unit",
                          photos=[PHOTO], at=closed_at - timedelta(minutes=1))
    await repo.apply_step(conn, case_id, ub.Step(ub.Action.CLOSE), actor="sup", at=closed_at)


async def test_a_case_goes_from_review_to_closed_and_every_step_is_audited(db):
    async with db.pool.acquire() as conn:
        unit = await insert_unit(conn, "城管科")
        case_id = await repo.create_case(conn, record(), actor="api")
        with pytest.raises(repo.CaseExists):
            await repo.create_case(conn, record(), actor="api")
        deadline = T0 + timedelta(days=1)
        await repo.apply_step(conn, case_id, ub.Step(ub.Action.ACCEPT), actor="sup", at=T0)
        await repo.apply_step(conn, case_id, ub.Step(ub.Action.DISPATCH, unit_id=unit, deadline=deadline),
                              actor="sup", at=T0)
        with pytest.raises(ub.UrbanFlowError, match="照片"):
            await repo.apply_step(conn, case_id, ub.Step(ub.Action.HANDLE, result="已清运"), actor="unit")
        await repo.apply_step(conn, case_id, ub.Step(ub.Action.HANDLE, result="已清运"), actor="unit",
                              photos=[PHOTO], at=T0 + timedelta(hours=2))
        await repo.apply_step(conn, case_id, ub.Step(ub.Action.SEND_BACK, reason="照片看不清"), actor="sup")
        # the photo already on file counts for the second 处置
        await repo.apply_step(conn, case_id, ub.Step(ub.Action.HANDLE, result="已清运, 补拍"), actor="unit",
                              at=T0 + timedelta(hours=3))
        await repo.apply_step(conn, case_id, ub.Step(ub.Action.CLOSE), actor="sup", at=T0 + timedelta(hours=4))
        with pytest.raises(ub.IllegalTransition, match="closed"):
            await repo.apply_step(conn, case_id, ub.Step(ub.Action.ACCEPT), actor="sup")
        case = await repo.get_case(conn, case_id)
        events = await repo.history(conn, case_id)
        assert case["state"] == "closed" and case["closed_by"] == "sup" and case["unit_name"] == "城管科"
        assert case["result_text"] == "已清运, 补拍" and case["deadline_at"] == deadline
        assert [(e["action"], e["actor"]) for e in events] == [
            ("create", "api"), ("accept", "sup"), ("dispatch", "sup"), ("handle", "unit"), ("send_back", "sup"),
            ("handle", "unit"), ("close", "sup")]
        assert ub.replay([(e["action"], e["to_state"]) for e in events[1:]]) is ub.State.CLOSED
        assert len(await repo.photos(conn, case_id)) == 1


async def test_a_refused_step_writes_nothing(db):
    async with db.pool.acquire() as conn:
        case_id = await repo.create_case(conn, record(), actor="api")
        await repo.apply_step(conn, case_id, ub.Step(ub.Action.ACCEPT), actor="sup")
        with pytest.raises(ub.UrbanFlowError, match="不存在"):
            await repo.apply_step(conn, case_id, ub.Step(ub.Action.DISPATCH, unit_id=999, deadline=NOW),
                                  actor="sup")
        with pytest.raises(ub.IllegalTransition):
            await repo.apply_step(conn, case_id, ub.Step(ub.Action.HANDLE, result="x"), actor="u", photos=[PHOTO])
        assert (await repo.get_case(conn, case_id))["state"] == "accepted"
        assert len(await repo.history(conn, case_id)) == 2 and await repo.photos(conn, case_id) == []


async def test_overdue_is_flagged_across_the_deadline_until_closed(db):
    async with db.pool.acquire() as conn:
        unit = await insert_unit(conn, "城管科")
        deadline = T0 + timedelta(days=2)
        case_id = await repo.create_case(conn, record(), actor="api")
        await repo.apply_step(conn, case_id, ub.Step(ub.Action.ACCEPT), actor="sup", at=T0)
        await repo.apply_step(conn, case_id, ub.Step(ub.Action.DISPATCH, unit_id=unit, deadline=deadline),
                              actor="sup", at=T0)
        ids = lambda rows: [r["id"] for r in rows]  # noqa: E731
        assert ids(await repo.overdue_cases(conn, deadline)) == []
        assert ids(await repo.overdue_cases(conn, deadline + timedelta(seconds=1))) == [case_id]
        await repo.apply_step(conn, case_id, ub.Step(ub.Action.HANDLE, result="done"), actor="u", photos=[PHOTO])
        assert ids(await repo.overdue_cases(conn, deadline + timedelta(days=1))) == [case_id]   # not yet confirmed
        await repo.apply_step(conn, case_id, ub.Step(ub.Action.CLOSE), actor="sup")
        assert ids(await repo.overdue_cases(conn, deadline + timedelta(days=1))) == []


async def test_statistics_by_type_community_unit_on_time_and_repeat_locations(db):
    async with db.pool.acquire() as conn:
        a = await insert_unit(conn, "城管科")
        b = await insert_unit(conn, "育新花园社区", "community")
        due = T0 + timedelta(days=1)
        c1 = await repo.create_case(conn, record("C1"), actor="x")
        c2 = await repo.create_case(conn, record("C2", case_type="违规停车"), actor="x")
        c3 = await repo.create_case(conn, record("C3", address="永泰庄北路", community_name="永泰庄社区"), actor="x")
        c4 = await repo.create_case(conn, record("C4", address="外街"), actor="x")
        await repo.create_case(conn, record("OLD", reported_at=T0 - timedelta(days=60)), actor="x")
        await close_case(conn, c1, a, deadline=due, closed_at=due)                         # on time (at the deadline)
        await close_case(conn, c2, a, deadline=due, closed_at=due + timedelta(hours=1))    # late
        await close_case(conn, c3, b, deadline=due, closed_at=T0 + timedelta(hours=3))     # on time
        await repo.apply_step(conn, c4, ub.Step(ub.Action.REJECT, reason="不属本街道"), actor="sup")
        stats = await repo.statistics(conn, T0 - timedelta(days=1), T0 + timedelta(days=30))
    assert stats.total == 4
    assert stats.by_type == [("暴露垃圾", 3), ("违规停车", 1)]
    assert stats.by_community == [("育新花园社区", 3), ("永泰庄社区", 1)]
    assert stats.by_department == [("城管科", 2, 2, 1), ("育新花园社区", 1, 1, 1)]
    assert (stats.closed, stats.closed_on_time) == (3, 2) and stats.on_time_rate == pytest.approx(2 / 3)
    assert stats.repeat_locations == [("育新花园东门", 2, "暴露垃圾、违规停车")]


# --- import ------------------------------------------------------------------------------------

HEADERS = ["案件编号", "案件来源", "案件类型", "问题描述", "问题点位", "所在社区", "上报人", "上报时间"]


def row(no="U1", **kw):
    values = dict(zip(HEADERS, [no, "网格巡查", "暴露垃圾", "垃圾桶满溢", "育新花园东门", "育新花园社区", "网格员张",
                                "2024-06-03 09:00"]))
    values.update(kw)
    return values


def write_csv(path: Path, rows, headers=HEADERS) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as out:
        w = csv.DictWriter(out, fieldnames=headers, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


async def count(db, table="urban_cases"):
    return await db.pool.fetchval(f"SELECT count(*) FROM {table}")


async def test_import_creates_cases_in_review_and_is_idempotent(db, tmp_path):
    path = write_csv(tmp_path / "c.csv", [row("U1"), row("U2", 案件来源="城管平台")])
    report = await import_urban_cases(db.pool, path, actor="cli", now=NOW)
    assert (report.rows, report.inserted, report.existing, report.rejected) == (2, 2, 0, 0)
    again = await import_urban_cases(db.pool, path, actor="cli", now=NOW)
    assert (again.inserted, again.existing) == (0, 2)
    rows = await db.pool.fetch("SELECT case_no, source, state, reported_at FROM urban_cases ORDER BY case_no")
    assert [(r["case_no"], r["source"], r["state"]) for r in rows] == [("U1", "grid", "review"), ("U2", "platform", "review")]
    assert rows[0]["reported_at"] == T0
    assert await count(db, "urban_case_events") == 2


async def test_import_of_xlsx(db, tmp_path):
    book = openpyxl.Workbook()
    book.active.append(HEADERS)
    book.active.append(["X1", "城管平台", "占道经营", "", "永泰庄北路", "", "", datetime(2024, 6, 3, 9)])
    book.save(tmp_path / "c.xlsx")
    report = await import_urban_cases(db.pool, tmp_path / "c.xlsx", actor="cli", now=NOW)
    assert report.inserted == 1 and report.encoding == "xlsx"


async def test_every_bad_cell_is_listed_like_the_ticket_importer_and_nothing_written(db, tmp_path):
    rows = [row("U1"), row("U2", 上报时间="坏日期", 案件来源="微博"), row("U3", 案件类型=""), row("U1"),
            row("U 5"), row("U6", 上报时间="2099-01-01 00:00")]
    path = write_csv(tmp_path / "c.csv", rows)
    with pytest.raises(ImportRejected) as err:
        await import_urban_cases(db.pool, path, actor="cli", now=NOW)
    assert sorted((e.line, e.column) for e in err.value.errors) == [
        (3, "上报时间"), (3, "案件来源"), (4, "案件类型"), (5, "案件编号"), (6, "案件编号"), (7, "上报时间")]
    reasons = {(e.line, e.column): e.reason for e in err.value.errors}
    assert "第 2 行" in reasons[(5, "案件编号")] and "不能为空" in reasons[(4, "案件类型")]
    assert "5 / 6" in str(err.value)
    assert await count(db) == 0


async def test_skip_invalid_imports_the_rest_and_writes_rejects(db, tmp_path):
    path = write_csv(tmp_path / "c.csv", [row("U1"), row("U2", 上报时间="x")])
    report = await import_urban_cases(db.pool, path, actor="cli", skip_invalid=True, now=NOW)
    assert (report.inserted, report.rejected) == (1, 1)
    with open(report.rejects_file, encoding="utf-8-sig") as f:
        rejected = list(csv.DictReader(f))
    assert [(r["案件编号"], r["行号"], r["列"]) for r in rejected] == [("U2", "3", "上报时间")]


async def test_missing_required_headers_reject_the_file(db, tmp_path):
    path = write_csv(tmp_path / "c.csv", [row()], headers=["案件编号", "问题描述"])
    with pytest.raises(FileRejected, match="案件类型") as err:
        await import_urban_cases(db.pool, path, actor="cli", now=NOW)
    assert "上报时间" in str(err.value)


@pytest.fixture
def cli_env(monkeypatch, db_dsn, tmp_path):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CALLCENTER_CONFIG", raising=False)


async def test_cli_import_urban_exit_codes(db, cli_env, tmp_path, capsys):
    run = lambda *a: asyncio.to_thread(cli.main, list(a))  # noqa: E731
    good = write_csv(tmp_path / "good.csv", [row("A1"), row("A2")])
    assert await run("import", "urban", str(good)) == 0
    assert "inserted 2" in capsys.readouterr().out
    bad = write_csv(tmp_path / "bad.csv", [row("B1", 上报时间="x"), row("B2")])
    assert await run("import", "urban", str(bad)) == 3
    err = capsys.readouterr().err
    assert "第 2 行" in err and "上报时间" in err
    assert await run("import", "urban", "--skip-invalid", str(bad)) == 0
    assert await run("import", "urban", str(tmp_path / "nope.csv")) == 2
    assert await count(db) == 3
