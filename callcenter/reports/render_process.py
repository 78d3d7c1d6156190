"""Draw a report in a child process of its own, not in a thread of the caller's.

Drawing charts and writing .docx/.xlsx takes seconds of pure Python.  In a
thread it still holds the interpreter lock, so the service's event loop (the
calls it is following, the pages it serves) stalled for that long whenever the
08:00 reports were written.  A spawned child has an interpreter of its own,
is started for the one job and exits after it, so nothing it imports
(matplotlib, python-docx) stays resident in the service.
"""
from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, TypeVar

T = TypeVar("T")


async def in_child_process(job: Callable[..., T], *args) -> T:
    """``job(*args)`` in a fresh child process; its arguments and result must pickle.

    The child is not waited for on the event loop: its result arrives through
    the executor, and the process exits by itself once the job is done (or
    once the job ends, if the caller was cancelled meanwhile).
    """
    executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        return await asyncio.get_running_loop().run_in_executor(executor, job, *args)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
