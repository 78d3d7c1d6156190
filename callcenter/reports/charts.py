"""The report's charts as PNG bytes (matplotlib, Agg, with a CJK font so 分类 names render).

The font is Debian's fonts-wqy-microhei (WenQuanYi Micro Hei); without it
the charts still draw, with boxes for Chinese characters, and a warning is logged.
"""
from __future__ import annotations

import io
import logging
from datetime import date
from typing import Sequence

from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

log = logging.getLogger(__name__)
CJK_FONTS = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Source Han Sans SC")


def _font() -> str | None:
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    log.warning("no CJK font found (install fonts-wqy-microhei): chart labels will not render")
    return None


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    return buffer.getvalue()


def _style() -> dict:
    font = _font()
    return {"font.family": "sans-serif", "font.sans-serif": [font] if font else [], "axes.unicode_minus": False}


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], *, horizontal: bool = False,
              ylabel: str = "件") -> bytes:
    with rc_context(_style()):
        fig = Figure(figsize=(7, 3.6))      # no pyplot: no global figure registry, safe in a worker thread
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        if horizontal:
            ax.barh(list(labels)[::-1], list(values)[::-1], color="#2f6fb0")
            ax.set_xlabel(ylabel)
        else:
            ax.bar(list(labels), list(values), color="#2f6fb0")
            ax.set_ylabel(ylabel)
            ax.tick_params(axis="x", labelrotation=45 if len(labels) > 8 else 0)
        ax.set_title(title)
        ax.grid(axis="x" if horizontal else "y", alpha=0.3)
        return _png(fig)


def daily_chart(title: str, days: Sequence[tuple[date, int]]) -> bytes:
    return bar_chart(title, [d.strftime("%m-%d") for d, _ in days], [n for _, n in days])
