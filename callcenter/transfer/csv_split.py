"""Read a big CSV in two halves at once: the second half is parsed and checked in another process.

Why: reading and checking a 100k-row file is most of a re-import's CPU, and one
Python process uses one core.  The file is cut at a line end near its middle; this
process reads the head while a child reads the tail, and the tail's results are
then taken in order, so rows, line numbers and messages are those of one pass.

Where to cut without reading the file twice: at a line end with an even number of
quote characters before it, which in a well-formed CSV is the end of a row.  A stray
quote (``ab"c``, which ``csv`` reads as text) can make that guess wrong, so the head
is read with a sentinel after the cut: when its last row is the sentinel alone, the
head ended exactly at the cut; when it is not, the cut fell inside a quoted cell and
the head goes on reading the whole text from its last row's start, as one pass
would, and the child's work is dropped.
"""
from __future__ import annotations

import csv
import io
import os
import pickle
import subprocess
import sys
import tempfile
from itertools import islice
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..ledger import ticket_record as tr
from ..ledger.ticket_columns import ColumnParser
from ..scoring.rules import RuleSet, rule_set_in_force
from .file_errors import FileRejected
from .gc_pause import collector_paused

#: Below this many characters a file is read in one pass (a child process costs ≈ 0.3 s to start).
MIN_SPLIT_CHARS = 4_000_000
#: Where to cut, as a share of the text.  This process also compares and stages every row, but the
#: child starts later and shares its core with PostgreSQL: measured, a head of two fifths left this
#: process waiting for the child for a third of a re-import.
HEAD_SHARE = 0.5
#: How many line ends past the cut to try for an even quote count before giving up on a split.
_TRIES = 1000
#: Follows the head; a row of it alone means the head ended at the cut.  Never in a decoded file
#: (decode_text refuses NUL; U+FFFF is a noncharacter).
SENTINEL = "\uffff\uffff"

Row = tuple[int, list[Any]]
#: The directory holding the ``callcenter`` package: the child imports the code this process runs.
_CODE_ROOT = str(Path(__file__).resolve().parents[2])


def rule_set_for(rule_sets: Sequence[RuleSet], day) -> RuleSet:
    """The rule set in force that day; the earliest one for tickets older than all of them."""
    try:
        return rule_set_in_force(rule_sets, day)
    except LookupError:
        return min(rule_sets, key=lambda r: r.effective_from)


def csv_rows(reader, name: str, lines_before: int = 0) -> Iterator[Row]:
    """Rows numbered by the line they start on (a quoted cell may span lines); blank rows skipped.

    ``lines_before``: lines of the file before the text ``reader`` reads.
    """
    while True:
        start = reader.line_num + 1 + lines_before
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileRejected(f"{name}: 第 {start} 行 CSV 格式错误: {exc}") from None
        if (row and row[0].strip()) or any(cell.strip() for cell in row):   # most rows: the first cell says so
            yield start, row


