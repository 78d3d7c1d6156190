"""serve's supervision of its web workers: a dead one is restarted, one that keeps dying stops the service."""
from __future__ import annotations

import asyncio
import os
import sys

import pytest

from callcenter.cli.web_workers import WebWorkers, WorkersFailed


class Scripted(WebWorkers):
    """Workers that run a one-line Python program instead of `serve --web-worker`."""

    def __init__(self, program: str, **options) -> None:
        super().__init__(2, env=dict(os.environ), telephony_url="http://127.0.0.1:1", **options)
        self.program = program

    def argv(self, index: int) -> list[str]:
        return [sys.executable, "-c", self.program]


async def test_a_worker_that_keeps_dying_stops_the_service_with_a_reason():
    workers = await Scripted("raise SystemExit(3)", max_restarts=2, restart_delay=0.01).start()
    try:
        with pytest.raises(WorkersFailed, match="died 3 times.*exit code 3"):
            await asyncio.wait_for(workers.failed, 30)
        assert workers.restarts == 2
    finally:
        await workers.stop()


async def test_a_dead_worker_is_restarted_and_stop_ends_it(tmp_path):
    marker = tmp_path / "started"
    # First start: leave a mark and die; later starts: wait for stdin to close (as a real worker does).
    program = (f"import pathlib, sys; p = pathlib.Path({str(marker)!r}); first = not p.exists(); p.touch(); "
               "sys.exit(1) if first else sys.stdin.read()")
    workers = await Scripted(program, restart_delay=0.01).start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while workers.restarts < 1:
            assert loop.time() < deadline
            await asyncio.sleep(0.02)
        proc = workers.procs[1]
        await asyncio.sleep(0.5)
        assert proc.returncode is None            # the restarted one stays up
    finally:
        await workers.stop(timeout=5)
    assert proc.returncode is not None and workers.failed.cancelled()      # stopped, not failed
