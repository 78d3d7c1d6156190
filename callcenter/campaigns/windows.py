"""Calling windows (Asia/Shanghai): when a citizen may be called, and when next.

Pure functions over aware datetimes.  The dialer asks ``is_open`` right before
every Originate and ``next_open`` to schedule retries, so no call is ever
placed at night or on a configured holiday.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Iterable

from ..ledger.timezone import OFFICE_TZ


class WindowError(ValueError):
    pass


@dataclass(frozen=True)
class Segment:
    start: time
    end: time

    def __post_init__(self):
        if not self.start < self.end:
            raise WindowError(f"{self.start:%H:%M}–{self.end:%H:%M} 的结束时间早于开始时间")


@dataclass(frozen=True)
class CallingWindows:
    segments: tuple[Segment, ...] = (Segment(time(9), time(12)), Segment(time(14), time(20)))
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self):
        if not self.segments:
            raise WindowError("至少需要一个呼叫时段")
        ordered = sorted(self.segments, key=lambda s: s.start)
        for a, b in zip(ordered, ordered[1:]):
            if b.start < a.end:
                raise WindowError(f"时段重叠: {a.start:%H:%M}–{a.end:%H:%M} 与 {b.start:%H:%M}–{b.end:%H:%M}")
        object.__setattr__(self, "segments", tuple(ordered))

    @classmethod
    def parse(cls, spans: Iterable[str], holidays: Iterable[date] = ()) -> "CallingWindows":
        """From strings like ``"09:00-12:00"``."""
        segments = []
        for span in spans:
            try:
                start, end = (datetime.strptime(part.strip(), "%H:%M").time() for part in span.split("-"))
            except ValueError:
                raise WindowError(f"“{span}” 不是 时:分-时:分 的格式") from None
            segments.append(Segment(start, end))
        return cls(tuple(segments), frozenset(holidays))

    def segment_at(self, at: datetime) -> tuple[date, Segment] | None:
        """The (local day, segment) containing ``at``, or None when calls are not allowed."""
        local = _local(at)
        if local.date() in self.holidays:
            return None
        for seg in self.segments:
            if seg.start <= local.time() < seg.end:
                return local.date(), seg
        return None

    def is_open(self, at: datetime) -> bool:
        return self.segment_at(at) is not None

    def next_open(self, at: datetime, *, skip_segment_of: datetime | None = None) -> datetime:
        """The first instant at or after ``at`` when calling is allowed.

        With ``skip_segment_of``, the window segment that instant fell in is
        avoided, so a retry lands at a different time of day.
        """
        avoid = self.segment_at(skip_segment_of) if skip_segment_of else None
        local = _local(at)
        for day_offset in range(0, 400):
            day = local.date() + timedelta(days=day_offset)
            if day in self.holidays:
                continue
            for seg in self.segments:
                if avoid == (day, seg):
                    continue
                start = datetime.combine(day, seg.start, OFFICE_TZ)
                end = datetime.combine(day, seg.end, OFFICE_TZ)
                if local < end:
                    return max(start, local).astimezone(at.tzinfo)
        raise WindowError("no calling window in the next 400 days (holidays cover everything?)")


def _local(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise WindowError("naive datetime: calling windows need an aware time")
    return at.astimezone(OFFICE_TZ)
