"""Keyset paging shared by the ledger and the call list: the ``after=`` key and the links a list page shows.

Why keyset and not OFFSET: the lists are sorted newest first while calls keep
arriving, so an offset would skip or repeat rows between two clicks.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping, Protocol
from urllib.parse import urlencode

from ...inputs import ascii_digits, in_bounds
from .params import MAX_ID

BAD_KEY = "分页参数无效, 请从第一页重新浏览"


def encode_page_key(at: datetime, ident: object) -> str:
    return f"{at.isoformat()}~{ident}"


def split_page_key(raw: str) -> tuple[datetime, str]:
    """The aware instant and the raw id of an ``after=`` key; :class:`ValueError` (:data:`BAD_KEY`) otherwise."""
    stamp, sep, ident = raw.partition("~")
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        raise ValueError(BAD_KEY) from None
    if not sep or at.tzinfo is None or not in_bounds(at):
        raise ValueError(BAD_KEY)
    return at, ident


def split_numeric_page_key(raw: str) -> tuple[datetime, int]:
    """An ``after=`` key whose id is a bigint; one no row can have is refused before it reaches a query."""
    at, ident = split_page_key(raw)
    if not ascii_digits(ident) or len(ident) > 19 or int(ident) > MAX_ID:
        raise ValueError(BAD_KEY)
    return at, int(ident)


def after_key(query: Mapping[str, str], decode: Callable[[str], Any], errors: list[str]) -> Any:
    """The decoded ``after=`` key, None on the first page; a bad one is reported in ``errors``."""
    if not query.get("after"):
        return None
    try:
        return decode(str(query["after"]))
    except ValueError as exc:
        errors.append(str(exc))
        return None


def filter_query_string(values: Mapping[str, str], **extra: str) -> str:
    """The filter as a query string (non-empty values only), plus e.g. ``after=``."""
    pairs = [(k, v) for k, v in values.items() if v] + [(k, v) for k, v in extra.items() if v]
    return urlencode(pairs)


class _Parsed(Protocol):
    values: dict[str, str]
    errors: list[str]
    after: Any


def list_context(path: str, parsed: _Parsed, page: Any, encode: Callable[[Any], str]) -> dict[str, Any]:
    """What a paged list template needs: this page's rows, the filter's values and errors, first/next links."""
    next_url = None
    if page and page.next_key:
        next_url = f"{path}?" + filter_query_string(parsed.values, after=encode(page.next_key))
    return {
        "rows": page.rows if page else [],
        "errors": parsed.errors,
        "values": parsed.values,
        "paged": parsed.after is not None,
        "next_url": next_url,
        "first_url": f"{path}?" + filter_query_string(parsed.values),
    }


def page_number(raw: object) -> int:
    """``?page=`` as a number from 1; anything else is page 1 (a stale link must still open the list)."""
    text = str(raw or "")
    return int(text) if ascii_digits(text) and 0 < int(text) <= MAX_ID else 1


def page_links(current: int, pages: int, *, around: int = 2) -> list[int | None]:
    """Page numbers to offer: the first, the last, and a few around the current one (None: a gap "…")."""
    shown = sorted({1, pages, *range(max(1, current - around), min(pages, current + around) + 1)})
    links: list[int | None] = []
    for n in shown:
        if links and n - (links[-1] or 0) > 1:
            links.append(None)
        links.append(n)
    return links
