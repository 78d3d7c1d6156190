"""回访审核: attempt list and detail, recordings (Range, audit, no traversal), confirm / correct, review queue."""
from __future__ import annotations

import os
import re
import uuid

from hypothesis import given, settings as hyp_settings, strategies as st

from callcenter.db import callbacks
from callcenter.db.review_queries import review_queue_size
from callcenter.web.calls.call_view import parse_attempt_query, parse_correction
from callcenter.web.calls.recordings import contained_file, starts_a_listen

from .factories import insert_ticket
from .test_web_helpers import client, sign_in, users  # noqa: F401

WAV = b"RIFF" + bytes(range(256)) * 40       # any bytes: the route streams files, it does not decode them


async def seed_call(db, settings, *, ticket_no: str = "T1", outcome: str = "answered-complete",
                    phone: str = "13800000001") -> dict:
    """A ticket, a finished attempt with DTMF answers and one unsure speech answer with a recording."""
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn, ticket_no, status="awaiting_callback")
        attempt_id = await callbacks.create_attempt(conn, ticket_id, phone=phone, state="answered")
        directory = settings.recordings / str(attempt_id)
        directory.mkdir(parents=True)
        wav = directory / "satisfaction-1.wav"
        wav.write_bytes(WAV)
        await callbacks.record_answer(conn, attempt_id, "contacted", intent="yes", source="dtmf", digits="1")
        await callbacks.record_answer(conn, attempt_id, "solved", intent="solved", source="dtmf", digits="1")
        await callbacks.record_answer(conn, attempt_id, "satisfaction", intent="basic", source="speech",
                                      transcript="还算基本满意吧", confidence=0.42, recording_path=str(wav),
                                      needs_review=True)
        await callbacks.finish_attempt(conn, attempt_id, outcome)
        answer_id = await conn.fetchval(
            "SELECT id FROM callback_answers WHERE attempt_id = $1 AND question = 'satisfaction'", attempt_id)
    return {"ticket_id": ticket_id, "attempt_id": attempt_id, "answer_id": answer_id, "wav": wav}


async def test_list_filters_and_shows_what_waits_for_review(client, db, settings):
    waiting = await seed_call(db, settings, ticket_no="T-WAIT")
    async with db.pool.acquire() as conn:
        other = await insert_ticket(conn, "T-DONE", status="awaiting_callback")
        done = await callbacks.create_attempt(conn, other, phone="13800000002", state="answered")
        await callbacks.finish_attempt(conn, done, "refused")
    await sign_in(client, "supervisor")
    page = await (await client.get("/calls")).text()
    assert "T-WAIT" in page and "T-DONE" in page and "138****0001" in page and "13800000001" not in page
    only_waiting = await (await client.get("/calls?review=1")).text()
    assert "T-WAIT" in only_waiting and "T-DONE" not in only_waiting
    refused = await (await client.get("/calls?outcome=refused")).text()
    assert "T-DONE" in refused and "T-WAIT" not in refused
    none_waiting = await (await client.get("/calls?review=0")).text()
    assert "T-DONE" in none_waiting and "T-WAIT" not in none_waiting
    bad = await client.get("/calls?outcome=%27%20OR%201%3D1--&day=yesterday&campaign=x")
    text = await bad.text()
    assert bad.status == 400 and "未知结果" in text and "日期格式" in text and "回访活动无效" in text
    assert f"/calls/{waiting['attempt_id']}" in page


async def test_list_pages_by_keyset_without_losing_or_repeating(client, db, settings):
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn, "T-MANY")
        made = set()
        for n in range(7):
            made.add(str(await callbacks.create_attempt(conn, ticket_id, phone=f"1380000{n:04d}",
                                                        state="finished")))
    from callcenter.web.calls import calls
    calls.PAGE_SIZE, saved = 3, calls.PAGE_SIZE
    try:
        await sign_in(client, "supervisor")
        seen, url = [], "/calls?calls=all"
        while url:
            page = await (await client.get(url)).text()
            seen += re.findall(r'href="/calls/([0-9a-f-]{36})"', page)
            nxt = re.search(r'<a href="([^"]+)">下一页', page)
            url = nxt.group(1).replace("&amp;", "&") if nxt else None
    finally:
        calls.PAGE_SIZE = saved
    assert sorted(seen) == sorted(made)


