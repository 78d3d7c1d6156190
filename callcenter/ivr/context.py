"""The facts about one call that prompts may speak: the ticket's number, title and date.

Scripts name these variables in prompt parts (``{tts:ticket_title}``); the
loader checks the names against :data:`TEMPLATE_VARIABLES` so a typo fails at
load time, not in front of a citizen.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from ..ledger.timezone import as_local

#: Variable name → Python type of its value.
TEMPLATE_VARIABLES: Mapping[str, type] = {
    "ticket_no": str,            # 工单编号
    "ticket_title": str,         # 标题
    "ticket_category": str,      # 一级分类
    "ticket_called_at": datetime,  # 来电时间 (for SAY DATETIME)
    "ticket_date": str,          # 来电日期 as spoken Chinese text, e.g. "5月3日" (for TTS)
}


def spoken_date(at: datetime) -> str:
    """``5月3日``: how the greeting names the day the citizen called (Beijing time)."""
    local = as_local(at)
    return f"{local.month}月{local.day}日"


@dataclass(frozen=True)
class CallContext:
    attempt_id: str
    ticket_id: int | None = None
    variables: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def for_ticket(cls, attempt_id: str, *, ticket_id: int, ticket_no: str, title: str,
                   called_at: datetime, category: str = "") -> "CallContext":
        return cls(attempt_id=attempt_id, ticket_id=ticket_id, variables={
            "ticket_no": ticket_no,
            "ticket_title": title,
            "ticket_category": category,
            "ticket_called_at": called_at,
            "ticket_date": spoken_date(called_at),
        })
