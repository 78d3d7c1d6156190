"""``export tickets``: one assessment month (or calendar month) of the ledger, with the city's headers.

The file uses exactly the headers and value spellings the importer accepts, so
an unmasked export re-imports cleanly (unchanged) — the round trip is tested.
By default 来电人电话 is masked (138****0001): a file leaves the ledger and is
read by people who need the ticket, not the number.
"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import asyncpg

from ..db.ticket_export import count_called_between, tickets_called_between
from ..ledger import ticket_record as tr
from ..ledger.privacy import mask_phone
from ..ledger.timezone import OFFICE_TZ
from .progress import NullProgress, Progress
from .writer import TableWriter

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` → [first instant, first instant of next month), in Beijing time."""
    match = _MONTH.match(month.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"月份格式应为 YYYY-MM, 例如 2024-05: {month!r}")
    year, mon = int(match.group(1)), int(match.group(2))
    start = datetime(year, mon, 1, tzinfo=OFFICE_TZ)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=OFFICE_TZ)
    return start, end


def default_export_path(month: str, fmt: str) -> Path:
    return Path(f"tickets-{month}.{fmt}")


_PHONE_AT = tr.COLUMNS.index("caller_phone")


def export_cells(record: tr.TicketRecord, *, mask_phones: bool) -> list:
    """A record's cells in the city's column order, the phone masked unless asked not to."""
    cells = tr.to_cells(record)
    if mask_phones:
        cells[_PHONE_AT] = mask_phone(cells[_PHONE_AT])
    return cells


async def export_tickets(pool: asyncpg.Pool, bounds: tuple[datetime, datetime], out: Path, fmt: str,
                         progress: Progress = NullProgress(), *, mask_phones: bool = True) -> int:
    """Write the tickets whose 来电时间 is in [start, end) to ``out``; returns the row count.

    ``bounds``: an assessment month (callcenter.scoring.periods.period) or a calendar
    month (:func:`month_bounds`).
    """
    start, end = bounds
    async with pool.acquire() as conn:
        progress.phase("导出 export", await count_called_between(conn, start, end))
        with TableWriter(out, tr.HEADERS, fmt) as writer:
            async for row in tickets_called_between(conn, start, end):
                writer.write(export_cells(tr.record_from_mapping(row), mask_phones=mask_phones))
                progress.advance()
    return writer.rows
