"""A pool of recognition worker processes that survives its workers dying.

Why not ``concurrent.futures.ProcessPoolExecutor``: one dead worker breaks
that pool for good (BrokenProcessPool) and fails every job in flight.  Here
each worker has its own pipe; a worker that dies mid-job (a crash in vosk's
C++, the memory cap, a kill) is replaced by a fresh one, the job is retried
once, and if it kills that worker too the caller gets :class:`WorkerCrashed`
naming the file — a job is never silently lost.  Pipes are watched with
``loop.add_reader`` so the event loop never blocks on a worker.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import worker as worker_module

log = logging.getLogger(__name__)

#: Tries per job: the first, and one retry on a fresh worker.
ATTEMPTS = 2


#: Seconds a job may take per second of audio, on top of ``job_timeout``; real decoding runs at
#: well under 1 s per audio second, so only a hung worker (e.g. one that hit its memory cap) gets here.
TIMEOUT_PER_AUDIO_SECOND = 3.0


class PoolError(RuntimeError):
    """The pool cannot serve: workers would not start, or it is closed."""


class WorkerCrashed(PoolError):
    """A job killed its worker on every try; the audio is kept for a person."""


class JobFailed(ValueError):
    """The worker refused the job's input (unreadable audio); retrying would not help."""


@dataclass(frozen=True)
class Job:
    wav_path: str
    phrases: tuple[str, ...] | None        # grammar phrases; None = free-form only
    free_form: bool = True                 # also run free-form transcription for the supervisor


@dataclass
class WorkerInfo:
    pid: int
    load_seconds: float
    rss_mb: float
    vm_peak_mb: float = 0.0              # address space: what the memory cap (RLIMIT_AS) limits
    jobs: int = 0


@dataclass
class PoolStats:
    model_loads: int = 0
    restarts: int = 0
    retried_jobs: int = 0
    lost_jobs: int = 0                      # reported to the caller as WorkerCrashed (never silently)
    workers: list[WorkerInfo] = field(default_factory=list)   # every worker ever started, in order


class _Worker:
    def __init__(self, process: multiprocessing.process.BaseProcess, conn: Any, info: WorkerInfo):
        self.process, self.conn, self.info = process, conn, info


