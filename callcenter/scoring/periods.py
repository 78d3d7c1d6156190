"""Assessment periods (考核月) and daily report windows, in Beijing time.

Convention: period ``"2024-05"`` is the assessment month that *ends* in May:
with the default start day 19 it runs from 2024-04-19 00:00 to 2024-05-19 00:00
Asia/Shanghai (i.e. through 2024-05-18 23:59:59).  With start day 1 it is the
calendar month.  The daily report for day D runs from D-1 12:00 to D 12:00
(the cut hour, 0 meaning midnight to midnight of D).  Both are configurable
(table ``scoring_calendar``), so everything here takes a :class:`Calendar`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_LABEL = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    """A period label that does not name an assessment month."""


@dataclass(frozen=True)
class Calendar:
    period_start_day: int = 19
    daily_cut_hour: int = 12
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if not 1 <= self.period_start_day <= 28:
            raise PeriodError(f"period_start_day {self.period_start_day} must be 1–28")
        if not 0 <= self.daily_cut_hour <= 23:
            raise PeriodError(f"daily_cut_hour {self.daily_cut_hour} must be 0–23")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Period:
    label: str              # "2024-05"
    start: datetime         # inclusive, aware
    end: datetime           # exclusive, aware

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).date()

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def describe(self) -> str:
        return f"{self.label} 考核月 ({self.first_day.isoformat()} 至 {self.last_day.isoformat()})"


def _month_start(year: int, month: int, cal: Calendar) -> datetime:
    return datetime.combine(date(year, month, cal.period_start_day), time(0), tzinfo=cal.tz)


def _shift(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def period(label: str, cal: Calendar = Calendar()) -> Period:
    """The assessment month named ``label`` ("YYYY-MM", the month it ends in)."""
    match = _LABEL.match(label.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not 1900 < int(match.group(1)) < 3000:
        raise PeriodError(f"period {label!r} is not YYYY-MM (e.g. 2024-05)")
    year, month = int(match.group(1)), int(match.group(2))
    if cal.period_start_day == 1:          # the calendar month itself
        start_ym, end_ym = (year, month), _shift(year, month, 1)
    else:                                  # 19th of the previous month → 19th of this one
        start_ym, end_ym = _shift(year, month, -1), (year, month)
    return Period(f"{year:04d}-{month:02d}", _month_start(*start_ym, cal), _month_start(*end_ym, cal))


def period_containing(at: datetime, cal: Calendar = Calendar()) -> Period:
    """The assessment month an instant falls in."""
    if at.tzinfo is None:
        raise PeriodError("naive datetime: attach a timezone first")
    local = at.astimezone(cal.tz)
    year, month = local.year, local.month
    if cal.period_start_day != 1 and local.day >= cal.period_start_day:
        year, month = _shift(year, month, 1)
    return period(f"{year:04d}-{month:02d}", cal)


def previous(p: Period, cal: Calendar = Calendar()) -> Period:
    year, month = _shift(int(p.label[:4]), int(p.label[5:]), -1)
    return period(f"{year:04d}-{month:02d}", cal)


def report_day(at: datetime, cal: Calendar = Calendar()) -> date:
    """The daily report an instant belongs to: day D covers D-1 cut:00 → D cut:00."""
    local = at.astimezone(cal.tz)
    if cal.daily_cut_hour == 0:
        return local.date()
    return (local - timedelta(hours=cal.daily_cut_hour)).date() + timedelta(days=1)


def day_window(day: date, cal: Calendar = Calendar()) -> tuple[datetime, datetime]:
    """[start, end) of the daily report for ``day``."""
    end = datetime.combine(day, time(cal.daily_cut_hour), tzinfo=cal.tz)
    if cal.daily_cut_hour == 0:
        end += timedelta(days=1)
    return end - timedelta(days=1), end
