"""Parse a block of rows column by column: the same records and errors as ``parse_row``, a row at a time.

Why: a city export repeats itself down each column (a dozen categories, six
departments, two urgencies, timestamps a few seconds apart), so parsing each
distinct value of a column once and looking the rest up is several times faster
than running the generic per-cell code 27 times a row.  The results must not
differ in any way from :func:`callcenter.ledger.ticket_record.parse_row` — same
records, same errors in the same order with the same text — and the tests hold
the two side by side.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Callable, Iterable, Sequence

from . import ticket_record as tr
from .timezone import OFFICE_TZ, PerOfficeDay, local_date
from ..scoring.rules import DEFAULT_RULE_SET, RuleSet, RuleSetError

_MISSING = object()


class _Failed:
    """A cell's parse failed: the reason, kept in the cache so a repeated bad value is not parsed again."""
    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


#: Cell types that compare equal across types (True == 1 == 1.0) yet read differently (是 / 1).
_NUMERIC = frozenset({bool, int, float})


class CachedParser:
    """A field's parser run once per distinct cell of a column; a :class:`FieldError` is kept as a :class:`_Failed`.

    One cache per cell type, so ``True``, ``1`` and ``1.0`` never share an entry.
    ``failed`` tells whether any cell ever failed, so a clean column is never scanned
    for failures.
    """
    __slots__ = ("_parse", "_caches", "failed")

    def __init__(self, parse: Callable[[Any], Any]):
        self._parse = parse
        self._caches: dict[type, dict[Any, Any]] = {}
        self.failed = False

    def _attempt(self, value: Any) -> Any:
        try:
            return self._parse(value)
        except tr.FieldError as exc:
            self.failed = True
            return _Failed(str(exc))

    def _one(self, value: Any) -> Any:
        cache = self._caches.setdefault(type(value), {})
        try:
            hit = cache.get(value, _MISSING)
            if hit is _MISSING:
                hit = cache[value] = self._attempt(value)
        except TypeError:                    # an unhashable cell: parse it as it is
            return self._attempt(value)
        return hit

    def column(self, cells: Sequence[Any]) -> list[Any]:
        """The parsed value (or :class:`_Failed`) of each cell, in order."""
        types = set(map(type, cells))
        if self._parse is tr.text_cell and types == {str} and not any("\x00" in c for c in cells):
            return [c.strip() for c in cells]    # free text, mostly unique: caching would not pay
        if self._parse in _TIME_PARSERS:
            return self._times(cells)
        try:
            if len(types) == 1:              # every CSV column, most xlsx ones: lookups at C speed
                cache = self._caches.setdefault(types.pop(), {})
                for value in set(cells).difference(cache):
                    cache[value] = self._attempt(value)
                return list(map(cache.__getitem__, cells))
            if len(types & _NUMERIC) <= 1:   # e.g. '' and datetimes: no two cells equal across types
                lookup = {value: self._one(value) for value in set(cells)}
                return list(map(lookup.__getitem__, cells))
        except TypeError:                    # an unhashable cell somewhere: cell by cell
            pass
        return [self._one(value) for value in cells]


    def _times(self, cells: Sequence[Any]) -> list[Any]:
        """A timestamp column: the two common spellings read directly, everything else by the field's parser.

        Why: timestamps are nearly all distinct, so the cache does not pay.  A CSV
        writes canonical text (read by ``datetime.fromisoformat``, in C); an xlsx gives
        naive whole-second datetimes (Beijing time: the zone is attached).  Anything
        ``fromisoformat`` refuses (24:00, 2024-02-30, full-width digits), an
        implausible year, a fraction of a second, an aware or subclassed datetime, and
        every other type go to the parser, which words the error; either way a cell
        parses to the same aware datetime.
        """
        canonical, from_iso, years, one = tr.CANONICAL_TIME.fullmatch, datetime.fromisoformat, tr.PLAUSIBLE_YEARS, self._one
        parsed = []
        for cell in cells:
            kind = type(cell)
            if kind is str:
                if canonical(cell):
                    try:
                        moment = from_iso(cell)
                    except ValueError:
                        pass
                    else:
                        if moment.year in years:
                            parsed.append(moment.replace(tzinfo=OFFICE_TZ))
                            continue
            elif kind is datetime and cell.tzinfo is None and not cell.microsecond and cell.year in years:
                parsed.append(cell.replace(tzinfo=OFFICE_TZ))
                continue
            parsed.append(one(cell))
        return parsed


