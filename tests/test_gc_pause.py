"""The import pauses the cycle collector and always gives it back as it found it."""
from __future__ import annotations

import gc
import threading

import pytest

from callcenter.transfer.gc_pause import collector_paused


@pytest.fixture(autouse=True)
def restore_collector():
    enabled = gc.isenabled()
    yield
    (gc.enable if enabled else gc.disable)()


def test_paused_inside_and_back_after_even_when_the_body_raises():
    gc.enable()
    with pytest.raises(RuntimeError):
        with collector_paused():
            assert not gc.isenabled()
            raise RuntimeError("import failed")
    assert gc.isenabled()


def test_overlapping_pauses_resume_only_when_the_last_ends():
    gc.enable()
    inner_started, outer_done = threading.Event(), threading.Event()
    seen = {}

    def other_import():
        with collector_paused():
            inner_started.set()
            outer_done.wait(5)
            seen["after the first ended"] = gc.isenabled()

    thread = threading.Thread(target=other_import)
    with collector_paused():
        thread.start()
        inner_started.wait(5)
    outer_done.set()
    thread.join(5)
    assert seen == {"after the first ended": False}
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_off():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
