"""``callcenter serve``: run the service until SIGTERM, then shut down gracefully."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from .common import async_handler, settings_from

ORDER = 15
log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the service (database, telephony, dialer, web) until stopped",
                       description="Runs every component in one asyncio process. SIGTERM or Ctrl-C stops it "
                                   "gracefully.")
    p.set_defaults(handler=run_serve)


async def wait_for_stop_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


@async_handler
async def run_serve(args: argparse.Namespace) -> int:
    from ..service import Service      # imported late: `callcenter --help` must not load the whole stack
    service = await Service(settings_from(args)).start()
    try:
        log.info("callcenter service running; SIGTERM to stop")
        await wait_for_stop_signal()
        log.info("stopping: no new calls; live calls get %.0f s to finish", service.settings.shutdown_grace)
    finally:
        await service.stop()
    return 0
