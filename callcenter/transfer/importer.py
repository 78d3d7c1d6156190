"""``import tickets``: read and validate a whole file, then write it in one transaction.

All or nothing by default: a single bad row means nothing is written and every
bad row is reported.  With ``skip_invalid`` the good rows go in and the bad ones
are written, with their reasons, to ``<name>.rejects.csv`` beside the input, so
nothing is lost and the clerk can fix and re-import just those.
"""
from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import asyncpg

from ..db import ticket_import as repo
from ..db.scoring import load_rule_sets
from ..db.tickets import load_policies, load_utility_categories
from ..ledger import ticket_record as tr
from ..ledger.deadlines import DeadlinePolicy, PoliciesByDay, policy_in_force
from ..ledger.ticket_columns import ColumnParser
from ..ledger.timezone import local_date
from ..scoring.rules import DEFAULT_RULE_SET, RuleSet
from .gc_pause import collector_paused
from .progress import NullProgress, Progress
from .csv_split import CsvSplit, TailFailed, rule_set_for
from .file_errors import FileRejected
from .reader import open_table
from .writer import write_table

REJECT_COLUMNS = ("行号", "列", "原因")
#: Rows parsed together, column by column (callcenter.ledger.ticket_columns), between progress updates.
CHUNK_ROWS = 5000


class ImportRejected(Exception):
    """Rows were invalid and the import was all-or-nothing: nothing was written."""

    def __init__(self, errors: list[tr.RowError], rows: int):
        self.errors, self.rows = errors, rows
        bad = len({e.line for e in errors})
        super().__init__(f"{bad} / {rows} 行有错误, 未导入任何数据")


@dataclass
class RejectedRow:
    line: int
    cells: list[Any]
    errors: list[tr.RowError]


@dataclass
class Validated:
    """What reading a file produced: good records (with lines) and rejected rows."""
    headers: list[Any]
    header_map: tr.HeaderMap
    encoding: str
    records: list[tr.TicketRecord] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def errors(self) -> list[tr.RowError]:
        return [e for row in self.rejected for e in row.errors]

    @property
    def rows(self) -> int:
        return len(self.records) + len(self.rejected)

    def add(self, line: int, cells: Sequence[Any], parsed: Any) -> None:
        """File one row: a list of errors rejects it (kept with its cells for the rejects file)."""
        if isinstance(parsed, list):          # cells None: not at hand yet (see _take_tail)
            self.rejected.append(RejectedRow(line, None if cells is None else list(cells), parsed))
        else:
            self.records.append(parsed)
            self.lines.append(line)


class NumberClaims:
    """Which line of a file first used each number (工单编号, 案件编号): a later use is an error.

    Invalid rows claim their number too, so a clerk sees every duplicate in one pass.
    """

    def __init__(self, header_map: tr.HeaderMap, column: str, noun: str):
        self._at, self._label, self._noun = header_map.positions[column], header_map.label(column), noun
        self._first: dict[str, int] = {}

    def number(self, cells: Sequence[Any]) -> str:
        return tr.cell_text(cells[self._at]) if self._at < len(cells) else ""

    def duplicate(self, line: int, cells: Sequence[Any]) -> tr.RowError | None:
        return self.duplicate_number(line, self.number(cells))

    def duplicate_number(self, line: int, number: str) -> tr.RowError | None:
        """Claims ``number`` (the cell's text) for ``line``; the error when an earlier line has it."""
        first = self._first.setdefault(number, line) if number else line
        if first == line:
            return None
        return tr.RowError(line, self._label, f"{self._noun}与第 {first} 行重复", number)


def with_duplicate(parsed: Any, duplicate: tr.RowError) -> list[tr.RowError]:
    """A row whose number is taken is rejected, whatever else is wrong with it (listed after)."""
    return [duplicate, *parsed] if isinstance(parsed, list) else [duplicate]


@dataclass(frozen=True)
class ImportReport:
    rows: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    units_created: int
    encoding: str
    ignored_headers: tuple[str, ...]
    rejects_file: Path | None
    errors: list[tr.RowError]


def rejects_path(path: Path) -> Path:
    """``tickets.csv`` → ``tickets.rejects.csv`` (always CSV, whatever the input was)."""
    return path.with_name(f"{path.stem}.rejects.csv")


