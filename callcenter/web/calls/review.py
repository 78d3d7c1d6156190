"""语音审核队列: speech answers the recognizer was unsure of, oldest first, worked from the keyboard.

Each item shows the ticket's title, the question, the citizen's other answers
in that call and the transcript, and posts to the same confirm / correct
handler as the attempt page (callcenter.web.calls.calls), which returns here.  A
confirm is accepted only once the recording was played or marked 无需收听 with
a reason (checked on the server).  static/review.js adds the shortcuts (J/K
move, 1/2/3 pick, P play, N 无需收听, Ctrl+Enter confirm or save); a bare
Enter never submits.  Paged, so a long queue stays a short page.
"""
from __future__ import annotations

import math

from aiohttp import web

from ...db import review_queries as queries
from ..core import keys
from ..core.access import MANAGERS, require_role
from .call_view import AnswerHistory, answer_histories, intent_label, question_label
from ..core.paging import page_number
from ..core.render import NavItem, render

routes = web.RouteTableDef()
NAV = [NavItem("语音审核", "review")]
#: Items on one page: a screenful of work; the next page follows as these are done.
QUEUE_PAGE = 20


@routes.get("/review", name="review")
@require_role(*MANAGERS)
async def review_queue(request: web.Request, *, kept: dict | None = None, page: str = "",
                       status: int = 200) -> web.Response:
    """The queue; ``kept`` brings a refused confirm/correction back as typed, its error beside the form."""
    async with request.app[keys.DB].pool.acquire() as conn:
        total = await queries.review_queue_size(conn)
        pages = max(1, math.ceil(total / QUEUE_PAGE))
        page = min(page_number(page or request.query.get("page")), pages)
        rows = await queries.review_queue(conn, limit=QUEUE_PAGE, offset=(page - 1) * QUEUE_PAGE)
        context = await queries.answers_in_force(conn, list({r["attempt_id"] for r in rows}))
    others: dict = {}
    for answer in context:
        others.setdefault(answer["attempt_id"], []).append(answer)
    items = [{"row": r, "history": AnswerHistory(r["question"], [r]),
              "earlier": [h.current for h in answer_histories(others.get(r["attempt_id"], []))
                          if h.question != r["question"]]} for r in rows]
    return await render("calls/review/queue.html", request, {
        "items": items, "total": total, "page": page, "pages": pages, "page_size": QUEUE_PAGE,
        "intent_label": intent_label, "question_label": question_label, "kept": kept,
    }, status=status)
