"""Citizens' phone numbers never reach a log file in full.

Why a logging filter and not care at each call site: numbers reach logs from
everywhere (AMI events, channel names, SQL errors, tracebacks), and one
forgotten ``log.info("%s", phone)`` would be a leak.  The filter sits on the
handlers, so it sees every record of every library, formats it, and masks
anything shaped like a Chinese mobile or a landline with its area code, the
way the web pages do (:func:`callcenter.ledger.privacy.mask_phone`).

Not masked: bare 7–8 digit local numbers without an area code; they cannot be
told apart from dates, counts and ticket numbers.
"""
from __future__ import annotations

import logging
import re

from .ledger.privacy import mask_phone

# No letter or digit may touch a number: 14-digit ticket numbers, Uniqueids and hex ids stay whole.
# Chinese characters may (来电人13800001234反映), so \w is not used here.
_EDGE_BEFORE = r"(?<![0-9A-Za-z])"
_EDGE_AFTER = r"(?![0-9A-Za-z])"
_COUNTRY = r"(?:\+?86[- ]?)?"
_MOBILE = r"1[3-9]\d[- ]?\d{4}[- ]?\d{4}"
_LANDLINE = r"\(?0(?:10|2\d|[3-9]\d{2})\)?[- ]?\d{7,8}"
PHONE_PATTERN = re.compile(f"{_EDGE_BEFORE}{_COUNTRY}(?P<number>{_MOBILE}|{_LANDLINE}){_EDGE_AFTER}")


def _mask_match(match: re.Match) -> str:
    """Mask the digits of one number, keeping its separators and any +86 where they were."""
    number = match.group("number")
    masked = iter(mask_phone("".join(ch for ch in number if ch.isdigit())))
    out = "".join(next(masked) if ch.isdigit() else ch for ch in number)
    whole = match.group(0)
    return whole[: match.start("number") - match.start()] + out


def mask_phones(text: str) -> str:
    """Every phone-looking number in ``text`` masked: ``'call 13800001234'`` → ``'call 138****1234'``."""
    return PHONE_PATTERN.sub(_mask_match, text)


class PhoneMaskFilter(logging.Filter):
    """Masks phone numbers in a record's message, its args and its traceback text; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:           # a broken format string: let the handler report it as usual
            return True
        masked = mask_phones(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_phones(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_phones(record.stack_info)
        return True


def install(logger: logging.Logger | None = None) -> PhoneMaskFilter:
    """Put one mask filter on every handler of ``logger`` (default: the root logger).

    On handlers, not the logger: a logger's own filters do not see records
    propagated from child loggers, and every library logs through a child.
    """
    target = logger or logging.getLogger()
    mask = next((f for h in target.handlers for f in h.filters if isinstance(f, PhoneMaskFilter)),
                PhoneMaskFilter())
    for handler in target.handlers:
        if mask not in handler.filters:
            handler.addFilter(mask)
    return mask
