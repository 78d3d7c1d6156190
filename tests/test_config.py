"""Settings: file + environment, every mistake reported at once."""
from __future__ import annotations


import pytest

from callcenter.cli import main
from callcenter.config import ConfigError, load_settings


def test_defaults_need_no_file_and_use_the_embedded_database():
    s = load_settings(environ={})
    assert s.dsn is None and s.ami_port == 5038 and s.ami_user == "callcenter" and s.agi_port == 4573
    assert s.pgdata == s.home / "pgdata"


def test_environment_overrides_file(tmp_path):
    cfg = tmp_path / "cc.toml"
    cfg.write_text('web_port = 9000\n[ami]\nhost = "10.0.0.5"\nport = 5039\n', encoding="utf-8")
    s = load_settings(cfg, environ={"CALLCENTER_AMI_PORT": "6000", "CALLCENTER_HOME": str(tmp_path)})
    assert (s.ami_host, s.ami_port, s.web_port, s.home) == ("10.0.0.5", 6000, 9000, tmp_path)


def test_every_problem_is_reported_at_once(tmp_path):
    cfg = tmp_path / "cc.toml"
    cfg.write_text('ami_port = "abc"\nweb_port = 70000\nnonsense = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, environ={"CALLCENTER_AGI_PORT": "-1"})
    text = str(err.value)
    assert len(err.value.problems) == 4
    for needle in ("ami_port", "web_port", "nonsense", "CALLCENTER_AGI_PORT"):
        assert needle in text


def test_bad_toml_and_missing_file_are_clear(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("ami_port = = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="TOML"):
        load_settings(bad, environ={})
    with pytest.raises(ConfigError, match="不存在"):
        load_settings(tmp_path / "none.toml", environ={})


def test_config_check_command_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CALLCENTER_CONFIG", raising=False)
    good = tmp_path / "good.toml"
    good.write_text("ami_secret = 's3cret'\n", encoding="utf-8")
    assert main(["--config", str(good), "config", "check"]) == 0
    out = capsys.readouterr().out
    assert "configuration OK" in out and "s3cret" not in out
    bad = tmp_path / "bad.toml"
    bad.write_text("ami_port = 0\n", encoding="utf-8")
    assert main(["--config", str(bad), "config", "check"]) == 2
    assert "ami_port" in capsys.readouterr().err


def test_agent_interface_comes_from_the_environment_and_must_name_the_user():
    assert load_settings(environ={}).agent_interface == "PJSIP/{username}"
    local = load_settings(environ={"CALLCENTER_AGENT_INTERFACE": "Local/{username}@agents"})
    assert local.agent_interface == "Local/{username}@agents"
    for bad in ("PJSIP/agent1", "Local/{user}@agents", "{username}/{username}"):
        with pytest.raises(ConfigError) as err:
            load_settings(environ={"CALLCENTER_AGENT_INTERFACE": bad})
        assert "CALLCENTER_AGENT_INTERFACE" in str(err.value)
