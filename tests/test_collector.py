"""The serving process's collector settings: startup objects frozen, young sweeps spaced out."""
from __future__ import annotations

import gc

from callcenter.collector import YOUNG_THRESHOLD, settle_for_serving


def test_settle_for_serving_freezes_what_exists_and_spaces_young_sweeps():
    before = gc.get_threshold()
    survivor = [object() for _ in range(100)]          # alive at start-up: a module's table, say
    try:
        settle_for_serving()
        assert gc.get_freeze_count() >= len(survivor)
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        assert not any(o is survivor for o in gc.get_objects())       # frozen: out of the collector's walks
        cycle: list = []
        cycle.append(cycle)                           # garbage made after start-up is still collected
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
