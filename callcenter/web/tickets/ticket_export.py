"""The ledger's current filter as an .xlsx download, in the city's columns (re-importable).

Phone numbers are masked (138****0001) unless ``unmasked=1`` asks for them in full
(only a full file re-imports); only supervisors and admins may export, and every
export, masked or not, is written to the audit log.  Rows stream
from a server-side cursor into openpyxl's write-only workbook (the shared
transfer.writer.TableWriter) in a worker thread, so memory stays flat and the
event loop keeps serving other clerks meanwhile.
"""
from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime
from pathlib import Path

from aiohttp import web

from ...db import ticket_queries as queries
from ...ledger import ticket_record as tr
from ...ledger.timezone import OFFICE_TZ
from ...transfer.exporter import export_cells as record_cells
from ...transfer.writer import TableWriter
from ..core import keys
from ..core.access import MANAGERS, current_user, require_role
from .ticket_filters import parse_query
from .ticket_view import state_label

routes = web.RouteTableDef()
HEADERS = (*tr.HEADERS, "街道流转状态")
_BATCH = 2000
_CHUNK = 256 * 1024


def export_cells(row, *, mask_phones: bool = True) -> list:
    return [*record_cells(tr.record_from_mapping(row), mask_phones=mask_phones), state_label(row["status"])]


async def _write_workbook(conn, flt: queries.TicketFilter, path: Path, *, mask_phones: bool = True) -> int:
    writer = TableWriter(path, HEADERS, "xlsx").__enter__()
    try:
        batch: list[list] = []
        async for row in queries.iter_tickets_for_export(conn, flt, batch=_BATCH):
            batch.append(export_cells(row, mask_phones=mask_phones))
            if len(batch) >= _BATCH:
                await asyncio.to_thread(writer.write_all, batch)
                batch = []
        await asyncio.to_thread(writer.write_all, batch)
    except BaseException as exc:
        writer.__exit__(type(exc), exc, exc.__traceback__)
        raise
    await asyncio.to_thread(writer.__exit__, None, None, None)
    return writer.rows


@routes.get("/tickets/export.xlsx", name="tickets_export")
@require_role(*MANAGERS)
async def export_xlsx(request: web.Request) -> web.StreamResponse:
    parsed = parse_query(request.query)
    if parsed.errors:
        raise web.HTTPBadRequest(text="; ".join(parsed.errors))
    limit = request.app[keys.WEB_CONFIG].export_max_rows
    user = current_user(request)
    with tempfile.TemporaryDirectory(prefix="cc-export-") as tmp:
        path = Path(tmp) / "tickets.xlsx"
        async with request.app[keys.DB].pool.acquire() as conn:
            count = await queries.count_tickets(conn, parsed.filter, limit=limit + 1)
            if count > limit:
                raise web.HTTPRequestEntityTooLarge(
                    max_size=limit, actual_size=count,
                    text=f"导出超过 {limit} 条工单, 请缩小筛选范围(例如按日期)后分批导出。")
            unmasked = request.query.get("unmasked") == "1"
            rows = await _write_workbook(conn, parsed.filter, path, mask_phones=not unmasked)
            await queries.record_audit(conn, user.username, "export_tickets", object_type="tickets",
                                       detail={"filter": parsed.values, "rows": rows, "unmasked": unmasked})
        stamp = datetime.now(OFFICE_TZ).strftime("%Y%m%d-%H%M")
        response = web.StreamResponse(headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": f'attachment; filename="tickets-{stamp}.xlsx"',
            "Cache-Control": "no-store",
        })
        response.content_length = path.stat().st_size
        await response.prepare(request)
        with path.open("rb") as handle:
            while chunk := await asyncio.to_thread(handle.read, _CHUNK):
                await response.write(chunk)
        await response.write_eof()
        return response
