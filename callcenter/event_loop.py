"""Which asyncio event loop the service runs on: uvloop where it is installed, asyncio's own otherwise.

Why: the dialer, the FastAGI server and the web pages spend most of their CPU
in socket reads and writes (py-spy on the 10k-call bench, bench/RESULTS.md).
uvloop does that work in C (libuv), with the same asyncio API, so nothing
else in the code knows which loop it runs on.  ``CALLCENTER_EVENT_LOOP=asyncio``
picks the standard loop (to rule the loop out when chasing a fault).
"""
from __future__ import annotations

import asyncio
import os
from typing import Any, Callable, Coroutine, TypeVar

T = TypeVar("T")

CHOICES = ("uvloop", "asyncio")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """The factory for a new loop, by ``CALLCENTER_EVENT_LOOP`` (default uvloop, if importable)."""
    choice = os.environ.get("CALLCENTER_EVENT_LOOP", "uvloop").strip().lower() or "uvloop"
    if choice not in CHOICES:
        raise ValueError(f"CALLCENTER_EVENT_LOOP must be one of {', '.join(CHOICES)}, not {choice!r}")
    if choice == "uvloop":
        try:
            import uvloop
        except ImportError:          # a platform without a uvloop wheel: asyncio's loop does the same job
            return asyncio.new_event_loop
        return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T], factory: Callable[[], asyncio.AbstractEventLoop] | None = None) -> T:
    """``asyncio.run`` on the chosen loop (Python 3.11's asyncio.run has no loop_factory)."""
    with asyncio.Runner(loop_factory=factory or loop_factory()) as runner:
        return runner.run(main)


def running_loop_name() -> str:
    """``uvloop`` or ``asyncio``: what the running loop is, for the startup log line."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
