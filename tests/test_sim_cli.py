"""``callcenter sim``: usage errors, a busy port, and a real run stopped by SIGTERM."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import pytest

from callcenter.cli import main
from callcenter.telephony.ami import AmiLink, AmiLinkConfig


def test_help_exits_zero(capsys):
    assert main(["sim", "--help"]) == 0
    assert "--time-scale" in capsys.readouterr().out


@pytest.mark.parametrize("argv, text", [
    (["--time-scale", "0"], "--time-scale must be positive"),
    (["--agi", "http://x/callback"], "--agi must look like"),
    (["--ami-port", "70000"], "--ami-port must be"),
    (["--noise", "-1"], "--noise must be"),
])
def test_bad_options_are_usage_errors(capsys, argv, text):
    assert main(["sim", *argv]) == 2
    assert text in capsys.readouterr().err


def test_busy_port_is_a_failure(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["sim", "--ami-port", str(port)]) == 1
    assert "cannot listen" in capsys.readouterr().err


async def test_runs_until_sigterm():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from callcenter.cli import main; sys.exit(main(sys.argv[1:]))",
        "sim", "--ami-port", "0", "--time-scale", "0.01", stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert "AMI listening on 127.0.0.1:" in line
        port = int(line.split("127.0.0.1:")[1].split(",")[0])
        async with AmiLink(AmiLinkConfig(port=port)) as link:
            await link.wait_ready(5)
            assert (await link.send_action({"Action": "Ping"})).response.get("Ping") == "Pong"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
