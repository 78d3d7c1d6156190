"""``callcenter desk rules list|set``: view and change a campaign's escalation rules, with clear refusals."""
from __future__ import annotations

import json

import asyncpg
import pytest

from callcenter.db import campaigns as camp
from callcenter.db import desk

from .cli_runner import cli


@pytest.fixture
async def campaign(db_dsn, monkeypatch, tmp_path) -> int:
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    conn = await asyncpg.connect(db_dsn)
    try:
        await camp.upsert_trunk(conn, "sim", "Local/{number}@citizen-sim", 4, 10)
        return await camp.create_campaign(conn, camp.CampaignSpec(name="五月回访", trunk="sim"))
    finally:
        await conn.close()


async def _stored(db_dsn, campaign_id: int):
    conn = await asyncpg.connect(db_dsn)
    try:
        return (await desk.campaign_rules_of(conn, campaign_id))[2], await conn.fetch(
            "SELECT actor, detail FROM audit_log WHERE action = 'desk_rules' ORDER BY id")
    finally:
        await conn.close()


async def test_list_shows_the_defaults_and_set_changes_only_what_is_given(campaign, db_dsn, capsys):
    code, out, err = await cli(capsys, "desk", "rules", "list")
    assert code == 0, err
    assert "五月回访" in out and "机器人呼叫满 3 次未接通" in out and "不满意" in out

    code, out, err = await cli(capsys, "desk", "rules", "set", "五月回访", "--unreached-after", "5",
                               "--no-low-confidence", "--no-partial")
    assert code == 0, err
    rules, audit = await _stored(db_dsn, campaign)
    assert (rules.enabled, rules.unreached_after, rules.partial, rules.refused, rules.dissatisfied,
            rules.low_confidence) == (True, 5, False, True, True, False)
    assert "满 5 次" in out and "置信度低" not in out
    assert len(audit) == 1 and audit[0]["actor"].startswith("cli")
    assert json.loads(audit[0]["detail"])["unreached_after"] == 5

    code, out, err = await cli(capsys, "desk", "rules", "set", str(campaign), "--never-unreached", "--partial")
    assert code == 0, err
    rules, _ = await _stored(db_dsn, campaign)
    assert (rules.unreached_after, rules.partial, rules.low_confidence) == (None, True, False)
    assert "未接通不转" in out

    code, out, err = await cli(capsys, "desk", "rules", "set", "五月回访", "--disable")
    assert code == 0 and "不转人工" in out
    assert (await _stored(db_dsn, campaign))[0].enabled is False
    code, out, _ = await cli(capsys, "desk", "rules", "list")
    assert "不转人工" in out


@pytest.mark.parametrize("argv, code, words", [
    (["五月回访", "--unreached-after", "0"], 2, "between 1 and 10"),
    (["五月回访", "--unreached-after", "11"], 2, "between 1 and 10"),
    (["五月回访", "--unreached-after", "三"], 2, "invalid int value"),
    (["五月回访"], 2, "nothing to change"),
    (["五月回访", "--enable", "--disable"], 2, "not allowed with"),
    (["五月回访", "--unreached-after", "2", "--never-unreached"], 2, "not allowed with"),
    (["没有这个活动", "--disable"], 3, "不存在"),
    (["999", "--disable"], 3, "不存在"),
])
async def test_bad_input_is_refused_with_its_exit_code_and_nothing_changes(campaign, db_dsn, capsys, argv, code,
                                                                            words):
    got, out, err = await cli(capsys, "desk", "rules", "set", *argv)
    assert got == code and words in err, (got, out, err)
    rules, audit = await _stored(db_dsn, campaign)
    assert rules == desk.EscalationRules() and audit == []


async def test_a_new_form_version_grades_calls_from_its_day_and_leaves_older_calls_on_the_old_form(
        db, db_dsn, monkeypatch, capsys, tmp_path):
    from datetime import datetime

    from callcenter.db import quality
    from callcenter.desk.quality import GradeError
    from callcenter.ledger.timezone import OFFICE_TZ

    from .test_desk_quality import SCORES, _desk_call
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    for bad, words in ((["--item", "script:读题"], "key:名称:满分"), (["--item", "comment:评语:10"], "不能是"),
                       (["--item", "a:甲:0"], "1–100"), (["--item", "a:甲:5", "--item", "a:乙:5"], "重复"),
                       (["--item", "Script:读题:10"], "小写")):
        code, _, err = await cli(capsys, "desk", "form", "add", "--effective-from", "2024-06-01", *bad)
        assert code == 2 and words in err, (bad, code, err)
    code, _, err = await cli(capsys, "desk", "form", "add", "--effective-from", "2024-13-01", "--item", "a:甲:5")
    assert code == 2 and "YYYY-MM-DD" in err
    code, out, err = await cli(capsys, "desk", "form", "add", "--effective-from", "2024-06-01",
                               "--item", "script:按脚本准确读题:50", "--item", "courtesy:礼貌用语:50")
    assert code == 0 and "version 2" in out and "满分 100" in out, err
    code, out, _ = await cli(capsys, "desk", "form", "list")
    assert "回访质检 第 1 版" in out and "2024-06-01  回访质检 第 2 版" in out and "courtesy" in out

    async with db.pool.acquire() as conn:
        may = str(await _desk_call(conn, "a", "F1", start=datetime(2024, 5, 31, 23, 0, tzinfo=OFFICE_TZ), talk_s=60))
        june = str(await _desk_call(conn, "a", "F2", start=datetime(2024, 6, 1, 9, 0, tzinfo=OFFICE_TZ), talk_s=60))
        assert await quality.save_grade(conn, "desk", may, SCORES, by="王主任") == 1            # the old form: 90
        with pytest.raises(GradeError, match="按脚本准确读题"):
            await quality.save_grade(conn, "desk", june, {"script": "51", "courtesy": "50"}, by="王主任")
        await quality.save_grade(conn, "desk", june, {"script": "45", "courtesy": "50"}, by="王主任")
        grades = {r["call_ref"]: (r["version"], r["total"]) for r in await conn.fetch(
            "SELECT g.call_ref, f.version, g.total FROM qa_grades g JOIN qa_forms f ON f.id = g.form_id")}
        audited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'qa_form'")
    assert grades == {may: (1, 90), june: (2, 95)} and audited == 1
