"""Read a ticket file (csv or xlsx) as a header row plus numbered rows of cells.

CSV from the city comes as UTF-8 (with or without BOM) or GB18030 (Excel on
Chinese Windows).  Anything else is refused with a clear message: decoding a
Shift-JIS or latin-1 file as GB18030 often "succeeds" and yields plausible-looking
garbage, so a GB18030 decode is also checked for text that real Chinese would
not contain.
"""
from __future__ import annotations

import codecs
import csv
import io
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .csv_split import SENTINEL, CsvSplit, csv_rows, cut_point
from .file_errors import FileRejected, UnsupportedFile
from .xlsx_fast import read_rows

CSV_SUFFIXES = (".csv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
#: Below this share of common (GB2312) characters a GB18030 decode is taken for garbage.
MIN_COMMON_HANZI_SHARE = 0.8
_SAMPLE_CHARS = 200_000


@dataclass
class Table:
    headers: list[Any]
    rows: Iterator[tuple[int, list[Any]]]   # (line number, cells); the header is line 1
    estimated_rows: int | None
    encoding: str                           # utf-8, utf-8-sig, gb18030 or xlsx
    split: CsvSplit | None = None           # rows is the head; the tail is parsed by another process


def table_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in XLSX_SUFFIXES:
        return "xlsx"
    if suffix == ".xls":
        raise UnsupportedFile(f"{path.name}: 不支持旧版 .xls 格式, 请在 Excel 中另存为 .xlsx 或 CSV")
    raise UnsupportedFile(f"{path.name}: 只支持 .csv 和 .xlsx 文件")


@contextmanager
def open_table(path: Path, *, split: bool = False) -> Iterator[Table]:
    """The file's table; raises :class:`FileRejected` for unreadable files.

    ``split``: a big CSV may come cut in two (:mod:`.csv_split`): ``rows`` is then its head.
    """
    fmt = table_format(path)
    if not path.is_file():
        raise UnsupportedFile(f"{path}: 文件不存在")
    if fmt == "csv":
        table = _csv_table(path, split)
        try:
            yield table
        finally:
            if table.split is not None:
                table.split.cancel()
    else:
        with _xlsx_table(path) as table:
            yield table


# --- CSV --------------------------------------------------------------------------------

def decode_text(data: bytes, name: str = "file") -> tuple[str, str]:
    """(text, encoding) for UTF-8, UTF-8 with BOM, or GB18030 bytes; :class:`FileRejected` otherwise."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise FileRejected(f"{name}: 文件声明为 UTF-8 (BOM) 但第 {exc.start} 字节处不是合法 UTF-8") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(data[:4096]):
        raise FileRejected(f"{name}: 文件是 UTF-16 编码 (或不是文本文件); 请另存为 “CSV UTF-8” 或 GB18030/GBK 编码的 CSV")
    if b"\x00" in data:
        raise FileRejected(f"{name}: {nul_position(data)}含有 NUL 字节 (0x00), 文件可能已损坏; "
                           "请删去该字符或重新导出")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise FileRejected(f"{name}: 无法识别的文件编码 (既不是 UTF-8 也不是 GB18030/GBK); "
                           "请另存为 “CSV UTF-8”") from None
    if not looks_like_chinese(text):
        raise FileRejected(f"{name}: 文件编码不是 UTF-8 或 GB18030 (按 GB18030 解码得到乱码, "
                           "可能是 Shift-JIS、Big5 或 latin-1); 请另存为 “CSV UTF-8”")
    return text, "gb18030"


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a BOM: read that way, the head has the commas of a header row.

    A damaged UTF-8/GB18030 file with a stray NUL reads as noise in UTF-16, so
    it gets the NUL's line and column instead of a wrong word about encodings.
    """
    even = head[:len(head) // 2 * 2]
    for codec in ("utf-16-le", "utf-16-be"):
        text = even.decode(codec, "replace")
        if text.count(",") + text.count("\t") >= 2:      # the separators a CSV header row is made of
            return True
    return False


def nul_position(data: bytes) -> str:
    """Where the first NUL byte is, as a person finds it: line (1-based) and column (characters)."""
    at = data.index(b"\x00")
    line_start = data.rfind(b"\n", 0, at) + 1
    line = data.count(b"\n", 0, at) + 1
    column = len(data[line_start:at].decode("utf-8", "replace").lstrip("\ufeff")) + 1
    return f"第 {line} 行第 {column} 个字符处"


def looks_like_chinese(text: str) -> bool:
    """Whether the non-ASCII characters are mostly common simplified Chinese (GB2312)."""
    sample = [c for c in text[:_SAMPLE_CHARS] if ord(c) > 0x7F]
    if not sample:
        return True
    common = 0
    for char in sample:
        try:
            char.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common / len(sample) >= MIN_COMMON_HANZI_SHARE


def _csv_table(path: Path, split: bool = False) -> Table:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileRejected(f"{path}: 无法读取: {exc.strerror}") from None
    text, encoding = decode_text(data, path.name)
    del data
    estimated = max(text.count("\n") - 1, 0)
    cut = cut_point(text) if split else None
    if cut is not None:
        halves = CsvSplit(text, cut, path.name)
        reader = halves.head_reader()
        headers = _csv_headers(reader, path.name)
        if not any(SENTINEL in cell for cell in headers):     # else the header itself crosses the cut
            return Table(headers, halves.head_rows(reader), estimated, encoding, halves)
    reader = csv.reader(io.StringIO(text, newline=""))
    headers = _csv_headers(reader, path.name)
    return Table(headers, csv_rows(reader, path.name), estimated, encoding)


def _csv_headers(reader, name: str) -> list[str]:
    try:
        return next(reader)
    except StopIteration:
        raise FileRejected(f"{name}: 文件是空的") from None
    except csv.Error as exc:
        raise FileRejected(f"{name}: 第 1 行 CSV 格式错误: {exc}") from None


# --- xlsx -------------------------------------------------------------------------------

@contextmanager
def _xlsx_table(path: Path) -> Iterator[Table]:
    """calamine's rows when it can give the very cells openpyxl would (see :mod:`.xlsx_fast`)."""
    rows = read_rows(path)
    if rows is None:
        with _openpyxl_table(path) as table:
            yield table
        return
    after = iter(rows)
    headers = next(after, None) or []
    if not headers:
        raise FileRejected(f"{path.name}: 第一个工作表是空的")
    yield Table(headers, _xlsx_rows(after), len(rows) - 1, "xlsx")


@contextmanager
def _openpyxl_table(path: Path) -> Iterator[Table]:
    import openpyxl   # imported here: only xlsx work pays for it
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileRejected(f"{path.name}: 不是有效的 xlsx 文件 ({exc})") from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        headers = list(next(rows, None) or [])
        if not headers:
            raise FileRejected(f"{path.name}: 第一个工作表是空的")
        estimated = (sheet.max_row - 1) if sheet.max_row else None
        yield Table(headers, _xlsx_rows(rows), estimated, "xlsx")
    finally:
        book.close()


def _xlsx_rows(rows) -> Iterator[tuple[int, list[Any]]]:
    for line, row in enumerate(rows, start=2):
        cells = list(row)
        first = cells[0] if cells else None
        if (type(first) is str and first.strip()) or any(c is not None and str(c).strip() for c in cells):
            yield line, cells
