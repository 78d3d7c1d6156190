"""语音审核队列: speech answers the recognizer was unsure of, oldest first, worked from the keyboard.

Each item posts to the same confirm / correct handler as the attempt page
(callcenter.web.calls), which returns here; static/review.js adds the
shortcuts (J/K move, 1/2/3 pick, P play, Enter confirm or save).
"""
from __future__ import annotations

from aiohttp import web

from ..db import review_queries as queries
from . import keys
from .access import MANAGERS, require_role
from .call_view import AnswerHistory, intent_label, question_label
from .render import NavItem, render

routes = web.RouteTableDef()
NAV = [NavItem("语音审核", "review")]
#: Items on one page: a morning's work; the rest follow as these are done.
QUEUE_PAGE = 100


@routes.get("/review", name="review")
@require_role(*MANAGERS)
async def review_queue(request: web.Request) -> web.Response:
    async with request.app[keys.DB].pool.acquire() as conn:
        rows = await queries.review_queue(conn, limit=QUEUE_PAGE)
        total = await queries.review_queue_size(conn)
    items = [{"row": r, "history": AnswerHistory(r["question"], [r])} for r in rows]
    return await render("review/queue.html", request, {
        "items": items, "total": total, "intent_label": intent_label, "question_label": question_label,
    })
