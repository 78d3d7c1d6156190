"""质检 of hotline calls: the 专线通话 page and the repeat profile link to the grading form, and a grade counts."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

from callcenter.db import hotline, quality
from callcenter.ledger.timezone import OFFICE_TZ
from callcenter.web.core.labels import audit_sentence

from .test_web_helpers import client, sign_in, users  # noqa: F401

DAY = datetime(2024, 5, 7, 15, 30, tzinfo=OFFICE_TZ)        # a Tuesday
SCORES = {"script": "28", "courtesy": "20", "faithful": "30", "privacy": "10", "closing": "8"}   # 96


async def _hotline_call(conn, uniqueid: str, *, agent: str | None, at: datetime, phone="13900001111",
                        recording: str | None = None) -> None:
    await hotline.record_call(conn, hotline.CallRow(
        uniqueid=uniqueid, queue="counsel", caller_phone=phone, channel="PJSIP/x", joined_at=at,
        ended_at=at + timedelta(minutes=10), wait_seconds=12, talk_seconds=580 if agent else 0, agent=agent,
        outcome="answered" if agent else "abandoned", recording_path=recording))


async def test_a_supervisor_grades_a_hotline_call_from_the_hotline_pages(client, db):
    async with db.pool.acquire() as conn:
        await _hotline_call(conn, "1715067000.42", agent="agent", at=DAY)
        await _hotline_call(conn, "1715067900.43", agent=None, at=DAY + timedelta(minutes=20))
        await _hotline_call(conn, "1715154000.50", agent="agent", at=DAY + timedelta(days=7))   # another week
        profile_id = await hotline.add_profile(conn, "13900001111", "张女士")

    token = await sign_in(client, "agent")
    assert (await client.get("/hotline/calls?day=2024-05-07", allow_redirects=False)).status in (302, 303, 403)
    profile = await (await client.get(f"/repeat/{profile_id}")).text()
    assert "/desk/qa/hotline/" not in profile                   # agents do not grade
    await client.post("/logout", data={"csrf_token": token})

    token = await sign_in(client, "supervisor")
    page = await (await client.get("/hotline/calls?day=2024-05-07")).text()
    table = page.split('id="hotline-calls"')[1].split("</table>")[0]
    assert table.count("<tr>") == 3                             # header + the day's two calls
    links = re.findall(r'href="(/desk/qa/hotline/[^"]+)"', table)
    assert links == ["/desk/qa/hotline/1715067000.42"]         # only the answered call has an agent to grade
    assert "放弃" in table and "1715154000.50" not in table
    profile = await (await client.get(f"/repeat/{profile_id}")).text()
    assert "/desk/qa/hotline/1715067000.42" in profile and "/desk/qa/hotline/1715154000.50" in profile

    form = await (await client.get(links[0])).text()
    assert "心理疏导专线" in form and "尚未评分" in form and "按脚本准确读题" in form
    assert "/hotline/calls?day=2024-05-07" in form
    saved = await (await client.post(links[0], data={**SCORES, "comment": "倾听耐心", "csrf_token": token})).text()
    assert "已保存第 1 版评分" in saved and ">96.00<" in saved
    refused = await (await client.post(links[0], data={**SCORES, "csrf_token": token})).text()
    assert "更正须说明原因" in refused
    fixed = await (await client.post(links[0], data={**SCORES, "closing": "10", "reason": "复听结束语完整",
                                                     "csrf_token": token})).text()
    assert "已保存第 2 版评分" in fixed and ">98.00<" in fixed

    page = await (await client.get("/hotline/calls?day=2024-05-07&agent=agent")).text()
    assert "98.00 分" in page
    assert (await client.get("/hotline/calls?day=2024-13-01")).status == 400
    assert (await client.get("/desk/qa/hotline/no-such-call")).status == 404

    async with db.pool.acquire() as conn:
        versions = await quality.grade_versions(conn, "hotline", "1715067000.42")
        week = datetime(2024, 5, 6, tzinfo=OFFICE_TZ)                        # that Monday
        figures = {f.agent: f for f in await quality.agent_statistics(conn, week, week + timedelta(days=7))}
        audited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'qa_grade'")
        drawn = await quality.draw_weekly_sample(conn, week.date(), week, week + timedelta(days=7), 0.05)
        sample = await quality.samples(conn, week.date())
    assert [(v["version"], v["total"], v["graded_by"]) for v in versions] == \
        [(1, Decimal("96"), "supervisor"), (2, Decimal("98"), "supervisor")]
    assert figures["agent"].qa_score == Decimal("98.00") and figures["agent"].calls == 0   # desk calls only
    assert audited == 2
    assert drawn == 1 and [(s["call_kind"], s["agent"], s["total"]) for s in sample] == \
        [("hotline", "agent", Decimal("98"))]


async def test_the_grader_hears_the_hotline_recording_and_the_listen_is_audited(client, db, settings, tmp_path):
    wav = settings.recordings / "hotline" / "1715067000.42.wav"
    wav.parent.mkdir(parents=True)
    wav.write_bytes(b"RIFF" + bytes(400))
    outside = tmp_path / "elsewhere.wav"
    outside.write_bytes(b"RIFF" + bytes(10))
    async with db.pool.acquire() as conn:
        await _hotline_call(conn, "1715067000.42", agent="agent", at=DAY, recording=str(wav))
        await _hotline_call(conn, "1715067000.99", agent="agent", at=DAY, recording=str(outside))
    token = await sign_in(client, "agent")
    assert (await client.get("/desk/qa/hotline/1715067000.42/recording", allow_redirects=False)).status \
        in (302, 303, 403)
    await client.post("/logout", data={"csrf_token": token})
    await sign_in(client, "supervisor")
    form = await (await client.get("/desk/qa/hotline/1715067000.42")).text()
    assert '<audio controls preload="none" src="/desk/qa/hotline/1715067000.42/recording">' in form
    heard = await client.get("/desk/qa/hotline/1715067000.42/recording")
    assert heard.status == 200 and await heard.read() == wav.read_bytes()
    more = await client.get("/desk/qa/hotline/1715067000.42/recording", headers={"Range": "bytes=100-"})
    assert more.status == 206
    assert "没有录音" in await (await client.get("/desk/qa/hotline/1715067000.99")).text()
    assert (await client.get("/desk/qa/hotline/1715067000.99/recording")).status == 404     # outside the root
    async with db.pool.acquire() as conn:
        listens = await conn.fetch("SELECT actor, object_type, object_id FROM audit_log "
                                   "WHERE action = 'hotline.recording.listen'")
    assert [tuple(r) for r in listens] == [("supervisor", "hotline_call", "1715067000.42")]     # one listen, once
    assert audit_sentence("hotline.recording.listen", "hotline_call", "1715067000.42") == \
        ("收听了", "专线来电 1715067000.42", "的录音")                    # how the 审计日志 reads it