async def test_the_call_list_opens_on_answered_calls(client, db, settings):
    answered = await seed_call(db, settings, ticket_no="T-ANS")
    async with db.pool.acquire() as conn:
        ticket = await insert_ticket(conn, "T-RING", status="awaiting_callback")
        ringing = await callbacks.create_attempt(conn, ticket, phone="13800000002")           # pending
    await sign_in(client, "supervisor")
    page = await (await client.get("/calls")).text()
    assert f"/calls/{answered['attempt_id']}" in page and f"/calls/{ringing}" not in page
    everything = await (await client.get("/calls?calls=all")).text()
    assert f"/calls/{answered['attempt_id']}" in everything and f"/calls/{ringing}" in everything
    assert (await client.get("/calls?calls=some")).status == 400


async def test_detail_shows_answers_transcript_confidence_and_player(client, db, settings):
    call = await seed_call(db, settings)
    await sign_in(client, "supervisor")
    page = await (await client.get(f"/calls/{call['attempt_id']}")).text()
    assert "还算基本满意吧" in page and "42%" in page and "基本满意" in page and "待审核" in page
    assert f'<audio controls preload="none" src="/calls/{call["attempt_id"]}/recordings/{call["answer_id"]}">' in page
    assert "完成回访" in page
    assert (await client.get(f"/calls/{uuid.uuid4()}")).status == 404
    assert (await client.get("/calls/not-a-uuid")).status == 404


async def test_recording_streams_with_range_and_every_listen_is_audited(client, db, settings):
    call = await seed_call(db, settings)
    url = f"/calls/{call['attempt_id']}/recordings/{call['answer_id']}"
    await sign_in(client, "supervisor")
    whole = await client.get(url)
    assert whole.status == 200 and await whole.read() == WAV
    assert whole.headers["Content-Type"] == "audio/wav" and "no-store" in whole.headers["Cache-Control"]
    first = await client.get(url, headers={"Range": "bytes=0-99"})
    assert first.status == 206 and await first.read() == WAV[:100]
    assert first.headers["Content-Range"] == f"bytes 0-99/{len(WAV)}"
    middle = await client.get(url, headers={"Range": "bytes=5000-"})
    assert middle.status == 206 and await middle.read() == WAV[5000:]
    async with db.pool.acquire() as conn:
        rows = await conn.fetch("SELECT actor, object_id, detail FROM audit_log WHERE action = 'recording.listen'")
    # Two listens began (no Range, and bytes=0-); the seek into the middle is part of a listen.
    assert len(rows) == 2
    assert {r["actor"] for r in rows} == {"supervisor"}
    assert {r["object_id"] for r in rows} == {str(call["attempt_id"])}
    assert all(r["detail"]["answer_id"] == call["answer_id"] for r in rows)


async def test_recording_is_for_managers_only_and_never_leaves_the_recordings_folder(client, db, settings, tmp_path):
    call = await seed_call(db, settings)
    url = f"/calls/{call['attempt_id']}/recordings/{call['answer_id']}"
    await sign_in(client, "agent")
    assert (await client.get(url)).status == 403
    await sign_in(client, "admin")
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"not yours")
    escape = str(settings.recordings / ".." / "secret.wav")
    outside_link = settings.recordings / "link.wav"
    os.symlink(secret, outside_link)
    async with db.pool.acquire() as conn:
        for bad in (str(secret), escape, "../secret.wav", str(outside_link), "/etc/passwd", str(settings.recordings)):
            await conn.execute("UPDATE callback_answers SET recording_path = $2 WHERE id = $1",
                               call["answer_id"], bad)
            response = await client.get(url)
            assert response.status == 404, bad
            assert b"not yours" not in await response.read()
        await conn.execute("UPDATE callback_answers SET recording_path = $2 WHERE id = $1",
                           call["answer_id"], f"{call['attempt_id']}/satisfaction-1.wav")   # relative: fine
        assert (await client.get(url)).status == 200
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'recording.listen'") == 1
    other = await seed_call(db, settings, ticket_no="T2", phone="13800000002")
    # An answer id of another attempt is not reachable through this attempt's URL.
    assert (await client.get(f"/calls/{call['attempt_id']}/recordings/{other['answer_id']}")).status == 404
    assert (await client.get(f"/calls/{call['attempt_id']}/recordings/abc")).status == 404


