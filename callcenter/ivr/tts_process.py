"""Prompt synthesis in a process of its own, so a call-handling process never starts programs.

Why: a ticket's title is new on almost every answered call, and each one means
starting espeak-ng and sox.  Started from the service, that cost about 2 ms of
the service's CPU per title (subprocess bookkeeping, a worker thread fighting
the event loop for the GIL) — a third of all it spent per call in the 10k-call
bench (bench/RESULTS.md).  Here a small process started once does the starting;
the service only sends it (job id, text, target path) over a pipe and is told
when the file is in place.

Messages (pickled tuples over a multiprocessing Pipe):
  service → worker  ("render", job_id, text, target)
  worker → service  ("done", job_id, None) | ("done", job_id, "why it failed")

A worker that dies fails the jobs in flight (the prompt part is skipped, as
when espeak-ng is missing) and a fresh one is started for the next job.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)


class SynthesisFailed(RuntimeError):
    """The worker could not render the text (or died trying)."""


def serve(conn: Any, render: Callable[[str, Path], None], concurrency: int) -> None:
    """Worker entry point: render jobs ``concurrency`` at a time until the pipe closes (the service is gone)."""
    sending = threading.Lock()

    def run(job_id: int, text: str, target: str) -> None:
        try:
            render(text, Path(target))
            outcome = None
        except Exception as exc:           # told to the service, which logs it and skips the prompt part
            outcome = f"{type(exc).__name__}: {exc}"
        with sending:
            try:
                conn.send(("done", job_id, outcome))
            except (OSError, EOFError):
                pass                       # the service went away; nothing to tell

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="tts") as pool:
        while True:
            try:
                _, job_id, text, target = conn.recv()
            except (EOFError, OSError):
                return
            pool.submit(run, job_id, text, target)


class SynthesisProcess:
    """The service's side: ``await render(text, target)`` runs ``render_function`` in the worker process.

    ``render_function`` must be importable by name (the worker is spawned, not
    forked, so it inherits no event loop or threads from the service).
    """

    def __init__(self, render_function: Callable[[str, Path], None], *, concurrency: int = 4):
        self.render_function = render_function
        self.concurrency = concurrency
        self._context = multiprocessing.get_context("spawn")
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Any = None
        self._pending: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self.started = 0                   # worker processes started so far (1 unless one died)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the worker now (it takes a moment to boot), rather than with the first title."""
        if self._conn is None:
            self._start()

    async def render(self, text: str, target: Path) -> None:
        """Render ``text`` into ``target``; SynthesisFailed if the worker could not."""
        if self._conn is None:
            self._start()
        job_id = next(self._ids)
        done = asyncio.get_running_loop().create_future()
        self._pending[job_id] = done
        try:
            self._conn.send(("render", job_id, text, str(target)))
        except (OSError, EOFError) as exc:
            self._pending.pop(job_id, None)
            self._stop("its pipe is closed")
            raise SynthesisFailed(f"the synthesis worker is gone: {exc}") from exc
        try:
            failure = await done
        finally:
            self._pending.pop(job_id, None)
        if failure is not None:
            raise SynthesisFailed(failure)

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=serve, args=(child, self.render_function, self.concurrency),
                                              name="callcenter-tts", daemon=True)
        self._process.start()
        child.close()                      # so the worker's death shows as EOF here
        self._conn = parent
        self.started += 1
        asyncio.get_running_loop().add_reader(parent.fileno(), self._on_readable)
        log.info("speech synthesis worker started (pid %s)", self._process.pid)

    def _on_readable(self) -> None:
        try:
            while self._conn is not None and self._conn.poll():
                _, job_id, failure = self._conn.recv()
                waiting = self._pending.get(job_id)
                if waiting is not None and not waiting.done():
                    waiting.set_result(failure)
        except (EOFError, OSError):
            self._stop("it exited")

    def _stop(self, why: str) -> multiprocessing.process.BaseProcess | None:
        """Forget the worker and close its pipe (it exits at EOF); every job in flight fails now rather than hang."""
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is not None:
            asyncio.get_running_loop().remove_reader(conn.fileno())
            conn.close()
        if process is not None and why != "closed":
            log.error("speech synthesis worker %s stopped (%s); a new one starts with the next title",
                      process.pid, why)
            if process.is_alive():
                process.kill()
            process.join(5)                # reap it; a dead or killed process goes in milliseconds
        for job in self._pending.values():
            if not job.done():
                job.set_result(f"the synthesis worker stopped ({why})")
        self._pending.clear()
        return process

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop the worker: it finishes the files it is writing (no half-written temp files), then exits."""
        process = self._stop("closed")
        if process is None:
            return
        await asyncio.to_thread(process.join, grace_s)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join, 5)
