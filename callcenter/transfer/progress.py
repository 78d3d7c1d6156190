"""Progress reporting for long transfers, decoupled from how (or whether) it is shown.

The importer and exporter call :class:`Progress`; the CLI passes a rich bar on a
terminal and :class:`NullProgress` otherwise, so logs and pipes stay clean.
"""
from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Iterator, Protocol


class Progress(Protocol):
    def phase(self, description: str, total: int | None) -> None:
        """Start a new phase (a new bar); ``total`` None when unknown."""

    def advance(self, amount: int = 1) -> None: ...


class NullProgress:
    def phase(self, description: str, total: int | None) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass


class RichProgress:
    """One rich bar per phase; the previous phase is completed when the next starts."""

    def __init__(self, bar) -> None:
        self._bar = bar
        self._task = None
        self._lock = threading.Lock()   # the reader may report from a worker thread

    def phase(self, description: str, total: int | None) -> None:
        with self._lock:
            self._finish()
            self._task = self._bar.add_task(description, total=total)

    def advance(self, amount: int = 1) -> None:
        with self._lock:
            if self._task is not None:
                self._bar.advance(self._task, amount)

    def _finish(self) -> None:
        if self._task is not None:
            task = self._bar.tasks[self._task]
            self._bar.update(self._task, total=task.completed)

    def close(self) -> None:
        with self._lock:
            self._finish()


@contextmanager
def terminal_progress(enabled: bool | None = None) -> Iterator[Progress]:
    """A rich progress bar when stdout is a terminal, else a silent one."""
    if enabled is None:
        enabled = sys.stdout.isatty()
    if not enabled:
        yield NullProgress()
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    with Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
             TimeElapsedColumn(), TimeRemainingColumn()) as bar:
        progress = RichProgress(bar)
        try:
            yield progress
        finally:
            progress.close()
