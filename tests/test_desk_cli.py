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
