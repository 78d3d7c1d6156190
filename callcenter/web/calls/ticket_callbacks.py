"""What a ticket's page shows about its callbacks: the attempts and every supervisor correction."""
from __future__ import annotations

from typing import Any

import asyncpg

from ...db import review_queries
from ...scoring.answers import SOURCE_LABELS
from ..core.access import MANAGERS
from .call_view import STATE_LABELS, intent_label, outcome_label, question_label


async def ticket_callbacks_context(conn: asyncpg.Connection, ticket_id: int, role: str) -> dict[str, Any]:
    return {
        "callback_attempts": await review_queries.ticket_callbacks(conn, ticket_id),
        "score": await review_queries.ticket_score(conn, ticket_id),
        "score_source_label": SOURCE_LABELS,
        "answer_corrections": await review_queries.ticket_corrections(conn, ticket_id),
        "may_review_calls": role in MANAGERS,
        "callback_state_labels": STATE_LABELS,
        "callback_outcome_label": outcome_label,
        "callback_question_label": question_label,
        "callback_intent_label": intent_label,
    }
