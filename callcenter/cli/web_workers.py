"""``serve``'s extra web processes: started, restarted when one dies, stopped with the service.

Why separate processes and not threads: the pages are CPU work in Python
(templates, masking), so one process per core is what takes a busy office's
load.  Why restart with a limit: a worker killed by the OOM killer should come
back, but one that dies at once every time (a bad setting) must stop the
service with a clear message rather than loop forever.  Each worker reads
its stdin, which only this process holds open: when the service dies even by
SIGKILL, the pipe closes and the workers stop by themselves.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time

log = logging.getLogger(__name__)


class WorkersFailed(RuntimeError):
    """A web worker kept dying; the service should stop and say so."""


class WebWorkers:
    """Run web workers ``1 … count`` (0 is the full service itself) until :meth:`stop`."""

    def __init__(self, count: int, *, env: dict[str, str], telephony_url: str, config: str | None = None,
                 connection_table: str | None = None, max_restarts: int = 5, window: float = 60.0,
                 restart_delay: float = 1.0) -> None:
        self.count = count
        self.env = env
        self.telephony_url = telephony_url
        self.config = config
        self.connection_table = connection_table        # where the web processes count their connections
        self.max_restarts = max_restarts
        self.window = window
        self.restart_delay = restart_delay
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self.restarts = 0
        self.failed: asyncio.Future = asyncio.get_running_loop().create_future()
        self._stopping = False
        self._watchers: list[asyncio.Task] = []

    def argv(self, index: int) -> list[str]:
        config = ["--config", self.config] if self.config else []
        table = ["--connection-table", self.connection_table] if self.connection_table else []
        return [sys.executable, "-m", "callcenter", *config, "serve", "--web-worker", str(index),
                "--telephony-url", self.telephony_url, *table]

    async def start(self) -> "WebWorkers":
        for index in range(1, self.count):
            await self._spawn(index)
            self._watchers.append(asyncio.create_task(self._watch(index), name=f"web-worker-{index}"))
        return self

    async def _spawn(self, index: int) -> None:
        self.procs[index] = await asyncio.create_subprocess_exec(
            *self.argv(index), stdin=asyncio.subprocess.PIPE, env=self.env)
        log.info("web worker %d started (pid %d)", index, self.procs[index].pid)

    async def _watch(self, index: int) -> None:
        deaths: list[float] = []
        while True:
            code = await self.procs[index].wait()
            if self._stopping:
                return
            now = time.monotonic()
            deaths = [t for t in deaths if now - t < self.window] + [now]
            if len(deaths) > self.max_restarts:
                message = (f"web worker {index} died {len(deaths)} times within {self.window:.0f} s "
                           f"(last exit code {code}); stopping the service")
                log.error(message)
                if not self.failed.done():
                    self.failed.set_exception(WorkersFailed(message))
                return
            log.error("web worker %d exited with code %s; restarting it", index, code)
            await asyncio.sleep(self.restart_delay)
            if self._stopping:
                return
            await self._spawn(index)
            self.restarts += 1

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every worker, wait for them, SIGKILL whatever is left after ``timeout``."""
        self._stopping = True
        for task in self._watchers:
            task.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        live = [p for p in self.procs.values() if p.returncode is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in live)), timeout)
        except asyncio.TimeoutError:
            for proc in live:
                if proc.returncode is None:
                    log.warning("web worker pid %d did not stop in %.0f s; killing it", proc.pid, timeout)
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            await asyncio.gather(*(p.wait() for p in live))
        for proc in self.procs.values():
            if proc.stdin is not None:
                proc.stdin.close()
        if not self.failed.done():
            self.failed.cancel()


def worker_env(dsn: str, web_port: int) -> dict[str, str]:
    """The service's environment, pointed at the database it resolved (the embedded one included) and the
    port it bound (port 0 in the settings means the one it got)."""
    return dict(os.environ, CALLCENTER_DSN=dsn, CALLCENTER_WEB_PORT=str(web_port))
