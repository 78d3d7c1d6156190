"""``callcenter serve``: run the service until SIGTERM, then shut down gracefully.

With ``CALLCENTER_WEB_WORKERS`` > 1 (default: one per core) this process runs
the whole service and web worker 0; the other web workers are processes of
their own on the same port that serve pages only (callcenter.web_worker).
They count their connections in one small table this process makes (a temp
file, removed at stop), so keep-alive connections stay evenly spread over
them (callcenter.web.core.balance).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import replace

from ..collector import settle_for_serving
from ..event_loop import running_loop_name
from .common import CliError, ExitCode, async_handler, settings_from

ORDER = 15
log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the service (database, telephony, dialer, web) until stopped",
                       description="Runs the service: one process with every component, plus "
                                   "CALLCENTER_WEB_WORKERS - 1 web-only processes on the same port "
                                   "(default: one per core). SIGTERM or Ctrl-C stops them all gracefully.")
    # Internal: how serve starts its own web workers (not for operators).
    p.add_argument("--web-worker", type=int, help=argparse.SUPPRESS)
    p.add_argument("--telephony-url", help=argparse.SUPPRESS)
    p.add_argument("--connection-table", help=argparse.SUPPRESS)
    p.set_defaults(handler=run_serve)


async def wait_for_stop_signal(*, stdin_eof: bool = False) -> None:
    """SIGTERM or SIGINT; with ``stdin_eof`` also the parent going away (its end of our stdin closes)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    fd = 0
    if stdin_eof:
        def readable() -> None:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                stop.set()
        loop.add_reader(fd, readable)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if stdin_eof:
            loop.remove_reader(fd)


@async_handler
async def run_serve(args: argparse.Namespace) -> int:
    if args.web_worker is not None:
        return await _run_web_worker(args)
    from ..service import Service, ServiceOptions  # imported late: `callcenter --help` must not load the whole stack
    from .web_workers import WebWorkers, WorkersFailed, worker_env
    settings = settings_from(args)
    count = settings.web_processes
    table = connection_table(count)
    try:
        service = await Service(settings, ServiceOptions(shared_web=count > 1, web_connections=table)).start()
    except BaseException:
        _remove(table)
        raise
    workers = None
    try:
        if count > 1:
            from ..web.runner import private_url
            workers = await WebWorkers(count, env=worker_env(service.db.dsn, service.web_port),
                                       telephony_url=private_url(service.web_runner),
                                       config=getattr(args, "config", None), connection_table=table).start()
        settle_for_serving()
        log.info("callcenter service running with %d web process(es) on the %s event loop; SIGTERM to stop", count,
                 running_loop_name())
        waits = [asyncio.ensure_future(wait_for_stop_signal())]
        if workers is not None:
            waits.append(workers.failed)
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        waits[0].cancel()
        if workers is not None and workers.failed in done:
            try:
                workers.failed.result()
            except WorkersFailed as exc:
                raise CliError(str(exc), ExitCode.FAILURE) from None
        log.info("stopping: no new calls; live calls get %.0f s to finish", service.settings.shutdown_grace)
    finally:
        if workers is not None:
            await workers.stop()
        await service.stop()
        _remove(table)
    return 0


def connection_table(count: int) -> str | None:
    """A fresh table where ``count`` web processes count their connections (callcenter.web.core.balance)."""
    if count < 2:
        return None
    import tempfile

    from ..web.core.balance import ConnectionTable
    fd, path = tempfile.mkstemp(prefix="callcenter-web-", suffix=".connections")     # mode 0600
    os.close(fd)
    ConnectionTable.create(path, count).close()
    return path


def _remove(path: str | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            os.unlink(path)


async def _run_web_worker(args: argparse.Namespace) -> int:
    from ..web_worker import serve_web_only
    if not args.telephony_url:
        raise CliError("--web-worker needs --telephony-url", ExitCode.USAGE)
    settings = settings_from(args)
    settings = replace(settings, db_pool_min=1)
    await serve_web_only(settings, index=args.web_worker, telephony_url=args.telephony_url,
                         stopped=wait_for_stop_signal(stdin_eof=True), connection_table=args.connection_table)
    return 0