def line_count(text: str) -> int:
    """Line ends in ``text`` as ``io.StringIO(newline="")`` splits lines (\\n, \\r\\n or \\r), hence ``csv``'s line_num."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def cut_point(text: str, min_chars: int | None = None) -> int | None:
    """Just after a line end near :data:`HEAD_SHARE` of the text with an even number of quotes before it, or None."""
    if len(text) < (MIN_SPLIT_CHARS if min_chars is None else min_chars) or _cores() < 2:
        return None
    at = text.find("\n", int(len(text) * HEAD_SHARE))
    quotes = text.count('"', 0, at) if at >= 0 else 0
    for _ in range(_TRIES):
        if at < 0:
            return None
        if quotes % 2 == 0:
            return at + 1 if at + 1 < len(text) else None
        following = text.find("\n", at + 1)
        quotes += text.count('"', at, following if following >= 0 else len(text))
        at = following
    return None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # pragma: no cover - not Linux
        return os.cpu_count() or 1


class CsvSplit:
    """One CSV text cut in two: :meth:`head_reader` for this process, the tail parsed by :meth:`start`."""

    def __init__(self, text: str, cut: int, name: str):
        self._text, self._cut, self._name = text, cut, name
        self.tail_lines_before = line_count(text[:cut])
        self.clean: bool | None = None        # whether the head ended at the cut (known once it is read)
        self._child: subprocess.Popen | None = None
        self._dir: tempfile.TemporaryDirectory | None = None
        self._answer: Path | None = None

    def head_reader(self):
        return csv.reader(io.StringIO(self._text[:self._cut] + SENTINEL, newline=""))

    def head_rows(self, reader) -> Iterator[Row]:
        """The head's rows, then (when the cut was not a row's end) the rest of the file read in one pass."""
        held: Row | None = None
        for row in csv_rows(reader, self._name):
            if held is not None:
                yield held
            held = row
        if held is not None and held[1] == [SENTINEL]:
            self.clean = True
            return
        self.clean = False
        self.cancel()
        restart = 1 if held is None else held[0]            # the line the unfinished row starts on
        whole = csv.reader(io.StringIO(self._text, newline=""))
        yield from (row for row in csv_rows(whole, self._name) if row[0] >= restart and row[0] > 1)

    def start(self, headers: Sequence[Any], categories: frozenset[str], rule_sets: Sequence[RuleSet],
              chunk_rows: int) -> None:
        """Begin parsing the tail in a child process (:mod:`.tail_worker`).

        Why a plain subprocess, not multiprocessing: its spawn runs the parent's ``__main__``
        again in the child (``python -m callcenter`` would start the service there), and a
        fork of a process running threads and an event loop is not safe.  Why files, not
        pipes: reading a pipe takes the GIL back for every 64 KiB, and the threads parsing
        and staging here hold it for 5 ms at a time, so a pipe cost seconds; a file is one read.
        """
        self._dir = tempfile.TemporaryDirectory(prefix="callcenter-tail-")
        job, self._answer = Path(self._dir.name, "job"), Path(self._dir.name, "answer")
        job.write_bytes(pickle.dumps((self._text[self._cut:], self.tail_lines_before, self._name, list(headers),
                                      categories, list(rule_sets), chunk_rows), protocol=pickle.HIGHEST_PROTOCOL))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (_CODE_ROOT, env.get("PYTHONPATH"))))  # this very code
        self._child = subprocess.Popen([sys.executable, "-m", "callcenter.transfer.tail_worker", str(job),
                                        str(self._answer)], env=env, stdin=subprocess.DEVNULL)

    def tail_blocks(self) -> list[TailBlock]:
        """The child's blocks in order; raises the child's :class:`FileRejected` where one pass would."""
        assert self.clean and self._child is not None
        try:
            if self._child.wait() != 0:
                raise TailFailed(f"the tail's process ended with {self._child.returncode}")
            try:
                return pickle.loads(self._answer.read_bytes())
            except (OSError, pickle.UnpicklingError, EOFError) as exc:
                raise TailFailed(f"the tail's answer is unreadable: {exc}") from None
        finally:
            self.cancel()

    def tail_rows(self) -> Iterator[Row]:
        """The tail's rows read here, numbered as in the whole file."""
        return csv_rows(csv.reader(io.StringIO(self._text[self._cut:], newline="")), self._name, self.tail_lines_before)

    def tail_cells(self, lines: set[int]) -> dict[int, list[Any]]:
        """The cells of some tail rows (rows this process rejected, for the rejects file): read again."""
        return {line: cells for line, cells in self.tail_rows() if line in lines}

    def cancel(self) -> None:
        """Stop the child if it still runs, reap it, and remove its files."""
        if self._child is not None:
            if self._child.poll() is None:
                self._child.kill()
            self._child.wait()
            self._child = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


class TailFailed(RuntimeError):
    """The child process did not answer (killed, out of memory): the tail is read here instead."""


def serve_one(job: str, answer: str) -> None:
    """The child's whole life: one job from a file, its blocks to another (see :mod:`.tail_worker`)."""
    blocks = parse_tail(*pickle.loads(Path(job).read_bytes()))
    partial = Path(f"{answer}.partial")
    partial.write_bytes(pickle.dumps(blocks, protocol=pickle.HIGHEST_PROTOCOL))
    partial.rename(answer)


class TailBlock:
    """A block of tail rows as the child parsed them: what the importer's loop needs of each row.

    ``parsed``: per row its errors (a list) or its record's values (a tuple, see
    :func:`~callcenter.ledger.ticket_record.record_values`), which :meth:`results` turns back into records.
    """
    __slots__ = ("lines", "parsed", "numbers", "cells", "rejected")

    def __init__(self, lines: list[int], parsed: list[Any], numbers: list[str], cells: dict[int, list[Any]],
                 rejected: Exception | None = None):
        self.lines, self.parsed, self.numbers, self.cells, self.rejected = lines, parsed, numbers, cells, rejected

    def results(self) -> list[Any]:
        from_values = tr.record_from_values
        return [p if type(p) is list else from_values(p) for p in self.parsed]

    def __reduce__(self):
        return TailBlock, (self.lines, self.parsed, self.numbers, self.cells, self.rejected)


def parse_tail(text: str, lines_before: int, name: str, headers: list[Any], categories: frozenset[str],
               rule_sets: list[RuleSet], chunk_rows: int) -> list[TailBlock]:
    """In the child: the tail's rows parsed block by block, as the importer's loop would parse them.

    A file-level error (a malformed row) ends the list with a block carrying it, after the
    rows before it, so the importer raises it where one pass would have.
    """
    with collector_paused():
        header_map = tr.resolve_headers(headers)
        parser = ColumnParser(header_map, categories, lambda day: rule_set_for(rule_sets, day))
        at = header_map.positions["ticket_no"]
        rows = csv_rows(csv.reader(io.StringIO(text, newline="")), name, lines_before)
        blocks: list[TailBlock] = []
        while True:
            try:
                block = list(islice(rows, chunk_rows))
            except FileRejected as exc:
                blocks.append(TailBlock([], [], [], {}, exc))
                return blocks
            if not block:
                return blocks
            lines = [line for line, _ in block]
            cells_of = [cells for _, cells in block]
            parsed = parser.parse(lines, cells_of)
            numbers = [tr.cell_text(cells[at]) if at < len(cells) else "" for cells in cells_of]
            rejected = {line: cells for line, cells, p in zip(lines, cells_of, parsed) if isinstance(p, list)}
            sent = [p if isinstance(p, list) else tr.record_values(p) for p in parsed]
            blocks.append(TailBlock(lines, sent, numbers, rejected))

