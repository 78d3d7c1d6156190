"""Write one office report (.docx + .xlsx) and log it for the 报表 page."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import asyncpg

from ..db import report_queries as queries
from .office import OfficeReport, gather
from .render_process import in_child_process
from .windows import KIND_LABELS

SERVICE = "service"
_UNSAFE = re.compile(r"[^\w\-\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Written:
    report_id: int | None          # None: the service had already written this scheduled report
    docx: Path
    xlsx: Path
    report: OfficeReport


def base_name(report: OfficeReport, *, stamped: bool) -> str:
    parts = [f"接诉即办{KIND_LABELS[report.window.kind]}", report.window.label, *report.filters.values()]
    if stamped:
        parts.append(report.generated_at.strftime("%Y%m%dT%H%M%S"))
    return _UNSAFE.sub("_", "-".join(parts))


def _write(report: OfficeReport, folder: Path, name: str) -> tuple[Path, Path]:
    """Draw both files (in the report's child process: only it loads matplotlib and python-docx)."""
    from .office_docx import write_docx
    from .office_xlsx import write_xlsx
    folder.mkdir(parents=True, exist_ok=True)
    return write_docx(report, folder / f"{name}.docx"), write_xlsx(report, folder / f"{name}.xlsx")


async def produce(conn: asyncpg.Connection, kind: str, folder: Path, *, created_by: str, label: str | None = None,
                  start_day: date | None = None, end_day: date | None = None, category: str | None = None,
                  community: str | None = None, now: datetime | None = None) -> Written:
    """Gather, write both files into ``folder`` and log them; raises WindowError for a bad period."""
    report = await gather(conn, kind, label=label, start_day=start_day, end_day=end_day, category=category,
                          community=community, now=now or datetime.now(timezone.utc))
    name = base_name(report, stamped=created_by != SERVICE)
    # Drawing and writing are seconds of CPU: in a process of their own, so calls and pages carry on meanwhile.
    docx, xlsx = await in_child_process(_write, report, folder, name)
    report_id = await queries.record_report(
        conn, kind=kind, label=report.window.label, start=report.window.start, end=report.window.end,
        filters=report.filters, docx_path=str(docx.resolve()), xlsx_path=str(xlsx.resolve()), created_by=created_by)
    return Written(report_id, docx, xlsx, report)
