"""Graph checks on a script's nodes: what can never run, and loops a call could never leave.

Pure functions over ``name → successor names`` so they are easy to test and
reuse; the loader turns their findings into FILE:LINE errors.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence


def reachable(graph: Mapping[str, Sequence[str]], start: str) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for nxt in graph.get(stack.pop(), ()):
            if nxt in graph and nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def can_finish(graph: Mapping[str, Sequence[str]], terminals: Iterable[str]) -> set[str]:
    """Nodes from which some path reaches a terminal node."""
    back: dict[str, list[str]] = {name: [] for name in graph}
    for name, targets in graph.items():
        for target in targets:
            if target in back:
                back[target].append(name)
    done = {t for t in terminals if t in graph}
    stack = list(done)
    while stack:
        for prev in back[stack.pop()]:
            if prev not in done:
                done.add(prev)
                stack.append(prev)
    return done


def trapped_loops(graph: Mapping[str, Sequence[str]], start: str, terminals: Iterable[str]) -> list[list[str]]:
    """Loops reachable from ``start`` with no path out to a terminal, each listed once, in graph order.

    Every node that cannot finish leads into such a loop (all non-terminal
    nodes have a successor), so reporting the loops names the real culprit.
    """
    live = reachable(graph, start)
    trapped = [n for n in graph if n in live and n not in can_finish(graph, terminals)]
    inner = {n: [t for t in graph[n] if t in trapped] for n in trapped}
    closure = {n: reachable(inner, n) for n in trapped}
    loops: list[list[str]] = []
    placed: set[str] = set()
    for node in trapped:
        if node in placed:
            continue
        component = [m for m in trapped if m in closure[node] and node in closure[m]]
        is_cycle = len(component) > 1 or node in inner[node]
        if is_cycle:
            loops.append(component)
            placed.update(component)
    return loops
