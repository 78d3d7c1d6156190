"""Serving the app: ``start_web`` for ``callcenter serve`` / ``demo`` (the caller owns shutdown)."""
from __future__ import annotations

import logging

from aiohttp import web

from .core.balance import Balancer

log = logging.getLogger(__name__)


async def start_web(app: web.Application, host: str, port: int, *, reuse_port: bool = False,
                    private: bool = False, balance: Balancer | None = None) -> web.AppRunner:
    """Listen on ``host:port``; stop with ``await runner.cleanup()``.  Port 0 picks a free port.

    ``reuse_port``: several processes share the port and the kernel spreads connections over them
    (SO_REUSEPORT); ``balance`` (this process's slot in their :class:`~.balance.ConnectionTable`) then
    keeps their keep-alive connections evenly spread.  ``private``: also listen on a free loopback port
    of this process alone, where the other web processes relay the pages that act on the PBX
    (:func:`private_url`).
    """
    if balance is not None:
        app.on_response_prepare.append(balance.on_response_prepare)
    runner = web.AppRunner(app, access_log=logging.getLogger("callcenter.web.access"))
    await runner.setup()
    if balance is not None:
        balance.watch(runner.server)
    sites = [web.TCPSite(runner, host, port, reuse_port=reuse_port or None)]
    if private:
        sites.append(web.TCPSite(runner, "127.0.0.1", 0))
    try:
        for site in sites:
            await site.start()
            if balance is not None and balance.port is None:       # the shared port (port 0: the one we got)
                balance.port = runner.addresses[0][1]
    except OSError:
        await runner.cleanup()
        raise
    for address in runner.addresses[:1]:
        log.info("web admin listening on http://%s:%s/", *address[:2])
    return runner


def private_url(runner: web.AppRunner) -> str:
    """The loopback address ``start_web(private=True)`` opened (started last, so listed last)."""
    host, port = runner.addresses[-1][:2]
    return f"http://{host}:{port}"