#: The timestamp fields' parsers (see :meth:`CachedParser._times`).
_TIME_PARSERS = frozenset({tr.parse_time, tr.required_time})


class ColumnParser:
    """Parses blocks of rows of one file (the caches live as long as the file's parse)."""

    def __init__(self, headers: tr.HeaderMap, categories: Iterable[str] | frozenset[str],
                 rule_set_on: Callable[[date], RuleSet] = lambda day: DEFAULT_RULE_SET):
        self._categories = categories
        self._plan = [(f.column, index, label, CachedParser(f.parse)) for f, index, label in headers.plan]
        self._names = tuple(column for column, _, _, _ in self._plan)
        self._width = max((index for _, index, _, _ in self._plan), default=-1) + 1
        self._rule_set = PerOfficeDay(lambda at: rule_set_on(local_date(at)))    # the rule set in force that day
        self._answers: dict[tuple[int, str, str], Any] = {}
        self._answer_labels = {c: headers.label(c) for c in tr.ANSWER_COLUMNS}
        self._category_label = headers.label("category_l1")
        self._later_labels = {c: headers.label(c) for c in ("dispatched_at", "closed_at", "city_callback_at")}

    def parse(self, lines: Sequence[int], rows: Sequence[Sequence[Any]]) -> list[tr.TicketRecord | list[tr.RowError]]:
        """One result per row, as ``parse_row(rows[i], headers, lines[i], categories, rule_set_on)`` gives."""
        if not rows:
            return []
        width = self._width
        padded = [r if len(r) >= width else [*r, *([None] * (width - len(r)))] for r in rows]
        columns = list(zip(*padded))
        parsed_columns = []
        errors: dict[int, list[tr.RowError]] = {}
        for _, index, label, parse in self._plan:
            cells = columns[index]
            parsed = parse.column(cells)
            parsed_columns.append(parsed)
            if parse.failed:
                for i, value in enumerate(parsed):
                    if type(value) is _Failed:
                        errors.setdefault(i, []).append(
                            tr.RowError(lines[i], label, value.reason, tr.cell_text(cells[i])))
        names = self._names
        results = []
        for i, row_values in enumerate(zip(*parsed_columns)):
            row_errors = errors.get(i)
            if row_errors is None:
                values = dict(zip(names, row_values))
            else:
                values = {n: v for n, v in zip(names, row_values) if type(v) is not _Failed}
            results.append(self._finish(lines[i], values, row_errors))
        return results

    def _finish(self, line: int, values: dict[str, Any], errors: list[tr.RowError] | None
                ) -> tr.TicketRecord | list[tr.RowError]:
        """The cross-column checks of ``parse_row``, in its order."""
        errors = errors or []
        called = values.get("called_at")
        rule_set = self._rule_set(called) if called else DEFAULT_RULE_SET
        for column, question in tr.ANSWER_COLUMNS.items():
            text = values.get(column)
            if text:
                answer = self._answer(rule_set, question, text)
                if type(answer) is _Failed:
                    errors.append(tr.RowError(line, self._answer_labels[column], answer.reason, text))
                else:
                    values[column] = answer
        category = values.get("category_l1")
        if category and category not in self._categories:
            errors.append(tr.RowError(line, self._category_label, f"未知一级分类 “{category}” (不在分类表中)",
                                      category))
        if called:
            for column, label in self._later_labels.items():
                later = values.get(column)
                if later and later < called:
                    errors.append(tr.RowError(line, label, f"早于来电时间 {tr.cell_text(called.replace(tzinfo=None))}",
                                              tr.cell_text(later.astimezone(OFFICE_TZ).replace(tzinfo=None))))
        if errors:
            return errors
        return tr.record_of(values)

    def _answer(self, rule_set: RuleSet, question: str, text: str) -> Any:
        key = (id(rule_set), question, text)
        answer = self._answers.get(key, _MISSING)
        if answer is _MISSING:
            try:
                answer = rule_set.answer(question, text)
            except RuleSetError as exc:
                answer = _Failed(str(exc))
            self._answers[key] = answer
        return answer
