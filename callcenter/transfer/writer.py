"""Write a table (header + rows) as CSV or xlsx, row by row, replacing the target atomically.

Rows are written to a temporary file beside the target, which is renamed into
place only when everything was written: an interrupted export never leaves a
truncated file that looks complete.  CSV is UTF-8 with BOM so that Excel on
Chinese Windows opens it without mojibake.  The file is readable by its owner
only (mkstemp's 0600): exports carry citizens' names and numbers.
"""
from __future__ import annotations

import csv
import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Iterable, Sequence

from .safe_cells import safe_cell

FORMATS = ("csv", "xlsx")
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime(DATETIME_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def format_of(path: Path, explicit: str | None = None) -> str:
    """The table format: ``explicit`` when given, else the file suffix."""
    fmt = explicit or path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"{path.name}: 输出格式须为 {'/'.join(FORMATS)} (用 --format 指定或使用 .csv/.xlsx 后缀)")
    return fmt


class TableWriter:
    """``with TableWriter(path, headers, fmt) as w: w.write(row)``; the file appears on success only."""

    def __init__(self, path: Path, headers: Sequence[str], fmt: str):
        self.path, self.headers, self.fmt = Path(path), list(headers), fmt
        self.rows = 0

    def __enter__(self) -> "TableWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent)
        self._tmp = Path(tmp)
        if self.fmt == "csv":
            self._file = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
            self._csv = csv.writer(self._file)
            self._csv.writerow(self.headers)
        else:
            os.close(fd)
            import openpyxl
            self._book = openpyxl.Workbook(write_only=True)
            self._sheet = self._book.create_sheet("工单")
            self._sheet.append(self.headers)
        return self

    def write(self, row: Sequence[Any]) -> None:
        if self.fmt == "csv":
            self._csv.writerow([safe_cell(csv_cell(v)) for v in row])
        else:
            self._sheet.append(["" if v is None else safe_cell(v) for v in row])
        self.rows += 1

    def write_all(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.write(row)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self.fmt == "csv":
                self._file.close()
            elif kind is None:
                self._book.save(self._tmp)
            if kind is None:
                os.replace(self._tmp, self.path)
        finally:
            self._tmp.unlink(missing_ok=True)


def write_table(path: Path, headers: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> int:
    with TableWriter(path, headers, fmt) as writer:
        writer.write_all(rows)
    return writer.rows
