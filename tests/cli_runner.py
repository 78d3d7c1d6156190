"""Run the ``callcenter`` command in a test, off the event loop, and capture what it printed."""
from __future__ import annotations

import asyncio

from callcenter.cli import main


async def cli(capsys, *argv) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``callcenter *argv``."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err
