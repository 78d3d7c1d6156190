"""The office's clock: Beijing time (Asia/Shanghai), used for every local date."""
from __future__ import annotations

from datetime import date, datetime
from typing import Callable, Generic, TypeVar
from zoneinfo import ZoneInfo

T = TypeVar("T")

OFFICE_TZ = ZoneInfo("Asia/Shanghai")


def local_date(at: datetime) -> date:
    if at.tzinfo is None:
        raise ValueError("naive datetime: attach a timezone before asking for its local date")
    return at.astimezone(OFFICE_TZ).date()


def office_day_start(at: datetime) -> datetime:
    """The instant the office day of ``at`` began (Beijing midnight): per-day counts, such as a number's
    daily cap of calls, run from here."""
    return datetime.combine(local_date(at), datetime.min.time(), OFFICE_TZ)


class PerOfficeDay(Generic[T]):
    """``func(at)`` remembered per office day, for a function whose answer depends only on the Beijing date.

    Why: a bulk import asks such questions (the deadline policy, the scoring rule set
    in force) once per ticket, for a few hundred distinct days.  An exception is not
    remembered: it is raised again, as ``func`` would.
    """
    __slots__ = ("_func", "_by_day")

    def __init__(self, func: Callable[[datetime], T]):
        self._func, self._by_day = func, {}

    def __call__(self, at: datetime) -> T:
        day = local_date(at)
        answer = self._by_day.get(day, _MISSING)
        if answer is _MISSING:
            answer = self._by_day[day] = self._func(at)
        return answer


_MISSING = object()


def as_local(at: datetime) -> datetime:
    """Interpret a naive datetime as Beijing time; convert an aware one."""
    if at.tzinfo is None:
        return at.replace(tzinfo=OFFICE_TZ)
    return at.astimezone(OFFICE_TZ)


MINUTES = "%Y-%m-%d %H:%M"


def office_text(at: datetime | None, fmt: str = MINUTES) -> str:
    """An instant as people at the office read it: Beijing wall time, no offset ('' for none)."""
    if at is None:
        return ""
    local = as_local(at)
    if fmt == MINUTES and local.year >= 1000:     # the usual format without strftime: a ledger page prints 100
        return "%04d-%02d-%02d %02d:%02d" % (local.year, local.month, local.day, local.hour, local.minute)
    return local.strftime(fmt)
