"""The demo's ledger: the shipped sample file imported by the real importer, then worked through the flow."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import asyncpg

from ..transfer.importer import ImportReport, import_tickets
from ..transfer.progress import Progress
from .office_work import WorkDone, work_received_tickets

SAMPLE_FILE = Path(__file__).resolve().parent.parent / "data" / "sample_tickets.csv"


@dataclass(frozen=True)
class PreparedLedger:
    imported: ImportReport
    worked: WorkDone
    states: dict[str, int]      # tickets per flow state once the ledger is ready


async def prepare_ledger(pool: asyncpg.Pool, progress: Progress, sample: Path = SAMPLE_FILE) -> PreparedLedger:
    """Import the sample tickets (each enters where the city's file says) and work the 待签收 ones.

    The city's 已办结 tickets enter at 待回访 and are the campaign's; 已回访 ones keep the
    city's result; any 待签收 ticket is signed, dispatched and handled as the office would.
    """
    report = await import_tickets(pool, sample, progress=progress)
    worked = await work_received_tickets(pool)
    async with pool.acquire() as conn:
        states = dict(await conn.fetch("SELECT status, count(*) FROM tickets GROUP BY status"))
    return PreparedLedger(report, worked, states)
