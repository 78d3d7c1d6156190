"""The inbox watcher: picks up each finished ticket file in ``CALLCENTER_INBOX`` and takes it in.

A half-copied file is never read.  Two conventions, both honoured:
- copy to ``name.csv.part`` (or any ``*.part``) and rename when done: ``.part`` files are ignored;
- or copy straight in: a file is taken only once its size and modification time have stayed the
  same for one whole poll interval (``settle`` seconds).
Hidden files (``.name``) and the ``done/`` and ``rejected/`` folders are never touched.  The
watcher polls (no inotify): it works the same on a network share, and a poll every few seconds
costs nothing.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import asyncpg

from .take import IntakeResult, take_file

log = logging.getLogger(__name__)


@dataclass
class Settling:
    """Which files have kept the same size and mtime long enough to be read (pure: give it listings)."""
    settle: float
    _seen: dict[str, tuple[int, int, float]] = field(default_factory=dict)

    def ready(self, listing: dict[str, tuple[int, int]], now: float) -> list[str]:
        """``listing``: name → (size, mtime_ns).  Returns the names stable for ``settle`` seconds."""
        ready = []
        for name, stat in listing.items():
            seen = self._seen.get(name)
            if seen is None or seen[:2] != stat:
                self._seen[name] = (*stat, now)
            elif now - seen[2] >= self.settle:
                ready.append(name)
        for gone in set(self._seen) - set(listing):
            del self._seen[gone]
        return sorted(ready)

    def forget(self, name: str) -> None:
        self._seen.pop(name, None)


def listing(inbox: Path) -> dict[str, tuple[int, int]]:
    """Candidate files in the inbox: visible, not ``.part``, regular files."""
    out = {}
    for entry in inbox.iterdir():
        if entry.name.startswith(".") or entry.name.endswith(".part") or entry.name.endswith(".report.txt"):
            continue
        try:
            if entry.is_file():
                st = entry.stat()
                out[entry.name] = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:          # moved away between listing and stat
            continue
    return out


class InboxWatcher:
    """Polls the inbox every ``poll`` seconds; ``on_taken`` hears of every file taken in."""

    def __init__(self, pool: asyncpg.Pool, inbox: Path, *, poll: float = 5.0, settle: float | None = None,
                 on_taken: Callable[[IntakeResult], None] | None = None) -> None:
        self.pool, self.inbox, self.poll = pool, Path(inbox), poll
        self.settling = Settling(poll if settle is None else settle)
        self.on_taken = on_taken

    async def run(self) -> None:
        self.inbox.mkdir(parents=True, exist_ok=True)
        log.info("watching inbox %s", self.inbox)
        while True:
            try:
                await self.pass_once()
            except asyncio.CancelledError:
                raise
            except Exception:              # a bad pass is logged; the watcher keeps watching
                log.exception("inbox pass failed")
            await asyncio.sleep(self.poll)

    async def pass_once(self) -> list[IntakeResult]:
        names = self.settling.ready(listing(self.inbox), time.monotonic())
        results = []
        for name in names:
            path = self.inbox / name
            if not path.exists():          # another instance took it
                self.settling.forget(name)
                continue
            try:
                result = await take_file(self.pool, path, self.inbox, source="inbox")
            except FileNotFoundError:      # another instance filed it while we waited for the lock
                continue
            finally:
                self.settling.forget(name)
            log.info("inbox: %s → %s (%s)", name, result.outcome, result.message)
            results.append(result)
            if self.on_taken is not None:
                self.on_taken(result)
        return results
