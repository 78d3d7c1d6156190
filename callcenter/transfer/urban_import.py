"""``import urban``: cases from the urban-management platform or grid inspections (csv/xlsx).

Same contract as the ticket importer, and the same code for it: the file is
read by :mod:`.reader`, rows are checked through the shared field machinery of
:mod:`callcenter.ledger.ticket_record` (every error with line, column and
reason), and it is all or nothing unless ``skip_invalid``, when the bad rows
go, with their reasons, to ``<name>.rejects.csv``.  Known 案件编号 are left as
they are, so importing the same file twice is safe.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import asyncpg

from ..db import urban as repo
from ..ledger import ticket_record as tr
from ..ledger import urban as ub
from .importer import ImportRejected, NumberClaims, Validated, with_duplicate, write_rejects
from .file_errors import FileRejected
from .reader import open_table


@dataclass(frozen=True)
class UrbanImportReport:
    rows: int
    inserted: int
    existing: int
    rejected: int
    encoding: str
    ignored_headers: tuple[str, ...]
    rejects_file: Path | None
    errors: list[tr.RowError]


def validate_file(path: Path, now: datetime) -> Validated:
    """Read and check every row; raises :class:`FileRejected` for file-level problems."""
    with open_table(path) as table:
        try:
            header_map = tr.resolve_headers(table.headers, ub.FIELDS)
        except tr.HeaderError as exc:
            raise FileRejected(f"{path.name}: {exc}") from None
        result = Validated(list(table.headers), header_map, table.encoding)
        claims = NumberClaims(header_map, "case_no", "案件编号")
        for line, cells in table.rows:
            parsed = ub.parse_row(cells, header_map, line, now=now)
            duplicate = claims.duplicate(line, cells)
            result.add(line, cells, parsed if duplicate is None else with_duplicate(parsed, duplicate))
    return result


async def import_urban_cases(pool: asyncpg.Pool, path: Path, *, actor: str, skip_invalid: bool = False,
                             now: datetime | None = None) -> UrbanImportReport:
    """Import a csv/xlsx case file; raises :class:`ImportRejected` or :class:`FileRejected`."""
    path = Path(path)
    now = now or datetime.now(timezone.utc)
    validated = await asyncio.to_thread(validate_file, path, now)
    if validated.rejected and not skip_invalid:
        raise ImportRejected(validated.errors, validated.rows)
    rejects = write_rejects(path, validated) if validated.rejected else None
    async with pool.acquire() as conn:
        counts = await repo.import_cases(conn, validated.records, actor=actor)
    return UrbanImportReport(
        rows=validated.rows, inserted=counts.inserted, existing=counts.existing, rejected=len(validated.rejected),
        encoding=validated.encoding, ignored_headers=validated.header_map.ignored, rejects_file=rejects,
        errors=validated.errors)
