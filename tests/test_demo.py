"""`callcenter demo` end to end, as the README promises: import, office work, campaign, summary.

A small sample file keeps it quick; everything else is the real thing (the
service, the simulator over TCP, the demo's own database on the server).
"""
from __future__ import annotations

import asyncio

import asyncpg

from callcenter.cli import main
from callcenter.cli.demo import DEMO_DATABASE
from callcenter.db.embedded import with_database
from callcenter.netutil import free_port
from callcenter.transfer.sample import write_sample


def test_demo_calls_every_closed_ticket_back_and_prints_the_rates(pg_server, tmp_path, monkeypatch, capsys):
    sample = tmp_path / "sample.csv"
    rows = write_sample(sample, 40)
    monkeypatch.setenv("CALLCENTER_DSN", pg_server)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CALLCENTER_CONFIG", raising=False)

    monkeypatch.setenv("CALLCENTER_WEB_PORT", str(free_port()))
    code = main(["demo", "--sample", str(sample), "--time-scale", "0.005", "--timeout", "120"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert f"导入样例工单 {rows} 件" in out
    # The sign-in comes first, so the campaign can be watched live in the browser.
    assert "密码 password" in out and out.index("密码 password") < out.index(f"导入样例工单 {rows} 件")
    assert "三率 — 按科室" in out and "响应率" in out

    async def ledger() -> tuple[int, int, int]:
        conn = await asyncpg.connect(with_database(pg_server, DEMO_DATABASE))
        try:
            # Anonymous callers (no number) cannot be called back; everyone else must have been.
            return (await conn.fetchval("SELECT count(*) FROM tickets WHERE status = 'awaiting_callback' "
                                        "AND caller_phone <> ''"),
                    await conn.fetchval("SELECT count(*) FROM tickets WHERE status IN ('called_back', "
                                        "'callback_failed')"),
                    await conn.fetchval("SELECT count(*) FROM callback_answers"))
        finally:
            await conn.close()

    waiting, called, answers = asyncio.run(ledger())
    assert waiting == 0 and called > 0 and answers > 0
