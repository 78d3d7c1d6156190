"""Caller ID as trunks present it → the phone the ledger knows the caller by (screen-pop history, call rows)."""
from __future__ import annotations

import pytest

from callcenter.hotline.service import caller_phone


@pytest.mark.parametrize("raw, phone", [
    ("13800000001", "13800000001"),
    ("+8613800000001", "13800000001"),
    ("013800000001", "13800000001"),          # out-of-area mobile: the carrier's trunk 0 (外地手机加0)
    ("01061234567", "01061234567"),           # Beijing landline: its 0 stays
    ("02161234567", "02161234567"),
    ("anonymous", ""), ("<unknown>", ""), ("", ""),     # withheld: no history, no call back
])
def test_caller_id_becomes_the_ledgers_phone(raw, phone):
    assert caller_phone(raw) == phone
