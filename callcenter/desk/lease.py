"""Lease rules of the desk: one agent holds a ticket at a time, and loses it if they go away.

The database applies these same rules in one statement (callcenter/db/desk.py);
this module is the reference the property test checks that statement against.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: How long a claim lasts without the console renewing it (it renews every third of this).
DEFAULT_LEASE = timedelta(seconds=90)


@dataclass(frozen=True)
class Hold:
    held_by: str | None
    lease_until: datetime | None
    call_live: bool = False
    unrecorded: bool = False         # a call was made and its form not yet sent (one attempt per call)


def holder(hold: Hold, now: datetime) -> str | None:
    """Who holds the item at ``now``: a live call keeps it held even past the lease."""
    if hold.held_by is None:
        return None
    if hold.call_live or (hold.lease_until is not None and hold.lease_until > now):
        return hold.held_by
    return None


def may_claim(hold: Hold, agent: str, now: datetime) -> bool:
    """Free, lapsed, or already this agent's."""
    current = holder(hold, now)
    return current is None or current == agent


def may_call(hold: Hold, agent: str, now: datetime) -> bool:
    """Only the holder of a live lease starts a call, only one call at a time, and only once the last call
    made is recorded."""
    return not hold.call_live and not hold.unrecorded and hold.held_by == agent \
        and hold.lease_until is not None and hold.lease_until > now
