"""The cyclic garbage collector, tuned once a service process is up.

Why: a call allocates thousands of short-lived objects (AGI replies, AMI
events, asyncpg records, tasks), and with the default thresholds the collector
swept the young objects every 700 allocations and, now and then, walked every
object of the ~100,000 the imported modules and pools hold for the process's
whole life.  On the 4k-call bench that was 459 young, 42 middle and 3 full
collections: 0.83 s of the serving process's 12.6 s of CPU (bench/RESULTS.md,
callback campaign).  Reference counting frees nearly all of those objects the
moment they are dropped; the collector is only for cycles.

:func:`settle_for_serving` freezes what exists once the service is up (it is
never collected again, and full collections no longer walk it) and lets the
young generation grow to :data:`YOUNG_THRESHOLD` objects between sweeps.
Cyclic garbage then waits a little longer to be freed: a few megabytes at most.
"""
from __future__ import annotations

import gc

#: Allocations (net of frees) between two sweeps of the young generation (Python's default: 700).
YOUNG_THRESHOLD = 20_000


def settle_for_serving() -> None:
    """Collect once, freeze the survivors (modules, settings, pools) and space out young sweeps."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
