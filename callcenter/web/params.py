"""Reading submitted values: optional ids and days in filters, units and deadlines in step forms.

Why one module: each page area used to check these by hand, the same way;
a bound or a message fixed in one copy would be missed in the next.  Filters
collect every problem into a list (the page shows them all at once); form
steps raise the caller's own error class, so each flow reports in its words.
Pure (no aiohttp), so the pure form/filter parsers can use it.
"""
from __future__ import annotations

from datetime import date, datetime

from ..ledger.timezone import OFFICE_TZ

#: Largest PostgreSQL bigint: ids beyond it cannot exist, and must not reach a query.
MAX_ID = 2 ** 63 - 1
#: Largest PostgreSQL integer (org_units.id).
MAX_UNIT_ID = 2 ** 31 - 1


def optional_id(raw: str, errors: list[str], message: str) -> int | None:
    """``raw`` as a positive id; blank is None; anything else adds ``message`` to ``errors``."""
    if not raw:
        return None
    if raw.isdigit() and 0 < int(raw) <= MAX_ID:
        return int(raw)
    errors.append(message)
    return None


def optional_day(raw: str, errors: list[str], message: str) -> date | None:
    """``raw`` as YYYY-MM-DD; blank is None; anything else adds ``message`` to ``errors``."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(message)
        return None


def unit_id(raw: str, error: type[Exception]) -> int | None:
    """The 承办单位 chosen in a step form; blank is None, a malformed one raises ``error``."""
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > MAX_UNIT_ID:
        raise error(f"承办单位无效: {raw[:40]}")
    return int(raw)


def office_datetime(raw: str, error: type[Exception], label: str) -> datetime | None:
    """A ``datetime-local`` input (Beijing wall time) as an aware instant; blank is None."""
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=OFFICE_TZ)
    except ValueError:
        raise error(f"{label}格式无效: {raw[:40]}") from None
