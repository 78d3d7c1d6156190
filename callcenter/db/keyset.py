"""Keyset pages (the lists are newest first while rows keep arriving, so no OFFSET).

A page query asks for one row more than it shows: if that row came, there is a
next page, and it starts just after the last row shown.
"""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

import asyncpg

K = TypeVar("K")


def split_page(rows: Sequence[asyncpg.Record], size: int,
               key_of: Callable[[asyncpg.Record], K]) -> tuple[list[asyncpg.Record], K | None]:
    """The ``size`` rows to show, and the next page's key (None on the last page)."""
    shown = list(rows[:size])
    return shown, (key_of(shown[-1]) if len(rows) > size else None)
