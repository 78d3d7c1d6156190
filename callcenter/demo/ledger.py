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


async def prepare_ledger(pool: asyncpg.Pool, progress: Progress, sample: Path = SAMPLE_FILE) -> PreparedLedger:
    """Import the sample tickets and bring the closed ones to 待回访, as the office would have."""
    report = await import_tickets(pool, sample, progress=progress)
    worked = await work_received_tickets(pool)
    return PreparedLedger(report, worked)