def validate_file(path: Path, categories: frozenset[str], policies: Sequence[DeadlinePolicy],
                  progress: Progress = NullProgress(), rule_sets: Sequence[RuleSet] = (DEFAULT_RULE_SET,),
                  on_block: Callable[[Validated, int], None] | None = None) -> Validated:
    """Read and check every row; raises :class:`FileRejected` for file-level problems.

    ``rule_sets``: the dated rule sets; each row's answer labels are read with the one in
    force on its 来电时间 (the earliest one for older tickets).  ``on_block(result, start)``
    is told after each block of rows that ``result.records[start:]`` are new, so they can
    be written while the rest is read.
    """
    def rule_set_on(day):
        return rule_set_for(rule_sets, day)

    with open_table(path, split=True) as table:
        try:
            header_map = tr.resolve_headers(table.headers)
        except tr.HeaderError as exc:
            hint = " (文件按 GB18030 解码; 若表头是乱码, 请另存为 UTF-8)" if table.encoding == "gb18030" else ""
            raise FileRejected(f"{path.name}: {exc}{hint}") from None
        result = Validated(list(table.headers), header_map, table.encoding)
        progress.phase("读取校验 read+validate", table.estimated_rows)
        if table.split is not None:
            table.split.start(table.headers, categories, rule_sets, CHUNK_ROWS)
        claims = NumberClaims(header_map, "ticket_no", "工单编号")
        parser = ColumnParser(header_map, categories, rule_set_on)
        floor = min((p.effective_from for p in policies), default=None)

        def take(lines: list[int], numbers: list[str], parsed_rows: list[Any], cells_of) -> None:
            """File a parsed block: numbers claimed in file order, then the policy check (as one pass does)."""
            first = len(result.records)
            for line, number, parsed in zip(lines, numbers, parsed_rows):
                duplicate = claims.duplicate_number(line, number)
                if duplicate is not None:
                    parsed = with_duplicate(parsed, duplicate)
                elif isinstance(parsed, tr.TicketRecord) and not _policy_covers(parsed, floor):
                    parsed = _check_policy(parsed, policies, header_map, line)
                result.add(line, cells_of(line), parsed)
            progress.advance(len(lines))
            if on_block is not None:
                on_block(result, first)

        def read(rows: Iterator[tuple[int, list[Any]]]) -> None:
            while block := list(islice(rows, CHUNK_ROWS)):
                lines = [line for line, _ in block]
                take(lines, [claims.number(cells) for _, cells in block],
                     parser.parse(lines, [cells for _, cells in block]), dict(block).__getitem__)

        read(iter(table.rows))
        if table.split is not None and table.split.clean:
            try:
                _take_tail(table.split, take, result)
            except TailFailed:                      # the child died: read the tail here
                read(table.split.tail_rows())
    return result


def _take_tail(split: CsvSplit, take, result: Validated) -> None:
    """The tail's blocks from the child, in order; cells of rows rejected only here are read again at the end."""
    for block in split.tail_blocks():
        if block.rejected is not None:
            raise block.rejected
        take(block.lines, block.numbers, block.results(), block.cells.get)
    unread = [row for row in result.rejected if row.cells is None]
    if unread:
        cells = split.tail_cells({row.line for row in unread})
        for row in unread:
            row.cells = cells[row.line]


def _policy_covers(record: tr.TicketRecord, floor) -> bool:
    """The quick test in front of :func:`_check_policy`: some policy is in force on the ticket's start day."""
    return floor is not None and local_date(record.dispatched_at or record.called_at) >= floor


def _check_policy(record: tr.TicketRecord, policies: Sequence[DeadlinePolicy], header_map: tr.HeaderMap,
                  line: int) -> tr.TicketRecord | list[tr.RowError]:
    """A ticket older than every deadline policy cannot get deadlines: reject it, don't crash later."""
    start = record.dispatched_at or record.called_at
    try:
        policy_in_force(policies, start)
    except LookupError:
        column = "dispatched_at" if record.dispatched_at else "called_at"
        return [tr.RowError(line, header_map.label(column), "早于所有办理期限规则的生效日期",
                            tr.cell_text(tr.to_cells(record)[tr.COLUMNS.index(column)]))]
    return record


async def _refuse_if_invalid(reading: asyncio.Future, skip_invalid: bool) -> None:
    """Raise the file's :class:`ImportRejected` if it has bad rows (waits for the reading to end).

    Why: a merge runs while the rest of the file is read; a file that turns out invalid is
    refused for its rows, as it was when nothing was merged before the file was read.
    """
    await asyncio.wait([reading])
    if reading.cancelled() or reading.exception() is not None:
        return
    validated = reading.result()
    if validated.rejected and not skip_invalid:
        raise ImportRejected(validated.errors, validated.rows)


