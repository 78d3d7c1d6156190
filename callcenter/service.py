"""The whole service in one asyncio process: what ``callcenter serve`` and ``callcenter demo`` run.

Start order follows what each piece needs before it may act: the ledger
first; speech and the FastAGI server before any call can be answered; the
AMI link; the dialer (which reconciles calls left live by a previous run
before it dials anything); the hotline's live queue state; the web app last.  Stopping runs the other way,
and gently: stop claiming, let live calls finish within the grace period,
then close.  Anything cut off is reconciled on the next start, never lost.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from .alerts.delivery import DeliveryOptions, Sender
from .alerts.engine import AlertEngine, AlertOptions
from .asr.factory import build_recognizer, speech_status
from .campaigns.dialer import Dialer, DialerOptions
from .config import Settings
from .db.database import Database, connect
from .db.live_bus import LiveBus
from .hotline.hub import Hub, SharedHub
from .hotline.service import HotlineService
from .hotspots.warnings import spike_source
from .intake.inbox import InboxWatcher
from .reports.schedule import run_schedule
from .telephony.agi import AgiServer
from .telephony.agi_service import callback_agi_server
from .telephony.ami import AmiLink, AmiLinkConfig
from .telephony.pbx import AmiPbx

log = logging.getLogger(__name__)


@dataclass
class ServiceOptions:
    """What differs between ``serve`` (defaults), the demo and tests."""
    database: str | None = None               # a database of its own on the same server (the demo's)
    web: bool = True
    hotline: bool = True                      # the counseling queue (心理疏导专线) on the same Asterisk
    housekeeping: bool = True                 # the daily retention purge of old recordings and transcripts
    dialer: DialerOptions | None = None       # default: instance name from settings
    intake: bool = True                       # watch the inbox folder for the city's ticket files
    intake_poll: float = 5.0                  # seconds between inbox looks (a file must hold still that long)
    alerts: AlertOptions | None = field(default_factory=AlertOptions)    # None: no alert pass, no sending
    delivery: DeliveryOptions = field(default_factory=DeliveryOptions)
    reports: bool = True                      # the daily report at 08:00 and the weekly on Monday
    qa_sample: bool = True                    # 质检: draw last week's random sample of agents' calls, hourly
    ami: dict[str, Any] = field(default_factory=dict)    # AmiLinkConfig overrides (e.g. faster pings in tests)
    shared_web: bool = False                  # other web processes share the port (serve's CALLCENTER_WEB_WORKERS)
    web_connections: str | None = None        # with shared_web: their connection table (callcenter.web.core.balance)
    key_settle_s: float | None = None         # the IVR's pause after an answering key (None: runner.KEY_SETTLE_S)


class Service:
    """Owns every component; ``start()`` then ``stop()`` (or ``async with``)."""

    def __init__(self, settings: Settings, options: ServiceOptions | None = None) -> None:
        self.settings = settings
        self.options = options or ServiceOptions()
        self.db: Database | None = None
        self.recognizer = None
        self.agi: AgiServer | None = None
        self.ami: AmiLink | None = None
        self.dialer: Dialer | None = None
        self.hotline: HotlineService | None = None
        self.web_runner: web.AppRunner | None = None
        self.live_bus: LiveBus | None = None      # live pushes to the other web processes (shared_web only)
        self._dialer_task: asyncio.Task | None = None
        self._housekeeping: asyncio.Task | None = None
        self._background: list[asyncio.Task] = []      # intake, alert pass, alert sender

    @property
    def web_port(self) -> int | None:
        if self.web_runner is None or not self.web_runner.addresses:
            return None
        return self.web_runner.addresses[0][1]

    async def start(self) -> "Service":
        try:
            await self._start()
        except BaseException:
            await self.stop(grace=0)
            raise
        return self

    async def _start(self) -> None:
        settings = self.settings
        self.db = await connect(settings, database=self.options.database)
        self.recognizer = build_recognizer(settings)
        await self.recognizer.start()
        self.agi = callback_agi_server(settings, self.db.pool, recognizer=self.recognizer,
                                       on_verdict=self._verdict_given, key_settle_s=self.options.key_settle_s)
        await self.agi.start()
        if self.agi.port != settings.agi_port:      # port 0 asked for a free one: dial plans must use it
            self.settings = settings = replace(settings, agi_port=self.agi.port)
        self.ami = AmiLink(AmiLinkConfig.from_settings(settings, **self.options.ami))
        await self.ami.start()
        options = self.options.dialer or DialerOptions(instance=settings.instance_name)
        self.dialer = Dialer(self.db.pool, AmiPbx(self.ami), options,
                             # as many as the main pool: under a busy campaign each write waits its turn on
                             # the event loop, and a call's end must not wait for a free connection too
                             calls_pool=await self.db.side_pool(settings.db_pool_min, settings.db_pool_max,
                                                                durable_commits=False))
        self.dialer.verdicts_in_process = True        # this process's IVR tells it (see _verdict_given)
        self._dialer_task = asyncio.create_task(self.dialer.run(), name="dialer")
        self._dialer_task.add_done_callback(_log_crash)
        hub = Hub()
        if self.options.shared_web:
            self.live_bus = await LiveBus(self.db.dsn, self.db.pool).start()
            hub = SharedHub(self.live_bus)
        if self.options.hotline:
            self.hotline = HotlineService(recordings_dir=settings.recordings,
                                          interface_template=settings.agent_interface,
                                          asr=getattr(self.recognizer, "pool", None), hub=hub)
            await self.hotline.start(self.ami, self.db.pool, settings)
        if self.options.housekeeping:
            self._housekeeping = asyncio.create_task(self._purge_daily(), name="retention")
        self._start_background()
        if self.options.web:
            from .web.app import create_app
            from .web.runner import start_web
            extras = {"ami": self.ami, "asr": speech_status(settings), "dialer": self.dialer}
            if self.hotline is not None:
                extras["hotline"] = self.hotline
            shared = self.options.shared_web
            if shared:
                extras["worker"] = 0
            app = create_app(self.db, settings, extras=extras)
            balance = None
            if shared and self.options.web_connections:
                from .web.core.balance import Balancer, ConnectionTable
                balance = Balancer(ConnectionTable(self.options.web_connections), 0)
            self.web_runner = await start_web(app, settings.web_host, settings.web_port, reuse_port=shared,
                                              private=shared, balance=balance)
        log.info("service %s started (AGI :%s, AMI %s:%s)", settings.instance_name, self.agi.port,
                 settings.ami_host, settings.ami_port)

    def _verdict_given(self, attempt_id, outcome: str) -> None:
        """The IVR has its verdict on a call: the dialer following that call finishes it now instead of polling."""
        if self.dialer is not None:
            self.dialer.verdict_given(attempt_id, outcome)

    def _start_background(self) -> None:
        """Intake, alerts and scheduled reports: tasks of their own, so none can hold up a call."""
        options, pool = self.options, self.db.pool
        if options.intake:
            watcher = InboxWatcher(pool, self.settings.inbox, poll=options.intake_poll)
            self._background.append(asyncio.create_task(watcher.run(), name="intake"))
        if options.alerts is not None:
            engine = AlertEngine(pool, replace(options.alerts, email=bool(self.settings.smtp_host)),
                                 sources=[spike_source])
            sender = Sender(pool, smtp_host=self.settings.smtp_host, smtp_port=self.settings.smtp_port,
                            smtp_from=self.settings.smtp_from, options=options.delivery)
            self._background += [asyncio.create_task(engine.run(), name="alerts"),
                                 asyncio.create_task(sender.run(), name="alert-sender")]
        if options.reports:
            self._background.append(asyncio.create_task(
                run_schedule(pool, self.settings.home / "reports"), name="reports"))
        if options.qa_sample:
            self._background.append(asyncio.create_task(self._sample_weekly(), name="qa-sample"))
        for task in self._background:
            task.add_done_callback(_log_crash)

    async def _sample_weekly(self, tick: float = 3600.0) -> None:
        """质检: offer last week's sample (CALLCENTER_QA_SAMPLE_RATE) without waiting for someone to open /desk/qa."""
        from datetime import datetime, timezone

        from .db.quality import draw_week
        from .desk.quality import last_finished_week
        while True:
            await asyncio.sleep(tick)
            try:
                async with self.db.pool.acquire() as conn:
                    week = last_finished_week(datetime.now(timezone.utc))
                    added = await draw_week(conn, week, self.settings.qa_sample_rate)
                if added:
                    log.info("质检: %s calls of the week of %s offered for grading", added, week)
            except Exception:                 # logged and tried again next hour
                log.exception("drawing the weekly 质检 sample failed")

    async def _purge_daily(self) -> None:
        """Retention: an hour after start, then every day (several instances purging is safe: it is idempotent)."""
        from datetime import datetime, timezone

        from .db.retention import purge_once
        await asyncio.sleep(3600)
        while True:
            try:
                report = await purge_once(self.db.pool, self.settings, datetime.now(timezone.utc))
                log.info("retention purge: %s", report)
            except Exception:                 # logged and retried tomorrow; never takes the service down
                log.exception("retention purge failed")
            await asyncio.sleep(24 * 3600)

    async def stop(self, grace: float | None = None) -> None:
        """Stop dialing, give live calls ``grace`` seconds (default from settings), then close everything."""
        grace = self.settings.shutdown_grace if grace is None else grace
        if self.dialer is not None and self._dialer_task is not None:
            await self.dialer.stop(grace)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._dialer_task, 5.0)
        for task in [self._housekeeping, *self._background]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in [self._housekeeping, *self._background] if t), return_exceptions=True)
        self._background = []
        if self.web_runner is not None:
            await self.web_runner.cleanup()
        if self.hotline is not None:
            await self.hotline.stop()
        if self.live_bus is not None:
            await self.live_bus.close()
        if self.agi is not None:
            await self.agi.close(grace_s=min(grace, 5.0))
        if self.ami is not None:
            await self.ami.close()
        if self.recognizer is not None:
            await self.recognizer.close()
        if self.db is not None:
            await self.db.close()
        self.web_runner = self.agi = self.ami = self.dialer = self.hotline = self.live_bus = self.db = None
        self._dialer_task = self._housekeeping = None

    async def __aenter__(self) -> "Service":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()


def _log_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped unexpectedly", task.get_name(), exc_info=task.exception())
