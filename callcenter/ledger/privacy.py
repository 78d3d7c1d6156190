"""Masking citizens' phone numbers for people who need the ticket, not the number.

Agents work tickets all day but never need a full number to do it (the dialer
dials, not them), so every page shows ``138****1234`` unless a supervisor opens
one ticket.  Pure: the web layer decides who sees what; this decides how it looks.
"""
from __future__ import annotations

import re

MASK = "*"
#: Digits kept visible at the end at most: enough to tell two callers apart on the phone.
VISIBLE_TAIL = 4
#: Digits always hidden, as in the familiar 138****1234.
HIDDEN_AT_LEAST = 4

_MOBILE = re.compile(r"^(1[3-9]\d)(\d{8})$")
# Beijing 010 and the 02X cities use 3-digit area codes; every other area code has 4.
_LANDLINE = re.compile(r"^(0(?:10|2\d)|0[3-9]\d{2})(\d{7,8})$")


def mask_phone(phone: str | None) -> str:
    """``'13800001234'`` → ``'138****1234'``; ``'01062345678'`` → ``'010****5678'``.

    Mobiles keep the carrier prefix, landlines the area code; then at least four
    digits are hidden and at most the last four shown.  Anything else is treated
    the same with no prefix kept.  The length never changes, so a masked column
    still lines up.
    """
    if not phone:
        return ""
    text = str(phone).strip()
    if len(text) == 11 and text[0] == "1" and text[1] in "3456789" and text.isdecimal():
        return text[:3] + MASK * 4 + text[7:]      # what _MOBILE's branch gives, without the regex (the usual number)
    for pattern in (_MOBILE, _LANDLINE):
        match = pattern.match(text)
        if match:
            head, rest = match.groups()
            return head + _mask_tail(rest)
    return _mask_tail(text)


def _mask_tail(text: str) -> str:
    """Hide every digit but the last few, keeping at least :data:`HIDDEN_AT_LEAST` hidden."""
    if text.isdigit():          # the usual case, without the walk below (a list page masks 50 at once)
        shown = max(0, min(VISIBLE_TAIL, len(text) - HIDDEN_AT_LEAST))
        return MASK * (len(text) - shown) + text[len(text) - shown:]
    digits = sum(ch.isdigit() for ch in text)
    shown = max(0, min(VISIBLE_TAIL, digits - HIDDEN_AT_LEAST))
    out, left_to_show = [], shown
    for ch in reversed(text):
        if ch.isdigit() and left_to_show:
            left_to_show -= 1
            out.append(ch)
        else:
            out.append(MASK if ch.isdigit() else ch)
    return "".join(reversed(out))


def shown_phone(phone: str | None, *, masked: bool = True) -> str:
    """A number as a report shows it: masked unless the operator asked for it in full (and was audited)."""
    return mask_phone(phone) if masked else (phone or "")
