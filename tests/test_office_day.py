"""The office day runs on Beijing time: a UTC evening is already the next office day."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from callcenter.ledger.timezone import OFFICE_TZ, office_day_start


@pytest.mark.parametrize("utc, day", [
    (datetime(2024, 5, 6, 15, 59, tzinfo=timezone.utc), (2024, 5, 6)),   # 23:59 in Beijing
    (datetime(2024, 5, 6, 16, 0, tzinfo=timezone.utc), (2024, 5, 7)),    # midnight in Beijing
    (datetime(2024, 12, 31, 20, 0, tzinfo=timezone.utc), (2025, 1, 1)),
])
def test_the_office_day_starts_at_beijing_midnight(utc, day):
    assert office_day_start(utc) == datetime(*day, tzinfo=OFFICE_TZ)
    assert office_day_start(utc) <= utc


def test_a_naive_instant_is_refused():
    with pytest.raises(ValueError):
        office_day_start(datetime(2024, 5, 6, 12, 0))
