"""A web-only process: the same pages on the same port, with no PBX, dialer or schedulers of its own.

``callcenter serve`` starts ``CALLCENTER_WEB_WORKERS - 1`` of these next to
the full service (see callcenter.cli.web_workers).  Why this is enough to
stay right: sessions, CSRF tokens and every figure live in PostgreSQL; live
pushes (screen-pops, the wall) arrive over LISTEN/NOTIFY through a
:class:`~callcenter.hotline.hub.SharedHub`; pages that act on the PBX are
relayed to the process that holds the AMI link (callcenter.web.core.forward).
Page caches are per process with TTLs of seconds (docs/scale.md).
"""
from __future__ import annotations

import logging
from typing import Awaitable

from .asr.factory import speech_status
from .collector import settle_for_serving
from .config import Settings
from .db.database import connect
from .db.live_bus import LiveBus
from .hotline.hub import SharedHub
from .hotline.service import HotlineService
from .web.app import create_app
from .web.core.balance import Balancer, ConnectionTable
from .web.runner import start_web

log = logging.getLogger(__name__)


async def serve_web_only(settings: Settings, *, index: int, telephony_url: str, stopped: Awaitable,
                         connection_table: str | None = None) -> None:
    """Serve pages on ``settings.web_port`` (shared, SO_REUSEPORT) until ``stopped`` completes.

    ``connection_table``: where the web processes count their connections, so they stay evenly spread
    (callcenter.web.core.balance); this process counts in slot ``index``.
    """
    db = await connect(settings, apply_migrations=False)      # the full service migrated before starting us
    bus = runner = None
    try:
        bus = await LiveBus(db.dsn, db.pool).start()
        hotline = HotlineService.web_side(db.pool, SharedHub(bus))
        app = create_app(db, settings, extras={"asr": speech_status(settings), "hotline": hotline,
                                               "worker": index, "telephony_url": telephony_url})
        balance = Balancer(ConnectionTable(connection_table), index) if connection_table else None
        runner = await start_web(app, settings.web_host, settings.web_port, reuse_port=True, balance=balance)
        settle_for_serving()
        log.info("web worker %d serving (pages that act on the PBX go to %s)", index, telephony_url)
        await stopped
    finally:
        if runner is not None:
            await runner.cleanup()
        if bus is not None:
            await bus.close()
        await db.close()
