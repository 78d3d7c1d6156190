"""calamine's rows are converted as they are iterated, and still are openpyxl's cells (callcenter.transfer.xlsx_fast).

A sheet read from A1 comes back as a lazy SheetRows; one whose cells start further in (empty
leading rows or columns) is read whole and padded, as openpyxl has it.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl

from callcenter.transfer import xlsx_fast

from .test_import_columns import assert_same_rows, openpyxl_rows, tricky_book


def offset_book(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["C3"], sheet["D3"], sheet["E3"] = "工单编号", "办理时限", "来电时间"
    sheet["C4"], sheet["D4"], sheet["E4"] = "X1", 168.0, datetime(2024, 5, 2)
    sheet["F6"] = 2.5
    book.save(path)
    return path


def test_a_sheet_from_a1_is_converted_as_it_is_iterated(tmp_path):
    path = tricky_book(tmp_path / "tricky.xlsx")
    rows = xlsx_fast.read_rows(path)
    assert isinstance(rows, xlsx_fast.SheetRows)
    assert len(rows) == len(openpyxl_rows(path))
    assert list(rows) == list(rows)                 # iterable again, same cells
    assert_same_rows(path)


def test_a_sheet_starting_further_in_is_padded_as_openpyxl_reads_it(tmp_path):
    path = offset_book(tmp_path / "offset.xlsx")
    rows = xlsx_fast.read_rows(path)
    assert not isinstance(rows, xlsx_fast.SheetRows)
    assert rows[3][2:5] == ["X1", 168, datetime(2024, 5, 2)]
    assert_same_rows(path)
