"""Why a campaign dials nothing now — paused, no ticket matches, outside its calling windows, a number at its
daily cap, no dialer running — or that it is done.

Pure: the CLI (``campaign start`` / ``status``) and the web page word the same facts, each in its
own language, so an operator who starts a campaign at night, or with filters that match nothing, is
told so instead of watching a silent dialer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

from ..ledger.timezone import OFFICE_TZ
from .windows import CallingWindows


@dataclass(frozen=True)
class Quiet:
    state: str
    paused: bool = False
    nothing_matches: bool = False          # no ticket taken in, none waiting that matches
    waiting: int = 0                       # tickets at 待回访 that match and are not taken in yet
    next_call_at: datetime | None = None   # office time; set when the calling windows are shut now
    windows: str = ""                      # "09:00-12:00, 14:00-20:00"
    done: bool = False                     # a one-off campaign whose every ticket's callback is over
    capped: int = 0                        # calls waiting for tomorrow: their number had its calls today
    no_dialer_since: datetime | None = None    # work to do but no dialer checked in lately (the last one's time)
    no_dialer_ever: bool = False               # work to do and no dialer has ever run on this database


#: A dialer checks in every refresh (seconds); silent this long, none is running.
DIALER_SILENT = timedelta(seconds=30)


def quiet(state: str, standing: bool, windows: CallingWindows, counts: Mapping[str, int], waiting: int,
          now: datetime, capped: int = 0, heartbeat: datetime | None | bool = True) -> Quiet:
    """``counts``: callcenter.db.campaigns.progress; ``waiting``: callcenter.db.dialer.count_eligible;
    ``capped``: callcenter.db.dialer.capped_today; ``heartbeat``: callcenter.db.dialer.last_heartbeat
    (True: not asked — the web app is served by the running service itself)."""
    if state == "finished":
        return Quiet(state)
    tickets, open_tickets = int(counts.get("tickets", 0)), int(counts.get("open_tickets", 0))
    shut = state == "running" and bool(tickets or waiting) and not windows.is_open(now)
    work = state == "running" and bool(open_tickets or waiting)
    silent = work and heartbeat is not True and (heartbeat is None or now - heartbeat > DIALER_SILENT)
    return Quiet(
        state, paused=state == "paused", nothing_matches=not tickets and not waiting, waiting=waiting,
        next_call_at=windows.next_open(now).astimezone(OFFICE_TZ) if shut else None,
        windows=", ".join(f"{s.start:%H:%M}-{s.end:%H:%M}" for s in windows.segments),
        done=state == "running" and not standing and bool(tickets) and not (open_tickets or waiting),
        capped=capped if state in ("running", "paused") else 0,
        no_dialer_since=heartbeat.astimezone(OFFICE_TZ) if silent and heartbeat else None,
        no_dialer_ever=silent and heartbeat is None)
