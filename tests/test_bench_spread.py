"""The benchmarks' min/median/max helper: the figure RESULTS.md quotes is the median of the runs."""
import pytest

from bench.spread import format_spread, summary


def test_summary_is_min_median_max_whatever_the_order():
    assert summary([5.0, 1.0, 3.0]) == (1.0, 3.0, 5.0)
    assert summary([4.0, 1.0]) == (1.0, 2.5, 4.0)


def test_format_puts_the_median_first():
    assert format_spread([10.0, 30.0, 20.0], "{:.0f}", "ms") == "20 (10–30) ms"


def test_no_runs_is_an_error_not_a_zero():
    with pytest.raises(ValueError):
        summary([])
