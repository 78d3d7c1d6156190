"""The event loop every command runs on: uvloop by default, the standard loop on request, a clear refusal otherwise."""
from __future__ import annotations

import asyncio

import pytest

from callcenter import event_loop
from callcenter.cli import main


@pytest.mark.parametrize("setting, expected", [(None, "uvloop"), ("asyncio", "asyncio"), (" UVLOOP ", "uvloop")])
def test_the_chosen_loop_runs_the_command(monkeypatch, setting, expected):
    pytest.importorskip("uvloop")
    if setting is None:
        monkeypatch.delenv("CALLCENTER_EVENT_LOOP", raising=False)
    else:
        monkeypatch.setenv("CALLCENTER_EVENT_LOOP", setting)

    async def which() -> str:
        await asyncio.sleep(0)
        return event_loop.running_loop_name()

    assert event_loop.run(which()) == expected


def test_an_unknown_loop_is_refused_with_exit_code_2(monkeypatch, capsys):
    monkeypatch.setenv("CALLCENTER_EVENT_LOOP", "twisted")
    with pytest.raises(ValueError, match="uvloop, asyncio"):
        event_loop.loop_factory()
    assert main(["rates", "--period", "2026-11"]) == 2
    assert "CALLCENTER_EVENT_LOOP must be one of uvloop, asyncio, not 'twisted'" in capsys.readouterr().err
