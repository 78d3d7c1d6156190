"""The duty rota's rules (pure): a shift's times as the office writes them, checked."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .timezone import OFFICE_TZ

#: Longest shift accepted: a typo of a month for a day is caught, a weekend on call is not refused.
MAX_SHIFT = timedelta(days=7)
TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S")


class ShiftError(ValueError):
    """A shift that cannot be entered; the message says why, in the office's words."""


@dataclass(frozen=True)
class Shift:
    starts_at: datetime
    ends_at: datetime
    staff_name: str
    email: str = ""
    phone: str = ""
    note: str = ""


def parse_local(text: str, label: str) -> datetime:
    """``2024-05-01 08:00`` (Beijing time) → an aware instant."""
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=OFFICE_TZ)
        except ValueError:
            continue
    raise ShiftError(f"{label}格式应为 YYYY-MM-DD HH:MM (北京时间): {text!r}")


def make_shift(start: str, end: str, staff_name: str, email: str = "", phone: str = "", note: str = "") -> Shift:
    """Every check at once: times, order, length, a name, a plausible e-mail address."""
    problems = []
    try:
        starts_at = parse_local(start, "开始时间")
    except ShiftError as exc:
        problems.append(str(exc))
        starts_at = None
    try:
        ends_at = parse_local(end, "结束时间")
    except ShiftError as exc:
        problems.append(str(exc))
        ends_at = None
    if starts_at and ends_at:
        if ends_at <= starts_at:
            problems.append("结束时间应晚于开始时间")
        elif ends_at - starts_at > MAX_SHIFT:
            problems.append("一个班次最长 7 天")
    if not staff_name.strip() or len(staff_name) > 50:
        problems.append("请填写值班人员姓名 (最多 50 字)")
    email = email.strip()
    if email and ("@" not in email or " " in email or len(email) > 200):
        problems.append(f"邮箱地址无效: {email!r}")
    if len(phone) > 30 or len(note) > 500:
        problems.append("电话最多 30 字, 备注最多 500 字")
    if problems:
        raise ShiftError("；".join(problems))
    return Shift(starts_at, ends_at, staff_name.strip(), email, phone.strip(), note.strip())
