"""Sign-in lockout rule (pure): too many failures close together lock the name for a while.

Attempts made while locked are refused without checking the password and are
not counted, so an attacker cannot keep a clerk locked out forever by guessing,
and cannot learn anything about the password during the lock.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence


def locked_until(failures_newest_first: Sequence[datetime], *, now: datetime, threshold: int,
                 window: timedelta, duration: timedelta) -> datetime | None:
    """When the lock ends, or None if not locked.

    Locked when the newest ``threshold`` failures all fall within ``window`` and
    the newest of them is less than ``duration`` ago.
    """
    if threshold < 1 or len(failures_newest_first) < threshold:
        return None
    newest, oldest = failures_newest_first[0], failures_newest_first[threshold - 1]
    if newest - oldest > window:
        return None
    until = newest + duration
    return until if now < until else None
