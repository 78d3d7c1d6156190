"""Answer labels are the rule set's data: the city's 基本解决 / 比较满意 import, an unknown label does not."""
from __future__ import annotations

from dataclasses import replace

import pytest

from callcenter.scoring.rules import DEFAULT_RULE_SET, RuleSetError, validate

from .cli_runner import cli
from .test_import import row, write_csv


@pytest.fixture
def env(db_dsn, monkeypatch, tmp_path):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))


def test_the_default_rule_set_accepts_the_city_labels_and_names_the_choices():
    assert DEFAULT_RULE_SET.answer("solved", "基本解决") == "部分解决"
    assert DEFAULT_RULE_SET.answer("satisfied", "比较满意") == "基本满意"
    assert DEFAULT_RULE_SET.answer("contacted", "已联系") == "是"
    assert DEFAULT_RULE_SET.answer("solved", " 已解决 ") == "已解决"
    with pytest.raises(RuleSetError, match="无效取值 “还行”.*比较满意"):
        DEFAULT_RULE_SET.answer("satisfied", "还行")


def test_a_label_must_point_at_an_answer_the_rule_set_credits():
    with pytest.raises(RuleSetError, match="solved:基本解决=差不多"):
        validate(replace(DEFAULT_RULE_SET, answer_labels=(("solved", "基本解决", "差不多"),)))


async def test_import_accepts_basic_labels_and_stores_the_answer_they_are(db, env, tmp_path, capsys):
    path = write_csv(tmp_path / "t.csv", [
        row("L1", 工单状态="已回访", 是否有效回访="是", 是否联系="已联系", 是否解决="基本解决", 是否满意="比较满意"),
        row("L2", 工单状态="已回访", 是否有效回访="是", 是否联系="是", 是否解决="已解决", 是否满意="非常满意")])
    code, _, err = await cli(capsys, "import", "tickets", str(path))
    assert code == 0, err
    stored = {r["ticket_no"]: tuple(r)[1:] for r in await db.pool.fetch(
        "SELECT ticket_no, city_contacted, city_solved, city_satisfied FROM tickets ORDER BY 1")}
    assert stored == {"L1": ("是", "部分解决", "基本满意"), "L2": ("是", "已解决", "满意")}


async def test_an_unknown_label_is_refused_with_row_and_column(db, env, tmp_path, capsys):
    path = write_csv(tmp_path / "t.csv", [row("L1"), row("L2", 是否解决="差不多")])
    code, _, err = await cli(capsys, "import", "tickets", str(path))
    assert code == 3
    assert "3" in err and "是否解决" in err and "差不多" in err


async def test_a_rule_set_can_credit_a_label_differently_from_its_date(db, env, tmp_path, capsys):
    code, _, err = await cli(capsys, "ruleset", "add", "--name", "基本解决计解决", "--effective-from", "2024-05-01",
                             "--k", "0.9", "--weights", "10/50/40", "--label", "solved:基本解决=已解决")
    assert code == 0, err
    code, out, _ = await cli(capsys, "ruleset", "list")
    assert "是否解决 基本解决=已解决" in out
    early, late = (row(no, 来电时间=at, 派单时间="", 是否解决="基本解决")
                   for no, at in (("E1", "2024-04-30 10:00"), ("E2", "2024-05-02 10:00")))
    code, _, err = await cli(capsys, "import", "tickets", str(write_csv(tmp_path / "t.csv", [early, late])))
    assert code == 0, err
    assert dict(await db.pool.fetch("SELECT ticket_no, city_solved FROM tickets")) == {"E1": "部分解决", "E2": "已解决"}
    code, _, err = await cli(capsys, "ruleset", "add", "--name", "bad", "--effective-from", "2024-06-01",
                             "--k", "0.9", "--weights", "10/50/40", "--label", "solved基本解决")
    assert code == 2 and "QUESTION:LABEL=ANSWER" in err
