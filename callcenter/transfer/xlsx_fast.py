"""Read an xlsx sheet with python-calamine (Rust): ten times faster than openpyxl's read-only parser.

Why a separate reader, and when it steps aside: the importer's messages quote cells
as openpyxl returns them, so the rows given here must be the same cells.  calamine
differs in three ways, handled here:

* a date-formatted cell at midnight comes back as a ``date``; openpyxl gives a
  ``datetime`` (``cell_text`` would print "2024-05-02" instead of "2024-05-02 00:00:00"),
  so such cells are turned into midnight ``datetime``;
* integral numbers come back as ``float`` (openpyxl: ``int``, unless the file wrote
  them with a decimal point or an exponent, which Excel does not below 10^15); the
  parsers read both alike, but a rejects file would say "168.0", so they become ``int``;
* an error cell (``#N/A``, ``#REF!``) comes back as ``""``, where openpyxl gives the
  text ``"#N/A"`` and the importer says what is wrong with it.  A sheet holding any
  error cell is therefore read by openpyxl (:func:`read_rows` returns None), as is any
  file calamine cannot open, so the clerk gets openpyxl's message for it.

Empty cells come back as ``""`` rather than None; every parser treats the two alike.
"""
from __future__ import annotations

import posixpath
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Iterator, Sequence
from xml.etree import ElementTree

_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_WORKSHEET_REL = "/worksheet"
#: How an error cell is marked in the sheet's XML (ECMA-376 §18.18.11, ST_CellType "e").
_ERROR_CELL = b' t="e"'
_SCAN_CHUNK = 1 << 20
_MIDNIGHT = time()
#: Excel writes integers below this without a decimal point or exponent (15 significant digits).
_EXACT_INTS = 1e15


def read_rows(path: Path) -> Sequence[list[Any]] | None:
    """Every row of the first worksheet from row 1 (blank rows included), or None: use openpyxl.

    The rows are converted to openpyxl's cells as they are iterated (:class:`SheetRows`),
    not all before the first: an import starts merging while the rest is converted.
    """
    try:
        from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum
    except ImportError:          # pragma: no cover - the dependency is pinned; openpyxl still works
        return None
    # The error-cell scan is zlib work (it releases the GIL): run it beside calamine's parse.
    with ThreadPoolExecutor(max_workers=1) as pool:
        errors = pool.submit(has_error_cells, path)
        try:
            with CalamineWorkbook.from_path(str(path)) as book:
                sheets = [i for i, m in enumerate(book.sheets_metadata) if m.typ == SheetTypeEnum.WorkSheet]
                if not sheets:
                    return None
                sheet = book.get_sheet_by_index(sheets[0])
                if sheet.start == (0, 0):
                    rows: Sequence[list[Any]] = SheetRows(sheet)
                else:            # iter_rows() leaves out empty leading columns: pad them as openpyxl has them
                    rows = [_as_openpyxl_row(row) for row in sheet.to_python(skip_empty_area=False)]
        except (CalamineError, OSError, ValueError):
            return None
        except BaseException as exc:      # a Rust panic on a malformed file is a BaseException (pyo3)
            if type(exc).__name__ == "PanicException":
                return None
            raise
        if errors.result():
            return None
    return rows


class SheetRows:
    """A sheet read from A1: its rows (``len``, iterable again), each converted as it is reached."""
    __slots__ = ("_sheet",)

    def __init__(self, sheet):
        self._sheet = sheet

    def __len__(self) -> int:
        return self._sheet.height

    def __iter__(self) -> Iterator[list[Any]]:
        return map(_as_openpyxl_row, self._sheet.iter_rows())


def _as_openpyxl_row(row: list[Any]) -> list[Any]:
    """The row with its float and date cells as openpyxl reads them (in place)."""
    kinds = set(map(type, row))
    if float in kinds or date in kinds:
        for i, cell in enumerate(row):       # only those cells: a call per cell was a tenth of reading
            kind = type(cell)
            if kind is float or kind is date:
                row[i] = _as_openpyxl(cell)
    return row


def _as_openpyxl(cell: Any) -> Any:
    """The cell as openpyxl reads it (see the module's docstring)."""
    kind = type(cell)
    if kind is float:
        return int(cell) if cell.is_integer() and -_EXACT_INTS < cell < _EXACT_INTS else cell
    if kind is date:
        return datetime.combine(cell, _MIDNIGHT)
    return cell


def has_error_cells(path: Path) -> bool:
    """Whether the first worksheet holds an error cell (or cannot be checked: then say yes)."""
    try:
        with zipfile.ZipFile(path) as archive:
            with archive.open(first_worksheet(archive)) as sheet:
                tail = b""              # the end of what was read: a mark may straddle two reads
                while chunk := sheet.read(_SCAN_CHUNK):
                    window = tail + chunk
                    if _ERROR_CELL in window:
                        return True
                    tail = window[-(len(_ERROR_CELL) - 1):]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, ElementTree.ParseError, LookupError):
        return True
    return False


def first_worksheet(archive: zipfile.ZipFile) -> str:
    """The zip member of the workbook's first worksheet (the one openpyxl's ``worksheets[0]`` is)."""
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL_NS}Relationship")
               if (r.get("Type") or "").endswith(_WORKSHEET_REL)}
    for sheet in book.iter(f"{_MAIN_NS}sheet"):
        target = targets.get(sheet.get(f"{_REL_NS}id"))
        if target:
            return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    raise LookupError("no worksheet")