class WorkerPool:
    def __init__(self, model_path: str | Path, *, workers: int = 1, memory_mb: int | None = None,
                 job_timeout: float = 30.0, start_timeout: float = 120.0):
        if workers < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.model_path = str(model_path)
        self.size = workers
        self.memory_mb = memory_mb or None
        self.job_timeout = job_timeout
        self.start_timeout = start_timeout
        self.stats = PoolStats()
        self._idle: asyncio.Queue[_Worker | None] | None = None
        self._all: set[_Worker] = set()
        self._busy: dict[int, _Worker] = {}
        self._ids = itertools.count(1)
        self._context = multiprocessing.get_context("spawn")   # no forked event-loop or thread state
        self._started = False
        self._closed = False
        self._tasks: set[asyncio.Task] = set()      # replacements started from a cancelled job
        self._start_lock = asyncio.Lock()

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start every worker and wait until each has loaded the model."""
        async with self._start_lock:
            if self._started:
                return
            if self._closed:
                raise PoolError("the recognition pool is closed")
            self._idle = asyncio.Queue()
            started = await asyncio.gather(*(self._spawn() for _ in range(self.size)), return_exceptions=True)
            failures = [w for w in started if isinstance(w, BaseException)]
            for w in started:
                if isinstance(w, _Worker):
                    self._idle.put_nowait(w)
            if failures:
                await self.close()
                raise PoolError(f"recognition workers did not start: {failures[0]}")
            self._started = True

    async def close(self) -> None:
        """Stop every worker; a job in flight fails with PoolError rather than hang."""
        self._closed = True
        busy = list(self._busy.values())
        for w in list(self._all):
            if w in busy:
                w.process.kill()             # its job sees the pipe close and reports
            else:
                self._retire(w)
        for task in list(self._tasks):
            task.cancel()

    async def __aenter__(self) -> "WorkerPool":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def busy_pids(self) -> list[int]:
        """Pids of workers decoding right now (for health pages, and for tests that kill one)."""
        return [w.info.pid for w in self._busy.values()]

    # -- jobs ------------------------------------------------------------------------------------
    async def run(self, job: Job) -> dict:
        """Decode ``job`` on a worker; retried once on a fresh worker if its worker dies."""
        await self.start()
        for attempt in range(1, ATTEMPTS + 1):
            w = await self._take()
            job_id = next(self._ids)
            self._busy[job_id] = w
            try:
                w.conn.send(("job", job_id, job.wav_path, list(job.phrases) if job.phrases else None,
                             job.free_form))
                reply = await self._receive(w, self.job_timeout + TIMEOUT_PER_AUDIO_SECOND * _seconds(job.wav_path))
            except (EOFError, OSError, asyncio.TimeoutError) as exc:
                cause = "timed out" if isinstance(exc, asyncio.TimeoutError) else "died"
                log.error("recognition worker %s %s on %s (try %d of %d); restarting it",
                          w.info.pid, cause, job.wav_path, attempt, ATTEMPTS)
                self._retire(w)
                if self._closed:
                    raise PoolError(f"{job.wav_path}: the recognition pool was closed during the job") from exc
                await self._replace()
                if attempt < ATTEMPTS:
                    self.stats.retried_jobs += 1
                    continue
                self.stats.lost_jobs += 1
                raise WorkerCrashed(f"{job.wav_path}: recognition worker {cause} on every try; "
                                    "keep the recording for a person") from exc
            except BaseException:
                # Cancelled while the worker decodes: its answer would arrive for the next job.
                self._retire(w)
                task = asyncio.get_running_loop().create_task(self._replace())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                raise
            finally:
                self._busy.pop(job_id, None)
            self._idle.put_nowait(w)
            kind, reply_id, payload = reply
            if reply_id != job_id:
                raise PoolError(f"worker {w.info.pid} answered job {reply_id}, expected {job_id}")
            if kind == "error":
                raise JobFailed(payload)
            w.info.jobs += 1
            return payload
        raise AssertionError("unreachable")

    # -- workers ---------------------------------------------------------------------------------
    async def _take(self) -> _Worker:
        """An idle worker; PoolError rather than waiting forever when none can exist."""
        while True:
            if self._closed:
                raise PoolError("the recognition pool is closed")
            if not self._all:                  # every restart failed so far: one more go, or say so
                await self._replace()
                if not self._all:
                    raise PoolError(f"no recognition worker could be started for {self.model_path}")
            w = await self._idle.get()
            if w is not None:                  # None: a restart failed; look again
                return w

    async def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=worker_module.main, args=(child, self.model_path, self.memory_mb),
                                        name="callcenter-asr", daemon=True)
        process.start()
        child.close()                       # so a dead worker shows as EOF on our end
        w = _Worker(process, parent, WorkerInfo(pid=process.pid, load_seconds=0.0, rss_mb=0.0))
        self._all.add(w)
        try:
            kind, payload = await self._receive(w, self.start_timeout)
        except (EOFError, OSError, asyncio.TimeoutError) as exc:
            self._retire(w)
            how = "hung" if isinstance(exc, asyncio.TimeoutError) else "died"
            cap = f" (memory cap {self.memory_mb} MiB: too small?)" if self.memory_mb else ""
            raise PoolError(f"recognition worker {process.pid} {how} while loading {self.model_path}{cap}") from exc
        if kind != "ready":
            self._retire(w)
            raise PoolError(f"recognition worker could not load {self.model_path}: {payload}")
        w.info = WorkerInfo(pid=payload["pid"], load_seconds=payload["load_seconds"], rss_mb=payload["rss_mb"],
                            vm_peak_mb=payload["vm_peak_mb"])
        self.stats.model_loads += 1
        self.stats.workers.append(w.info)
        log.info("recognition worker %s loaded %s in %.2f s (RSS %.0f MiB, address space %.0f MiB)", w.info.pid,
                 self.model_path, w.info.load_seconds, w.info.rss_mb, w.info.vm_peak_mb)
        return w

    async def _replace(self) -> None:
        if self._closed:
            return
        try:
            w = await self._spawn()
        except PoolError as exc:
            log.error("could not restart a recognition worker: %s", exc)
            self._idle.put_nowait(None)        # wake a job waiting for a worker, so it can see
            return
        self.stats.restarts += 1
        self._idle.put_nowait(w)

    def _retire(self, w: _Worker) -> None:
        """Stop a worker for good (it is dead, hung, or the pool is closing)."""
        try:
            w.conn.close()
        except OSError:
            pass
        if w.process.is_alive():
            w.process.kill()
        w.process.join(5)                    # reap it; a killed process exits in milliseconds
        self._all.discard(w)

    async def _receive(self, w: _Worker, timeout: float) -> Any:
        """The worker's next message, waiting without blocking the loop; EOFError if it died."""
        loop = asyncio.get_running_loop()
        readable = loop.create_future()
        fd = w.conn.fileno()
        loop.add_reader(fd, lambda: readable.done() or readable.set_result(None))
        try:
            await asyncio.wait_for(readable, timeout)
        finally:
            loop.remove_reader(fd)
        return w.conn.recv()


def _seconds(wav_path: str) -> float:
    """The recording's length from its header (0 if unreadable: the worker will say why)."""
    try:
        with wave.open(wav_path, "rb") as wav:
            return wav.getnframes() / max(1, wav.getframerate())
    except (OSError, EOFError, wave.Error):
        return 0.0