@hyp_settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["..", ".", "a", "b.wav", "", "/", "~", "%2e%2e", "..\\x"]), max_size=6))
def test_contained_file_never_points_outside_its_root(tmp_path_factory, parts):
    root = tmp_path_factory.getbasetemp() / "recordings-root"
    (root / "a").mkdir(parents=True, exist_ok=True)
    (root / "a" / "b.wav").write_bytes(b"x")
    (root.parent / "b.wav").write_bytes(b"outside")
    found = contained_file(root, "/".join(parts))
    if found is not None:
        assert found.is_relative_to(root.resolve()) and found.is_file()


def test_a_listen_starts_at_byte_zero():
    assert starts_a_listen(None) and starts_a_listen("bytes=0-") and starts_a_listen("bytes = 0-1023")
    assert not starts_a_listen("bytes=1024-") and not starts_a_listen("bytes=10-20")


async def test_correction_is_a_new_version_with_reason_audited_and_shown_on_the_ticket(client, db, settings):
    call = await seed_call(db, settings)
    token = await sign_in(client, "supervisor")
    url = f"/calls/{call['attempt_id']}/answers/satisfaction"
    async with db.pool.acquire() as conn:
        assert await review_queue_size(conn) == 1
    no_reason = await client.post(url, data={"csrf_token": token, "decision": "correct", "intent": "dissatisfied"},
                                  allow_redirects=False)
    # Refused on the same page: the chosen 不满意 stays picked and the error sits beside the form.
    page = await no_reason.text()
    assert no_reason.status == 400 and "更正必须填写原因" in page
    assert 'value="dissatisfied" checked' in page and 'value="basic" checked' not in page
    assert re.search(r'correct-form has-error.*?<p class="field-error" role="alert">未保存: 更正必须填写原因', page, re.S)
    bogus = await client.post(url, data={"csrf_token": token, "decision": "correct", "intent": "yes",
                                         "reason": "市民口误"}, allow_redirects=False)
    assert bogus.status == 400 and 'value="市民口误"' in await bogus.text()
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM callback_answers WHERE version > 1") == 0
    ok = await client.post(url, data={"csrf_token": token, "decision": "correct", "intent": "dissatisfied",
                                      "reason": "录音中市民明确说不满意"}, allow_redirects=False)
    assert ok.status == 303 and ok.headers["Location"] == f"/calls/{call['attempt_id']}"
    async with db.pool.acquire() as conn:
        versions = await callbacks.answers(conn, call["attempt_id"])
        satisfaction = [v for v in versions if v["question"] == "satisfaction"]
        assert [(v["version"], v["intent"], v["created_by"]) for v in satisfaction] == [
            (1, "basic", "citizen"), (2, "dissatisfied", "supervisor")]
        assert satisfaction[0]["transcript"] == "还算基本满意吧"         # the citizen's version is untouched
        audit = await conn.fetchrow("SELECT actor, detail FROM audit_log WHERE action = 'correct_answer'")
        assert audit["actor"] == "supervisor" and audit["detail"]["reason"] == "录音中市民明确说不满意"
        assert await review_queue_size(conn) == 0
    ticket_page = await (await client.get(f"/tickets/{call['ticket_id']}")).text()
    assert "答案审核记录" in ticket_page and "录音中市民明确说不满意" in ticket_page
    assert "基本满意 → 不满意" in ticket_page


