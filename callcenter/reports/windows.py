"""Report windows (pure): what ``--period`` means for a daily, weekly, monthly or special report.

- daily ``2024-05-20``: the daily report window (noon to noon by default, scoring_calendar.daily_cut_hour);
- weekly ``2024-W21`` or any date in the week: Monday 00:00 to the next Monday 00:00, office time;
- monthly ``2024-05``: the assessment month (19th to 18th by default);
- special: ``--from``/``--to`` days, both included.
Each window knows the window before it (for 环比) and the assessment month its rates come from.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ..scoring.periods import Calendar, PeriodError, day_window, period, period_containing, previous

KINDS = ("daily", "weekly", "monthly", "special")
KIND_LABELS = {"daily": "日报", "weekly": "周报", "monthly": "月报", "special": "专报"}
MAX_SPECIAL_DAYS = 366


class WindowError(ValueError):
    """A --period/--from/--to that names no window; the message says what is expected."""


@dataclass(frozen=True)
class Window:
    kind: str
    label: str
    start: datetime
    end: datetime
    prev_start: datetime
    prev_end: datetime
    month: str                 # the assessment month whose rates the report shows

    @property
    def title(self) -> str:
        return f"{self.label} {KIND_LABELS[self.kind]}"


def _midnight(day: date, cal: Calendar) -> datetime:
    return datetime.combine(day, time(0), tzinfo=cal.tz)


def _week_monday(text: str) -> date:
    try:
        if "-W" in text.upper():
            year, week = text.upper().split("-W")
            return date.fromisocalendar(int(year), int(week), 1)
        day = date.fromisoformat(text)
    except ValueError:
        raise WindowError(f"周报 --period 应为 YYYY-Www (如 2024-W21) 或该周任一天 YYYY-MM-DD: {text!r}") from None
    return day - timedelta(days=day.weekday())


def window(kind: str, cal: Calendar, *, label: str | None = None, start_day: date | None = None,
           end_day: date | None = None) -> Window:
    if kind == "daily":
        try:
            day = date.fromisoformat(label or "")
        except ValueError:
            raise WindowError(f"日报 --period 应为 YYYY-MM-DD: {label!r}") from None
        start, end = day_window(day, cal)
        return Window(kind, day.isoformat(), start, end, start - timedelta(days=1), start,
                      period_containing(end - timedelta(seconds=1), cal).label)
    if kind == "weekly":
        monday = _week_monday(label or "")
        start, end = _midnight(monday, cal), _midnight(monday + timedelta(days=7), cal)
        iso = monday.isocalendar()
        return Window(kind, f"{iso.year}-W{iso.week:02d}", start, end, start - timedelta(days=7), start,
                      period_containing(end - timedelta(seconds=1), cal).label)
    if kind == "monthly":
        try:
            p = period(label or "", cal)
        except PeriodError as exc:
            raise WindowError(str(exc)) from None
        before = previous(p, cal)
        return Window(kind, p.label, p.start, p.end, before.start, before.end, p.label)
    if kind == "special":
        if start_day is None or end_day is None:
            raise WindowError("专报需要 --from 和 --to (YYYY-MM-DD, 含首尾两天)")
        if end_day < start_day or (end_day - start_day).days >= MAX_SPECIAL_DAYS:
            raise WindowError(f"--to 应不早于 --from, 且跨度不超过 {MAX_SPECIAL_DAYS} 天")
        start, end = _midnight(start_day, cal), _midnight(end_day + timedelta(days=1), cal)
        length = end - start
        return Window(kind, f"{start_day.isoformat()}至{end_day.isoformat()}", start, end, start - length, start,
                      period_containing(end - timedelta(seconds=1), cal).label)
    raise WindowError(f"报表类型应为 {', '.join(KINDS)}")
