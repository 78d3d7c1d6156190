"""The office's clock: Beijing time (Asia/Shanghai), used for every local date."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

OFFICE_TZ = ZoneInfo("Asia/Shanghai")


def local_date(at: datetime) -> date:
    if at.tzinfo is None:
        raise ValueError("naive datetime: attach a timezone before asking for its local date")
    return at.astimezone(OFFICE_TZ).date()


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
