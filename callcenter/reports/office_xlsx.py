"""The office report's workbook: one sheet per table (callcenter.reports.office_tables)."""
from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from .office import OfficeReport
from .office_tables import SHEETS


def write_xlsx(report: OfficeReport, path: Path) -> Path:
    book = Workbook()
    book.remove(book.active)
    for title, table in SHEETS.items():
        sheet = book.create_sheet(title)
        headers, rows = table(report)
        sheet.append([f"{report.window.title}: {title}"])
        sheet["A1"].font = Font(bold=True)
        sheet.append(headers)
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
        for i, _ in enumerate(headers):
            sheet.column_dimensions[chr(ord("A") + i)].width = 16 if i else 22
    book.save(path)
    return path