async def test_confirm_keeps_the_answer_and_empties_the_queue(client, db, settings):
    call = await seed_call(db, settings)
    token = await sign_in(client, "supervisor")
    queue = await (await client.get("/review")).text()
    assert "还算基本满意吧" in queue and "1 条待审核" in queue and "/static/review.js" in queue
    url = f"/calls/{call['attempt_id']}/answers/satisfaction"
    # Nobody played the recording and nobody said why not: the server refuses the confirm.
    for refused in ({}, {"no_listen": "1"}, {"no_listen_reason": "市民原话清楚"}, {"no_listen": "1", "no_listen_reason": " "}):
        response = await client.post(url, data={"csrf_token": token, "decision": "confirm", "next": "/review",
                                                **refused}, allow_redirects=False)
        page = await response.text()
        assert response.status == 400 and "确认前请先播放录音" in page and "语音审核队列" in page
        if refused.get("no_listen_reason") == "市民原话清楚":
            assert 'value="市民原话清楚"' in page                  # what was typed stays
        async with db.pool.acquire() as conn:
            assert (await callbacks.current_answers(conn, call["attempt_id"]))["satisfaction"]["version"] == 1
    # Another supervisor's listen does not count for this one.
    async with db.pool.acquire() as conn:
        await conn.execute("""INSERT INTO audit_log (actor, action, object_type, object_id, detail)
                              VALUES ('admin', 'recording.listen', 'callback_attempt', $1, $2)""",
                           str(call["attempt_id"]), {"answer_id": call["answer_id"]})
    response = await client.post(url, data={"csrf_token": token, "decision": "confirm"}, allow_redirects=False)
    async with db.pool.acquire() as conn:
        assert (await callbacks.current_answers(conn, call["attempt_id"]))["satisfaction"]["version"] == 1
    # Played (the browser's first request of the file is the listen): now the confirm is accepted.
    assert (await client.get(f"/calls/{call['attempt_id']}/recordings/{call['answer_id']}")).status == 200
    response = await client.post(url, data={"csrf_token": token, "decision": "confirm", "next": "/review"},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/review"
    async with db.pool.acquire() as conn:
        current = await callbacks.current_answers(conn, call["attempt_id"])
        assert current["satisfaction"]["intent"] == "basic" and current["satisfaction"]["version"] == 2
        assert current["satisfaction"]["reason"] == "主管确认"
    queue = await (await client.get("/review")).text()
    assert "审核队列已清空" in queue and "已保存是否满意: 基本满意" in queue


async def test_confirm_without_listening_needs_an_explicit_reason(client, db, settings):
    call = await seed_call(db, settings)
    token = await sign_in(client, "supervisor")
    response = await client.post(f"/calls/{call['attempt_id']}/answers/satisfaction",
                                 data={"csrf_token": token, "decision": "confirm", "no_listen": "1",
                                       "no_listen_reason": "按键与转写一致"}, allow_redirects=False)
    assert response.status == 303
    async with db.pool.acquire() as conn:
        current = await callbacks.current_answers(conn, call["attempt_id"])
    assert current["satisfaction"]["version"] == 2
    assert current["satisfaction"]["reason"] == "主管确认（无需收听: 按键与转写一致）"


async def test_review_queue_is_paged_and_shows_the_call_in_context(client, db, settings):
    from callcenter.web.calls.review import QUEUE_PAGE
    calls = [await seed_call(db, settings, ticket_no=f"T-Q{n:02d}", phone=f"138000{n:05d}")
             for n in range(QUEUE_PAGE + 3)]
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE tickets SET title = '小区门口夜间施工噪音' WHERE ticket_no = 'T-Q00'")
    await sign_in(client, "supervisor")
    first = await (await client.get("/review")).text()
    assert first.count('class="card review-item"') == QUEUE_PAGE and f"{len(calls)} 条待审核" in first
    assert "小区门口夜间施工噪音" in first                      # the ticket's title
    assert "是否联系: 是" in first and "是否解决: 已解决" in first   # the earlier answers of the same call
    assert "转写: 还算基本满意吧" in first and 'name="no_listen"' in first
    assert "第 1 / 2 页" in first and 'href="/review?page=2"' in first
    second = await (await client.get("/review?page=2")).text()
    assert second.count('class="card review-item"') == 3 and 'value="/review?page=2"' in second
    assert (await client.get("/review?page=abc")).status == 200


async def test_corrections_need_a_manager_and_a_known_question(client, db, settings):
    call = await seed_call(db, settings)
    token = await sign_in(client, "agent")
    url = f"/calls/{call['attempt_id']}/answers/satisfaction"
    assert (await client.post(url, data={"csrf_token": token, "decision": "confirm"},
                              allow_redirects=False)).status == 403
    token = await sign_in(client, "supervisor")
    missing = await client.post(f"/calls/{call['attempt_id']}/answers/no_such_question",
                                data={"csrf_token": token, "decision": "confirm"}, allow_redirects=False)
    assert missing.status == 303
    assert "没有" in await (await client.get(missing.headers["Location"])).text()
    gone = await client.post(f"/calls/{uuid.uuid4()}/answers/satisfaction",
                             data={"csrf_token": token, "decision": "confirm"}, allow_redirects=False)
    assert gone.status == 404
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM callback_answers WHERE version > 1") == 0


async def test_free_speech_answers_are_corrected_by_rewriting_the_text(client, db, settings):
    call = await seed_call(db, settings)
    async with db.pool.acquire() as conn:
        await callbacks.record_answer(conn, call["attempt_id"], "dissatisfaction_reason", intent=None,
                                      source="speech", transcript="楼道里还是很乱", confidence=0.3,
                                      needs_review=True)
    token = await sign_in(client, "supervisor")
    await client.post(f"/calls/{call['attempt_id']}/answers/dissatisfaction_reason",
                      data={"csrf_token": token, "decision": "correct", "transcript": "楼道堆物仍未清理",
                            "reason": "听录音补全"})
    async with db.pool.acquire() as conn:
        current = await callbacks.current_answers(conn, call["attempt_id"])
    assert current["dissatisfaction_reason"]["transcript"] == "楼道堆物仍未清理"


def test_parse_correction_rules():
    current = {"intent": "basic", "transcript": "还行"}
    assert parse_correction("satisfaction", {"decision": "confirm"}, current=current).intent == "basic"
    fixed = parse_correction("satisfaction", {"decision": "correct", "intent": "satisfied", "reason": " 听错了 "},
                             current=current)
    assert (fixed.intent, fixed.reason) == ("satisfied", "听错了")
    for form in ({"decision": "correct", "intent": "satisfied"}, {"decision": "correct", "intent": "yes", "reason": "r"},
                 {"decision": "delete"}, {"decision": "correct", "intent": "satisfied", "reason": "长" * 501}):
        try:
            parse_correction("satisfaction", form, current=current)
        except ValueError:
            continue
        raise AssertionError(f"accepted {form}")
    try:
        parse_correction("solved", {"decision": "confirm"}, current={"intent": None, "transcript": None})
    except ValueError as exc:
        assert "未识别" in str(exc)
    else:
        raise AssertionError("confirmed an answer nobody understood")


def test_attempt_query_parsing():
    parsed = parse_attempt_query({"outcome": "busy", "review": "1", "day": "2024-05-02", "campaign": "7"})
    assert not parsed.errors
    assert parsed.filter.outcome == "busy" and parsed.filter.needs_review is True and parsed.filter.campaign_id == 7
    assert parsed.filter.created_until - parsed.filter.created_from == __import__("datetime").timedelta(days=1)
    assert parse_attempt_query({"after": "garbage"}).errors
