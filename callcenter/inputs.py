"""The rules every value from outside obeys, in one place: web forms, query strings, JSON bodies, CLI, imported cells.

Why one module: the same hostile values (a NUL byte, ``²`` that ``str.isdigit``
accepts but ``int`` refuses, ids beyond a bigint, year 1 or 9999 that
overflow date arithmetic, JSON nested 100,000 deep) broke many handlers, each
checked by hand.  Every parser here either returns a typed value within its
limits or raises :class:`InputError` with a Chinese message naming the field.
Pure (no aiohttp), so the CLI, the importer and the web app share it.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pydantic_core

#: Largest PostgreSQL bigint / integer: ids beyond them cannot exist and must not reach a query.
MAX_ID = 2 ** 63 - 1
MAX_INT32 = 2 ** 31 - 1
#: Dates people may enter: wide enough for any ticket, narrow enough that ±1 day never overflows.
MIN_DAY = date(1900, 1, 1)
MAX_DAY = date(2999, 12, 31)
#: JSON nesting the API accepts (real bodies are 1–2 deep); pydantic's parser stops far below Python's stack.
MAX_JSON_DEPTH = 16


class InputError(ValueError):
    """A value from outside that breaks a rule; the message is for the person who sent it."""


def ascii_digits(raw: str) -> bool:
    """Only 0-9: ``"²".isdigit()`` is true, yet ``int("²")`` fails, and ``"１２"`` is not a number we store."""
    return bool(raw) and raw.isascii() and raw.isdigit()


def bounded_int(raw: str, label: str, *, low: int = 1, high: int = MAX_ID) -> int:
    """``raw`` as an integer in [low, high], ASCII digits only."""
    raw = raw.strip()
    if not ascii_digits(raw) or len(raw) > 19 or not low <= int(raw) <= high:
        raise InputError(f"{label}应为 {low}–{high} 的整数: {raw[:40]}")
    return int(raw)


def bounded_day(raw: str, label: str) -> date:
    """``raw`` as YYYY-MM-DD between :data:`MIN_DAY` and :data:`MAX_DAY`."""
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise InputError(f"{label}格式应为 YYYY-MM-DD: {raw[:40]}") from None
    if not MIN_DAY <= day <= MAX_DAY:
        raise InputError(f"{label}超出范围 ({MIN_DAY.year}–{MAX_DAY.year} 年): {raw[:40]}")
    return day


def in_bounds(at: datetime) -> bool:
    """Whether an instant lies in the dates people may enter (keyset cursors, deadlines)."""
    return MIN_DAY <= at.date() <= MAX_DAY


def has_nul(text: str) -> bool:
    """PostgreSQL text cannot hold U+0000; a NUL is never meaningful in our fields."""
    return "\x00" in text


def clean_text(raw: str, label: str, *, max_len: int) -> str:
    """Free text: no NUL, at most ``max_len`` characters."""
    if has_nul(raw):
        raise InputError(f"{label}含有不允许的控制字符 (NUL)")
    if len(raw) > max_len:
        raise InputError(f"{label}过长 (最多 {max_len} 字)")
    return raw


def _depth(value: Any, limit: int) -> int:
    stack, deepest = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def parse_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A JSON body, refused (not crashed on) when malformed, too deep, or carrying a NUL in a string."""
    try:
        value = pydantic_core.from_json(raw)
    except ValueError as exc:
        if "recursion limit" in str(exc):
            raise InputError(f"请求体 JSON 嵌套过深 (最多 {max_depth} 层)") from None
        raise InputError("请求体不是有效的 JSON") from None
    if _depth(value, max_depth) > max_depth:
        raise InputError(f"请求体 JSON 嵌套过深 (最多 {max_depth} 层)")
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if has_nul(text) or "\\u0000" in text:
        raise InputError("请求体含有不允许的控制字符 (NUL)")
    return value
