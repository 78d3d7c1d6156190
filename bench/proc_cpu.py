"""CPU seconds of processes and of a PostgreSQL server, from /proc: figures a busy shared machine distorts far
less than wall time.

Why: on a 2-core box shared with other jobs, an import's wall time swings 2× from one
run to the next, while the CPU it and its database burn stays put; comparing two
checkouts by CPU says which code does less work.  Linux only (None elsewhere).
The server must be the bench's own: every backend, the WAL writer and the
checkpointer are counted, exited backends included (the postmaster's children's times).
"""
from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def stat_fields(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (field 3 onwards: state, ppid, …)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu_seconds(pid: int) -> float:
    """One live process's utime + stime (all its threads)."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS


def reaped_children_seconds(pid: int) -> float:
    """cutime + cstime: CPU of the children ``pid`` has waited for, once they have exited."""
    fields = stat_fields(pid)
    return (int(fields[13]) + int(fields[14])) / TICKS


def postmaster_of(backend_pid: int) -> int | None:
    """The server's main process, given one of its backends (``pg_backend_pid()``)."""
    try:
        return int(stat_fields(backend_pid)[1])
    except (OSError, IndexError, ValueError):
        return None


def server_cpu_seconds(postmaster: int | None) -> float | None:
    """utime + stime of the postmaster, of its exited children, and of its live ones."""
    if postmaster is None:
        return None
    try:
        fields = stat_fields(postmaster)
    except OSError:
        return None
    ticks = sum(int(f) for f in fields[11:15])        # utime, stime, cutime, cstime
    parent = str(postmaster)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = stat_fields(entry.name)
        except OSError:                               # gone since the listing
            continue
        if child[1] == parent:
            ticks += int(child[11]) + int(child[12])
    return ticks / TICKS
