"""Draft an appeal statement from the ticket's facts and export it as a .docx ready to submit.

The wording lives in ``statement.txt.j2`` so the office can change it without
touching code; this module only turns the ticket's facts into plain strings for
the template and the template's lines into Word paragraphs.  Autoescape is off
on purpose: the output is Word text, not HTML.
"""
from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from docx import Document
from docx.shared import Pt

from ..db.appeals import Dossier
from ..ledger import flow
from ..ledger.appeals import GROUNDS
from ..ledger.timezone import office_text
from ..scoring.answers import INTENT_LABELS

TEMPLATE_DIR = Path(__file__).resolve().parent
TEMPLATE = "statement.txt.j2"

OUTCOME_LABELS = {"answered-complete": "接通, 完成问答", "answered-partial": "接通, 未答完", "busy": "忙线",
                  "no-answer": "无人接听", "failed": "呼叫失败", "invalid-number": "号码无效 (空号)",
                  "refused": "拒绝回访", None: "未拨出"}
QUESTION_LABELS = {"contacted": "是否联系", "solved": "是否解决", "satisfaction": "是否满意",
                   "dissatisfaction_reason": "不满意原因"}

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=False,
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _when(value: datetime | None) -> str:
    return office_text(value)


def _flow_label(action: str) -> str:
    try:
        return flow.parse_action(action).label
    except flow.FlowError:
        return action


def _state_label(state: str | None) -> str:
    try:
        return flow.parse_state(state or "").label
    except flow.FlowError:
        return state or ""


def flow_step(event: Any) -> dict[str, str]:
    """One ticket event in words: an import says what the city's file said, not "import import"."""
    step = {"at": _when(event["at"]), "actor": event["actor"], "action": _flow_label(event["action"]),
            "reason": event["reason"]}
    if event["action"] == "import":
        data = event["data"] or {}
        city = data.get("city_status") or "未注明"
        step["actor"] = "市级系统"
        step["action"] = (f"工单导入（市级工单状态：{city}），本街道状态记为 {_state_label(event['to_state'])}"
                          if event["from_state"] is None else
                          f"工单更新（市级工单状态：{city}），本街道状态 {_state_label(event['from_state'])} → "
                          f"{_state_label(event['to_state'])}")
        if data.get("disagreement"):
            step["action"] += f"；{data['disagreement']}"
    return step


def _evidence_line(item: Any) -> str:
    if item["kind"] == "recording":
        return (f"回访录音 (第 {item['attempt_no']} 次回访, {_when(item['answered_at']) or '未接通'}, "
                f"回访记录 {item['attempt_id']})")
    size = item["size_bytes"] or 0
    note = f", {item['note']}" if item["note"] else ""
    return f"{item['filename']} ({item['content_type']}, {size / 1024:.0f} KB, SHA-256 {item['sha256'][:12]}…{note})"


def statement_context(d: Dossier, *, street: str, today: date) -> dict[str, Any]:
    t, a = d.ticket, d.appeal
    by_attempt: dict[int, list[str]] = {}
    for x in d.answers:
        value = INTENT_LABELS.get(x["intent"] or "", x["transcript"] or "未识别")
        by_attempt.setdefault(x["attempt_no"], []).append(f"{QUESTION_LABELS.get(x['question'], x['question'])}: {value}")
    calls = [{"attempt_no": c["attempt_no"], "at": _when(c["answered_at"] or c["dialed_at"] or c["created_at"]),
              "outcome": OUTCOME_LABELS.get(c["outcome"], c["outcome"]),
              "answers": "，".join(by_attempt.get(c["attempt_no"], []))} for c in d.attempts]
    return {
        "street": street,
        "today": f"{today.year}年{today.month}月{today.day}日",
        "grounds": a["grounds"],
        "grounds_note": GROUNDS.get(a["grounds"], ""),
        "statement": a["statement"].strip(),
        "handling_record": a["handling_record"].strip(),
        "t": {"ticket_no": t["ticket_no"], "called_at": _when(t["called_at"]), "dispatched_at": _when(t["dispatched_at"]),
              "closed_at": _when(t["closed_at"]), "title": t["title"], "address": t["address"], "content": t["content"],
              "category": "/".join(x for x in (t["category_l1"], t["category_l2"], t["category_l3"]) if x),
              "handling_result": t["handling_result"]},
        "flow": [flow_step(e) for e in d.flow],
        "calls": calls,
        "evidence": [_evidence_line(e) for e in d.evidence],
    }


def render_statement(d: Dossier, *, street: str, today: date) -> str:
    return _env.get_template(TEMPLATE).render(statement_context(d, street=street, today=today))


def statement_docx(d: Dossier, *, street: str, today: date) -> bytes:
    """The drafted statement as .docx bytes: "# " lines are headings, "- " lines list items."""
    document = Document()
    document.styles["Normal"].font.size = Pt(12)
    first = True
    for line in render_statement(d, street=street, today=today).splitlines():
        text = line.strip()
        if not text:
            continue
        if text.startswith("# "):
            document.add_heading(text[2:], level=0 if first else 1)
            first = False
        elif text.startswith("- "):
            document.add_paragraph(text[2:], style="List Bullet")
        else:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
