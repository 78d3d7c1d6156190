"""Reading submitted values: optional ids and days in filters, units and deadlines in step forms.

Why one module: each page area used to check these by hand, the same way;
a bound or a message fixed in one copy would be missed in the next.  Filters
collect every problem into a list (the page shows them all at once); form
steps raise the caller's own error class, so each flow reports in its words.
Pure (no aiohttp), so the pure form/filter parsers can use it.
"""
from __future__ import annotations

from datetime import date, datetime

from ...inputs import MAX_ID, MAX_INT32, InputError, ascii_digits, bounded_day, in_bounds
from ...ledger.timezone import OFFICE_TZ

#: Largest PostgreSQL integer (org_units.id).
MAX_UNIT_ID = MAX_INT32
__all__ = ["MAX_ID", "MAX_UNIT_ID", "optional_id", "optional_day", "unit_id", "office_datetime"]


def optional_id(raw: str, errors: list[str], message: str) -> int | None:
    """``raw`` as a positive id; blank is None; anything else adds ``message`` to ``errors``."""
    if not raw:
        return None
    if ascii_digits(raw) and len(raw) <= 19 and 0 < int(raw) <= MAX_ID:
        return int(raw)
    errors.append(message)
    return None


def optional_day(raw: str, errors: list[str], message: str) -> date | None:
    """``raw`` as YYYY-MM-DD; blank is None; anything else adds ``message`` to ``errors``."""
    if not raw:
        return None
    try:
        return bounded_day(raw, "日期")
    except InputError:
        errors.append(message)
        return None


def unit_id(raw: str, error: type[Exception]) -> int | None:
    """The 承办单位 chosen in a step form; blank is None, a malformed one raises ``error``."""
    if not raw:
        return None
    if not ascii_digits(raw) or len(raw) > 10 or not 0 < int(raw) <= MAX_UNIT_ID:
        raise error(f"承办单位无效: {raw[:40]}")
    return int(raw)


def office_datetime(raw: str, error: type[Exception], label: str) -> datetime | None:
    """A ``datetime-local`` input (Beijing wall time) as an aware instant; blank is None."""
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw).replace(tzinfo=OFFICE_TZ)
    except ValueError:
        raise error(f"{label}格式无效: {raw[:40]}") from None
    if not in_bounds(at):
        raise error(f"{label}超出范围: {raw[:40]}")
    return at
