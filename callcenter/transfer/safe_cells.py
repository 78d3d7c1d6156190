"""Spreadsheet formula injection: text that Excel or WPS would run as a formula leaves as plain text.

Why: exports go to other offices and are opened in Excel/WPS; a ticket titled
``=HYPERLINK(...)`` or ``@SUM(...)`` would otherwise run there.  Every cell of
every exporter (the web export, ``callcenter export``, the repeat-complainant
ledger, the monthly report) passes through :func:`safe_cell`, which follows
OWASP's CSV-injection guidance: a text cell starting with ``= + - @``, a tab
or a carriage return gets a leading single quote.  Dates and numbers are not
text and stay typed cells.
"""
from __future__ import annotations

from typing import Any

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` unchanged unless it is text that could start a formula; then ``'`` + text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
