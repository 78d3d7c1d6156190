"""Serving the app: ``start_web`` for ``callcenter serve`` / ``demo`` (the caller owns shutdown)."""
from __future__ import annotations

import logging

from aiohttp import web

log = logging.getLogger(__name__)


async def start_web(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Listen on ``host:port``; stop with ``await runner.cleanup()``.  Port 0 picks a free port."""
    runner = web.AppRunner(app, access_log=logging.getLogger("callcenter.web.access"))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    for address in runner.addresses:
        log.info("web admin listening on http://%s:%s/", *address[:2])
    return runner
