"""Reports are drawn in a child process, so drawing never holds the service's interpreter."""
from __future__ import annotations

import os

import pytest

from callcenter.reports.render_process import in_child_process


def _fail(message: str) -> None:
    raise ValueError(message)


async def test_the_job_runs_in_another_process_and_its_result_comes_back():
    assert await in_child_process(os.getpid) != os.getpid()
    assert await in_child_process(divmod, 17, 5) == (3, 2)


async def test_a_failing_job_raises_its_own_error_in_the_caller():
    with pytest.raises(ValueError, match="图表"):
        await in_child_process(_fail, "图表")


def test_the_service_and_its_web_app_never_load_matplotlib():
    """Only a report's child draws charts, so the service's processes need not hold matplotlib (with it,
    about half of a process's memory at start)."""
    import subprocess
    import sys
    probe = ("import sys, callcenter.service, callcenter.web.app, callcenter.reports.schedule; "
             "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"
