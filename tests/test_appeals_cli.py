"""``callcenter appeals candidates|rules``: cron-able list generation and rules from TOML, with exit codes."""
from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta, timezone

import pytest

from callcenter import cli
from callcenter.db import appeals as repo

from . import scoring_factories as f

BJ = timezone(timedelta(hours=8))


@pytest.fixture
def cli_env(monkeypatch, db_dsn, tmp_path):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CALLCENTER_CONFIG", raising=False)


async def run(*argv):
    return await asyncio.to_thread(cli.main, list(argv))


async def test_rules_from_toml_then_the_daily_list(db, cli_env, tmp_path, capsys):
    good = tmp_path / "rules.toml"
    good.write_text('[appeals]\nkeywords = ["退还定金"]\nrepeat_min_tickets = 4\n', encoding="utf-8")
    assert await run("appeals", "rules", "--set", str(good)) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["keywords"] == ["退还定金"] and shown["repeat_min_tickets"] == 4
    bad = tmp_path / "bad.toml"
    bad.write_text('[appeals]\nrepeat_min_tickets = -1\nfoo = 1\n', encoding="utf-8")
    assert await run("appeals", "rules", "--set", str(bad)) == 3
    err = capsys.readouterr().err
    assert "repeat_min_tickets" in err and "foo" in err
    assert await run("appeals", "rules", "--set", str(tmp_path / "none.toml")) == 2
    async with db.pool.acquire() as conn:
        assert (await repo.load_rules(conn)).repeat_min_tickets == 4          # the bad file changed nothing
        await f.ticket(conn, called_at=datetime(2024, 5, 19, 15, tzinfo=BJ), title="要求退还定金")
    assert await run("appeals", "candidates", "--day", "2024-05-20") == 0
    assert "新增候选 1 条" in capsys.readouterr().out
    assert await run("appeals", "candidates", "--day", "2024-05-20") == 0
    assert "新增候选 0 条, 共 1 条" in capsys.readouterr().out
    assert await run("appeals", "candidates", "--day", "20-05-2024") == 2
    async with db.pool.acquire() as conn:
        assert len(await repo.list_candidates(conn, date(2024, 5, 20))) == 1
