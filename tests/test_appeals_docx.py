"""The drafted statement: a .docx python-docx can open, with the ticket's number, dates, grounds and evidence."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone

import docx

from callcenter.appeals_templates.docx import render_statement, statement_docx
from callcenter.db import appeals as repo
from callcenter.db import tickets as tickets_repo
from callcenter.ledger import flow

from . import scoring_factories as f

BJ = timezone(timedelta(hours=8))


async def test_the_docx_opens_and_states_the_facts(db, tmp_path):
    async with db.pool.acquire() as conn:
        t = await f.ticket(conn, ticket_no="110120240501001", called_at=datetime(2024, 5, 1, 9, 30, tzinfo=BJ),
                           closed_at=datetime(2024, 5, 3, 16, 0, tzinfo=BJ), status="received",
                           address="回龙观西大街 8 号", title="噪音扰民")
        await tickets_repo.apply_step(conn, t, flow.Step(flow.Action.RETURN, reason="点位不在本街道"), actor="张三",
                                      at=datetime(2024, 5, 1, 10, tzinfo=BJ))
        attempt = await f.attempt(conn, t, 1, answered_at=datetime(2024, 5, 4, 10, tzinfo=BJ),
                                  answers=f.own("yes", "unsolved", "dissatisfied"))
        await conn.execute("UPDATE callback_attempts SET outcome = 'answered-complete' WHERE id = $1::uuid", attempt)
        appeal_id = await repo.create_appeal(conn, t, grounds="非本辖区", actor="sup",
                                             statement="经核实, 问题点位属回龙观街道管辖。")
        sha = repo.store_attachment(tmp_path, b"\x89PNG photo")
        await repo.add_file_evidence(conn, appeal_id, sha256=sha, filename="现场照片.png", content_type="image/png",
                                     size=10, actor="sup")
        await repo.link_recording(conn, appeal_id, attempt, actor="sup")
        dossier = await repo.dossier(conn, appeal_id)
    data = statement_docx(dossier, street="西三旗街道", today=date(2024, 5, 6))
    document = docx.Document(io.BytesIO(data))
    text = "\n".join(p.text for p in document.paragraphs)
    for expected in ("110120240501001", "2024-05-01 09:30", "2024-05-03 16:00", "非本辖区", "问题点位不在本街道辖区",
                     "经核实, 问题点位属回龙观街道管辖。", "退回：点位不在本街道", "第 1 次回访（2024-05-04 10:00）",
                     "是否解决: 未解决", "现场照片.png", "回访录音", attempt, "2024年5月6日"):
        assert expected in text, expected
    assert document.paragraphs[0].style.name == "Title"
    assert any(p.style.name == "List Bullet" for p in document.paragraphs)


async def test_a_bare_draft_still_renders_with_placeholders(db):
    async with db.pool.acquire() as conn:
        t = await f.ticket(conn, called_at=datetime(2024, 5, 1, 9, tzinfo=BJ))
        dossier = await repo.dossier(conn, await repo.create_appeal(conn, t, actor="sup"))
    text = render_statement(dossier, street="西三旗街道", today=date(2024, 5, 6))
    assert "（未选择）" in text and "（请填写申诉说明）" in text and "（暂无证据）" in text and "本街道未进行回访" in text
