"""Phone masking: what an agent sees of a citizen's number."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from callcenter.ledger.privacy import mask_phone


@pytest.mark.parametrize("phone, masked", [
    ("13800001234", "138****1234"),
    ("19912345678", "199****5678"),
    ("01062345678", "010****5678"),     # Beijing landline, 8-digit local number
    ("02187654321", "021****4321"),     # Shanghai
    ("057112345678", "0571****5678"),   # 4-digit area code, 8-digit local number
    ("05711234567", "0571****567"),     # 7-digit local number: four hidden, three shown
    ("", ""),
    (None, ""),
    ("12345", "****5"),                 # short service numbers show at most what exceeds four
    ("1234", "****"),
    ("62345678", "****5678"),           # landline without area code
    ("138-0000-1234", "***-****-1234"),  # unnormalised text: separators kept, digits masked
])
def test_known_formats(phone, masked):
    assert mask_phone(phone) == masked


@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_masking_keeps_length_and_always_hides_at_least_four_digits(phone):
    masked = mask_phone(phone)
    assert len(masked) == len(phone)
    hidden = masked.count("*")
    assert hidden >= min(4, len(phone))                 # as hidden as a mobile, or wholly
    if len(phone) >= 8:
        # The tail that tells callers apart: four digits, or three when a kept area code leaves only
        # seven (0300 + 0000000 → 0300****000, 010 + 0000000 → 010****000) and four must stay hidden.
        assert masked[-3:] == phone[-3:]
        assert masked[-4] == phone[-4] or hidden == 4
    # What is shown is shown in place: a masked digit never changes value.
    assert all(m == "*" or m == p for m, p in zip(masked, phone))


@given(st.from_regex(r"1[3-9]\d{9}", fullmatch=True))
def test_every_mobile_shows_prefix_and_tail_only(phone):
    assert mask_phone(phone) == phone[:3] + "****" + phone[-4:]
