"""质检 and 坐席统计 pages: the week's sample, grading a call (corrections as versions), per-agent figures."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from aiohttp import web

from ...db import quality as repo
from ...db import scoring as scoring_repo
from ...db.ticket_queries import record_audit
from ...desk.quality import AGENT_HEADERS, AGENT_NOTE, GradeError, agent_row, last_finished_week, week_of
from ...inputs import InputError, bounded_day, clean_text
from ...ledger.timezone import OFFICE_TZ
from ...scoring.periods import PeriodError, period, period_containing
from ..core import keys
from ..core.access import MANAGERS, current_user, require_role
from ..core.recording_files import audio_response, contained_file, starts_a_listen
from ..core.render import NavItem, flash, render

routes = web.RouteTableDef()
NAV = [NavItem("质检", "desk_qa"), NavItem("坐席统计", "desk_stats")]
KIND_NAMES = {"desk": "人工回访", "hotline": "心理疏导专线"}


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, OFFICE_TZ)


def _week(request: web.Request) -> date:
    """The asked week, or by default the last whole week: its sample is the one due for grading."""
    raw = request.query.get("week", "")
    try:
        day = bounded_day(raw, "周") if raw else None
    except InputError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return week_of(_day_start(day)) if day else last_finished_week(datetime.now(timezone.utc))


@routes.get("/desk/qa", name="desk_qa")
@require_role(*MANAGERS)
async def qa_page(request: web.Request) -> web.Response:
    week = _week(request)
    start = _day_start(week)
    async with request.app[keys.DB].pool.acquire() as conn:
        if start + timedelta(days=7) <= datetime.now(timezone.utc):     # a finished week (the service also draws)
            await repo.draw_week(conn, week, request.app[keys.SETTINGS].qa_sample_rate)
        sample = await repo.samples(conn, week)
    return await render("desk/qa.html", request, {
        "week": week, "sample": sample, "kinds": KIND_NAMES, "prev": week - timedelta(days=7),
        "next": week + timedelta(days=7), "rate": request.app[keys.SETTINGS].qa_sample_rate})


def _call(request: web.Request) -> tuple[str, str]:
    kind, ref = request.match_info["kind"], request.match_info["ref"]
    if kind not in repo.CALL_KINDS or not 0 < len(ref) <= 80:
        raise web.HTTPNotFound(text="没有这通坐席通话")
    return kind, ref


@routes.get("/desk/qa/{kind:[^/]+}/{ref:[^/]+}", name="desk_grade")
@require_role(*MANAGERS)
async def grade_page(request: web.Request) -> web.Response:
    kind, ref = _call(request)
    async with request.app[keys.DB].pool.acquire() as conn:
        found = await repo.call_agent(conn, kind, ref)
        if found is None:
            raise web.HTTPNotFound(text="没有这通坐席通话")
        _, name, version, items = await repo.form_in_force(conn, found[1].date())
        versions = await repo.grade_versions(conn, kind, ref)
        recorded = contained_file(request.app[keys.SETTINGS].recordings,
                                  await repo.call_recording(conn, kind, ref) or "") is not None
    return await render("desk/grade.html", request, {
        "kind": kind, "ref": ref, "kind_name": KIND_NAMES[kind], "agent": found[0], "at": found[1],
        "form_name": name, "form_version": version, "items": items, "versions": versions, "recorded": recorded})


#: How a listen is audited, per kind: the desk's as any callback recording (the ticket's), the hotline's apart.
LISTEN_AUDIT = {"desk": ("recording.listen", "callback_attempt"),
                "hotline": ("hotline.recording.listen", "hotline_call")}


@routes.get("/desk/qa/{kind:[^/]+}/{ref:[^/]+}/recording", name="desk_grade_recording")
@require_role(*MANAGERS)
async def grade_recording(request: web.Request) -> web.StreamResponse:
    """The call's recording for the grader; each listen audited, only a file inside CALLCENTER_RECORDINGS."""
    kind, ref = _call(request)
    root = request.app[keys.SETTINGS].recordings
    async with request.app[keys.DB].pool.acquire() as conn:
        stored = await repo.call_recording(conn, kind, ref)
        path = contained_file(root, stored) if stored else None
        if path is None:
            raise web.HTTPNotFound(text="录音不存在或已被清理")
        if starts_a_listen(request.headers.get("Range")):
            action, object_type = LISTEN_AUDIT[kind]
            await record_audit(conn, current_user(request).username, action, object_type=object_type,
                               object_id=ref, detail={"qa": True, "ip": request.remote or ""})
    return audio_response(path)


@routes.post("/desk/qa/{kind:[^/]+}/{ref:[^/]+}", name="desk_grade_save")
@require_role(*MANAGERS)
async def grade_save(request: web.Request) -> web.Response:
    kind, ref = _call(request)
    form = await request.post()
    try:
        comment = clean_text(str(form.get("comment", "")), "评语", max_len=2000)
        reason = clean_text(str(form.get("reason", "")), "更正原因", max_len=500)
        async with request.app[keys.DB].pool.acquire() as conn:
            version = await repo.save_grade(conn, kind, ref, {k: str(v) for k, v in form.items()},
                                            by=current_user(request).username, comment=comment, reason=reason)
    except (InputError, GradeError) as exc:
        await flash(request, "error", f"未保存: {exc}")
    else:
        await flash(request, "ok", f"已保存第 {version} 版评分")
    raise web.HTTPSeeOther(f"/desk/qa/{kind}/{ref}")


@routes.get("/desk/stats", name="desk_stats")
@require_role(*MANAGERS)
async def stats_page(request: web.Request) -> web.Response:
    """坐席统计 of a day range (``from``/``to``) or of an assessment month (``period``, as the monthly report)."""
    today = datetime.now(timezone.utc).astimezone(OFFICE_TZ).date()
    async with request.app[keys.DB].pool.acquire() as conn:
        cal = await scoring_repo.load_calendar(conn)
        label = request.query.get("period", "").strip()
        try:
            if label:
                month = period(label[:7], cal)
                start, end, first, last = month.start, month.end, month.first_day, month.last_day
            else:
                first = bounded_day(request.query.get("from", "") or today.isoformat(), "开始日期")
                last = bounded_day(request.query.get("to", "") or first.isoformat(), "结束日期")
                start, end = _day_start(first), _day_start(last + timedelta(days=1))
        except (InputError, PeriodError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        if last < first:
            raise web.HTTPBadRequest(text="结束日期早于开始日期")
        figures = await repo.agent_statistics(conn, start, end)
    return await render("desk/stats.html", request, {
        "headers": AGENT_HEADERS, "rows": [agent_row(f) for f in figures], "note": AGENT_NOTE,
        "first": first, "last": last, "period": label[:7] if label else None,
        "current": period_containing(datetime.now(timezone.utc), cal).label})