def write_rejects(path: Path, validated: Validated) -> Path:
    """The rejected rows as they were, plus 行号/列/原因 (several errors joined by '；')."""
    target = rejects_path(path)
    width = len(validated.headers)
    headers = [tr.cell_text(h) for h in validated.headers] + list(REJECT_COLUMNS)
    rows = ([*(row.cells + [None] * width)[:width], row.line,
             "；".join(e.column for e in row.errors), "；".join(e.reason for e in row.errors)]
            for row in validated.rejected)
    write_table(target, headers, rows, "csv")
    return target


async def import_tickets(pool: asyncpg.Pool, path: Path, *, skip_invalid: bool = False,
                         progress: Progress = NullProgress()) -> ImportReport:
    """Import a csv/xlsx ticket file; raises :class:`ImportRejected` or :class:`FileRejected`.

    The file is read and checked in a worker thread while the rows already checked are
    staged and merged, block by block, in one transaction
    (:class:`~callcenter.db.ticket_import.TicketUpsert`): PostgreSQL copies and merges
    while Python parses.  The transaction commits once the whole file is read and
    (unless ``skip_invalid``) clean; from the first bad row on nothing more is staged
    or merged, and the rollback takes back what was.  A database error in a merge
    while a bad row was already read is reported as that file's :class:`ImportRejected`,
    as when nothing was merged before the end of the file.
    """
    path = Path(path)
    with collector_paused():
        return await _import_tickets(pool, path, skip_invalid=skip_invalid, progress=progress)


async def _import_tickets(pool: asyncpg.Pool, path: Path, *, skip_invalid: bool, progress: Progress) -> ImportReport:
    async with pool.acquire() as conn:
        categories = await repo.load_category_names(conn)
        policies = await load_policies(conn)
        utilities = await load_utility_categories(conn)
        rule_sets = await load_rule_sets(conn) or [DEFAULT_RULE_SET]

        policy_on = PoliciesByDay(policies)

        def deadlines(record: tr.TicketRecord, is_complex: bool):
            return tr.record_deadlines(record, policy_on, utility_categories=utilities, is_complex=is_complex)

        loop = asyncio.get_running_loop()
        blocks: asyncio.Queue = asyncio.Queue()

        def on_block(validated: Validated, start: int) -> None:
            """In the reading thread: the records ``validated.records[start:end]`` are ready."""
            loop.call_soon_threadsafe(blocks.put_nowait, (validated, start, len(validated.records)))

        # Parsing is CPU work: keep the event loop free while it runs.
        reading = asyncio.ensure_future(asyncio.to_thread(
            validate_file, path, categories, policies, progress, rule_sets, on_block))
        reading.add_done_callback(lambda _: blocks.put_nowait(None))   # after the thread's last block
        try:
            async with AsyncExitStack() as stack:
                upsert: repo.TicketUpsert | None = None
                while (block := await blocks.get()) is not None:
                    validated, start, end = block
                    if validated.rejected and not skip_invalid:
                        continue                    # the file will be refused: stage no more of it
                    if upsert is None:
                        upsert = await stack.enter_async_context(repo.TicketUpsert(
                            conn, present_columns=validated.header_map.present, deadlines=deadlines,
                            source=path.name))
                    try:
                        await upsert.add(validated.records[start:end], validated.lines[start:end])
                    except asyncpg.PostgresError:
                        await _refuse_if_invalid(reading, skip_invalid)
                        raise
                validated = await reading
                if validated.rejected and not skip_invalid:
                    raise ImportRejected(validated.errors, validated.rows)
                rejects = write_rejects(path, validated) if validated.rejected else None
                # The staging ran alongside the reading: its bar fills as the reading ends.
                progress.phase("写入 write", len(validated.records))
                progress.advance(len(validated.records))
                progress.phase("合并 merge", 1)
                if upsert is not None:
                    await upsert.merge()
            counts = upsert.counts if upsert is not None else repo.ImportCounts(0, 0, 0, 0)
        finally:
            if not reading.done():                  # a database error: let the reading thread end first
                await asyncio.wait([reading])
    progress.advance(1)
    return ImportReport(
        rows=validated.rows, inserted=counts.inserted, updated=counts.updated, unchanged=counts.unchanged,
        rejected=len(validated.rejected), units_created=counts.units_created, encoding=validated.encoding,
        ignored_headers=validated.header_map.ignored, rejects_file=rejects, errors=validated.errors)
