"""How a campaign's progress reads: counters in the order of a call's life, the bars, the rates so far.

Pure functions over the counters of callcenter.db.campaigns.progress, shared by
the detail page and its live stream, so both always say the same thing.
"""
from __future__ import annotations

from typing import Any, Mapping

from ...campaigns.outcomes import Outcome
from ...scoring.rates import Rates, display
from ..core.labels import ATTEMPT_STATE_NAMES as STATE_LABELS
from ..core.labels import OUTCOME_NAMES

#: A call's life: the tickets taken in, calls placed, waiting, ringing, talking, then how they ended.
COUNTER_ORDER = ("tickets", "placed", "pending", "dialing", "answered",
                 Outcome.ANSWERED_COMPLETE.value, Outcome.ANSWERED_PARTIAL.value, Outcome.REFUSED.value,
                 Outcome.BUSY.value, Outcome.NO_ANSWER.value, Outcome.FAILED.value, Outcome.INVALID_NUMBER.value,
                 "cancelled", "open_tickets")
COUNTER_LABELS = {"tickets": "工单", "open_tickets": "回访未结束工单", "placed": "已拨", **STATE_LABELS,
                  **OUTCOME_NAMES}
#: The stacked outcome bar: ended calls by outcome, with a colour each (the legend says which is which).
OUTCOME_COLOURS = {Outcome.ANSWERED_COMPLETE.value: "#2e7d32", Outcome.ANSWERED_PARTIAL.value: "#9ccc65",
                   Outcome.REFUSED.value: "#8d6e63", Outcome.BUSY.value: "#ffb300",
                   Outcome.NO_ANSWER.value: "#fb8c00", Outcome.FAILED.value: "#e53935",
                   Outcome.INVALID_NUMBER.value: "#6d4c41"}
DONE_LABEL = "已完成"


def ordered_counters(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """Every counter, life order first, anything unforeseen after it (never dropped)."""
    keys = [k for k in COUNTER_ORDER if k in counts or k in ("tickets", "placed", "pending", "open_tickets")]
    keys += sorted(k for k in counts if k not in COUNTER_ORDER)
    return [{"key": k, "label": COUNTER_LABELS.get(k, k), "value": int(counts.get(k, 0))} for k in keys]


def outcome_segments(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """The stacked bar's parts: each outcome's share of the calls ended so far (x, width in percent)."""
    ended = [(k, int(counts.get(k, 0))) for k in OUTCOME_COLOURS if counts.get(k)]
    total = sum(n for _, n in ended)
    segments, x = [], 0.0
    for key, n in ended:
        width = 100.0 * n / total
        segments.append({"key": key, "label": OUTCOME_NAMES[key], "count": n, "colour": OUTCOME_COLOURS[key],
                         "x": round(x, 3), "width": round(width, 3), "percent": round(width)})
        x += width
    return segments


def is_done(counts: Mapping[str, int]) -> bool:
    """Every ticket taken in has had its callback settled: nothing is left to dial or to wait for."""
    return int(counts.get("tickets", 0)) > 0 and int(counts.get("open_tickets", 0)) == 0


def shown_state(state: str, standing: bool, counts: Mapping[str, int], labels: Mapping[str, str]) -> str:
    """The state as people read it: a one-off running campaign with nothing left is 已完成."""
    if state == "running" and not standing and is_done(counts):
        return DONE_LABEL
    return labels.get(state, state)


def progress_percent(counts: Mapping[str, int]) -> int:
    tickets = int(counts.get("tickets", 0))
    if tickets == 0:
        return 0
    return round(100 * (tickets - int(counts.get("open_tickets", 0))) / tickets)


def rates_so_far(r: Rates | None) -> dict[str, str]:
    """响应率 / 解决率 / 满意率 of this campaign's completed callbacks ("—" until one is scored)."""
    def pct(value) -> str:
        shown = display(value) if value is not None else None
        return "—" if shown is None else f"{shown}%"
    if r is None:
        return {"response": "—", "solved": "—", "satisfied": "—", "n": "0"}
    return {"response": pct(r.response), "solved": pct(r.solved), "satisfied": pct(r.satisfied),
            "n": str(r.counts.n)}


def snapshot_view(state: str, standing: bool, counts: Mapping[str, int], rates: Rates | None,
                  state_labels: Mapping[str, str], checked_at: str) -> dict[str, Any]:
    """Everything the page shows live, as the stream sends it."""
    return {"state": state, "state_label": shown_state(state, standing, counts, state_labels),
            "done": is_done(counts), "counters": ordered_counters(counts), "segments": outcome_segments(counts),
            "progress": progress_percent(counts), "rates": rates_so_far(rates), "checked_at": checked_at}
