"""Min / median / max over repeated runs: one noisy run is not a figure (see bench/RESULTS.md)."""
from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterable, Mapping, Sequence

DEFAULT_RUNS = 3


def add_runs_argument(parser: argparse.ArgumentParser, default: int = DEFAULT_RUNS, *aliases: str) -> None:
    """Every bench takes ``--runs N`` the same way (``aliases`` keep an older spelling, e.g. ``--repeat``)."""
    parser.add_argument("--runs", *aliases, dest="runs", type=int, default=default,
                        help=f"repeat the measurement N times and report min/median/max (default {default})")


def summary(values: Iterable[float]) -> tuple[float, float, float]:
    """(min, median, max) of the runs."""
    values = sorted(values)
    if not values:
        raise ValueError("no runs to summarise")
    return values[0], statistics.median(values), values[-1]


def format_spread(values: Sequence[float], fmt: str = "{:,.1f}", unit: str = "") -> str:
    """'median (min–max) unit' — the median first, because RESULTS.md quotes it."""
    low, mid, high = summary(values)
    suffix = f" {unit}" if unit else ""
    return f"{fmt.format(mid)} ({fmt.format(low)}–{fmt.format(high)}){suffix}"


def print_table(title: str, figures: Mapping[str, Sequence[float]], fmt: str = "{:,.1f}",
                units: Mapping[str, str] | None = None) -> None:
    """One line per figure: name, median, min, max, and the runs it came from."""
    units = units or {}
    print(f"\n{title}")
    width = max((len(name) for name in figures), default=10)
    print(f"  {'figure':<{width}}  {'median':>12}  {'min':>12}  {'max':>12}  runs")
    for name, values in figures.items():
        low, mid, high = summary(values)
        unit = units.get(name, "")
        print(f"  {name:<{width}}  {fmt.format(mid):>12}  {fmt.format(low):>12}  {fmt.format(high):>12}"
              f"  {len(values)}{' ' + unit if unit else ''}")
