"""回访审核: the list of callback attempts, one attempt's answers, and a supervisor's confirm / correct.

A confirmation or correction is always a new answer version written by
callcenter.db.callbacks.correct_answer (the citizen's version 1 is never
touched; the change is audited and rescored by the database's triggers).
"""
from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from ...db import callbacks
from ...db import campaign_queries
from ...db import review_queries as queries
from ..core import keys
from ..core.access import MANAGERS, current_user, require_role
from .call_view import (OUTCOME_LABELS, SOURCE_LABELS, STATE_LABELS, answer_histories, encode_key, intent_label,
                        listening_note, outcome_label, parse_attempt_query, parse_correction,
                        question_label, review_return)
from ..core.render import NavItem, flash, render
from .review import review_queue
from ..core.paging import list_context
from ..core.path_params import path_uuid

routes = web.RouteTableDef()
NAV = [NavItem("回访审核", "calls")]
PAGE_SIZE = 50


def _attempt_id(request: web.Request):
    return path_uuid(request, "attempt_id", missing="回访记录不存在")


@routes.get("/calls", name="calls")
@require_role(*MANAGERS)
async def call_list(request: web.Request) -> web.Response:
    parsed = parse_attempt_query(request.query)
    async with request.app[keys.DB].pool.acquire() as conn:
        campaigns = await campaign_queries.campaign_choices(conn)
        page = None
        if not parsed.errors:
            page = await queries.attempt_page(conn, parsed.filter, after=parsed.after, size=PAGE_SIZE)
        waiting = await queries.review_queue_size(conn)
    return await render("calls/list.html", request, {
        **list_context("/calls", parsed, page, encode_key),
        "campaigns": campaigns,
        "outcomes": OUTCOME_LABELS,
        "outcome_label": outcome_label,
        "state_labels": STATE_LABELS,
        "waiting": waiting,
    }, status=400 if parsed.errors else 200)


@routes.get("/calls/{attempt_id:[^/]+}", name="call")
@require_role(*MANAGERS)
async def call_detail(request: web.Request, *, kept: dict | None = None, status: int = 200) -> web.Response:
    attempt_id = _attempt_id(request)
    async with request.app[keys.DB].pool.acquire() as conn:
        attempt = await queries.attempt_detail(conn, attempt_id)
        if attempt is None:
            raise web.HTTPNotFound(text="回访记录不存在")
        histories = answer_histories(await callbacks.answers(conn, attempt_id))
    return await render("calls/detail.html", request, {
        "a": attempt,
        "histories": histories,
        "outcome_label": outcome_label,
        "state_labels": STATE_LABELS,
        "source_labels": SOURCE_LABELS,
        "intent_label": intent_label,
        "question_label": question_label,
        "next": review_return(request.query.get("next")),
        "kept": kept,
    }, status=status)


@routes.post("/calls/{attempt_id:[^/]+}/answers/{question:[^/]+}", name="call_correct")
@require_role(*MANAGERS)
async def correct(request: web.Request) -> web.StreamResponse:
    """Confirm or correct one answer; any refusal comes back as a message, never a 500."""
    attempt_id = _attempt_id(request)
    question = request.match_info["question"]
    user = current_user(request)
    form = await request.post()
    back = review_return(form.get("next")) or f"/calls/{attempt_id}"
    fields = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    async with request.app[keys.DB].pool.acquire() as conn:
        current = await callbacks.current_answers(conn, attempt_id)
        if await queries.attempt_detail(conn, attempt_id) is None:
            raise web.HTTPNotFound(text="回访记录不存在")
        try:
            if question not in current:
                raise ValueError(f"该次回访没有“{question_label(question[:40])}”的答案")
            change = parse_correction(question, fields, current=current[question])
            listened = await queries.has_listened(conn, user.username, attempt_id, question)
            note = listening_note(fields, listened=listened,
                                  has_recording=await queries.question_recording(conn, attempt_id, question))
            if note:
                change = replace(change, reason=f"{change.reason}（{note}）")
            version = await callbacks.correct_answer(conn, attempt_id, question, intent=change.intent,
                                                     reason=change.reason, by=user.username,
                                                     transcript=change.transcript)
        except (ValueError, callbacks.CorrectionRejected) as exc:
            refused = f"未保存: {exc}"
        else:
            refused = ""
    if refused and question not in current:        # no form on any page to put it beside
        await flash(request, "error", refused)
        raise web.HTTPSeeOther(back)
    if refused:       # the same page again, with the choice and the reasons as typed and the error beside them
        kept = {"attempt_id": str(attempt_id), "question": question, "values": fields, "error": refused}
        if back.startswith("/review"):
            return await review_queue(request, kept=kept, page=back.partition("page=")[2], status=400)
        return await call_detail(request, kept=kept, status=400)
    shown = intent_label(change.intent) if change.intent else (change.transcript or "")[:40]
    await flash(request, "ok", f"已保存{question_label(question)}: {shown} (第 {version} 版)")
    raise web.HTTPSeeOther(back)
