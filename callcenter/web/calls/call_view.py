"""How callback attempts are presented and filtered: labels, answer histories, the list's query string.

Pure functions (no I/O), so the rules are testable without a server: what a
reviewer may pick for each question, how an answer's versions read, and how
the 回访审核 list's filters and page key travel in a URL.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Mapping, Sequence

from ...db.review_queries import AttemptFilter, AttemptKey
from ...ledger.timezone import OFFICE_TZ
from ..core.labels import ATTEMPT_STATE_NAMES, OUTCOME_NAMES
from ..core.paging import BAD_KEY, after_key, encode_page_key, split_page_key
from ..core.params import optional_day, optional_id
from ...scoring.answers import CONTACTED, INTENT_LABELS, SATISFACTION, SOLVED

QUESTION_LABELS = {"contacted": "是否联系", "solved": "是否解决", "satisfaction": "是否满意",
                   "dissatisfaction_reason": "不满意原因"}
#: The intents a supervisor may choose per question, in keypad order (1, 2, 3).
CHOICES: dict[str, tuple[str, ...]] = {"contacted": CONTACTED, "solved": SOLVED, "satisfaction": SATISFACTION}
OUTCOME_LABELS = OUTCOME_NAMES          # the one table of display names (labels.py)
STATE_LABELS = ATTEMPT_STATE_NAMES
SOURCE_LABELS = {"dtmf": "按键", "speech": "语音", "supervisor": "主管"}
LIST_PARAMS = ("outcome", "review", "day", "campaign", "calls")
MAX_REASON = 500


def intent_label(intent: str | None) -> str:
    if intent is None:
        return "未识别"
    return INTENT_LABELS.get(intent, intent)


def question_label(question: str) -> str:
    return QUESTION_LABELS.get(question, question)


def outcome_label(outcome: str | None) -> str:
    return OUTCOME_LABELS.get(outcome or "", outcome or "")


@dataclass(frozen=True)
class AnswerHistory:
    """One question of one attempt: every version, oldest first, and the one in force."""
    question: str
    versions: list[Mapping[str, Any]]

    @property
    def current(self) -> Mapping[str, Any]:
        return self.versions[-1]

    @property
    def citizen(self) -> Mapping[str, Any]:
        return self.versions[0]

    @property
    def waiting(self) -> bool:
        """Flagged for review and not yet confirmed or corrected (a newer version ends the wait)."""
        return bool(self.current["needs_review"])

    @property
    def choices(self) -> tuple[str, ...]:
        return CHOICES.get(self.question, ())


def answer_histories(rows: Sequence[Mapping[str, Any]]) -> list[AnswerHistory]:
    """Rows of callbacks.answers (ordered by question, version) grouped per question, script order first."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["question"], []).append(row)
    order = list(QUESTION_LABELS)
    keys = sorted(grouped, key=lambda q: (order.index(q) if q in order else len(order), q))
    return [AnswerHistory(q, sorted(grouped[q], key=lambda r: r["version"])) for q in keys]


@dataclass(frozen=True)
class Correction:
    intent: str | None
    reason: str
    transcript: str | None = None


MAX_TRANSCRIPT = 2000


def parse_correction(question: str, form: Mapping[str, str], *, current: Mapping[str, Any]) -> Correction:
    """A confirmation (the answer in force, fixed reason) or a correction (new answer and a reason).

    Rate questions are corrected by picking one of :data:`CHOICES`; free-speech
    questions (不满意原因) by rewriting the transcript.
    """
    decision = str(form.get("decision", "correct"))
    note = str(form.get("reason", "")).strip()
    if len(note) > MAX_REASON:
        raise ValueError(f"原因最长 {MAX_REASON} 个字")
    if decision == "confirm":
        if question in CHOICES and current["intent"] is None:
            raise ValueError("原答案未识别, 不能直接确认, 请选择正确的答案并说明原因")
        kept_text = None if question in CHOICES else current["transcript"]   # a rate answer is its intent
        return Correction(current["intent"], "主管确认" + (f": {note}" if note else ""), kept_text)
    if decision != "correct":
        raise ValueError("未知操作")
    if not note:
        raise ValueError("更正必须填写原因")
    if question in CHOICES:
        intent = str(form.get("intent", ""))
        if intent not in CHOICES[question]:
            raise ValueError(f"请选择{question_label(question)}的答案")
        return Correction(intent, note)
    text = str(form.get("transcript", "")).strip()
    if not text or len(text) > MAX_TRANSCRIPT:
        raise ValueError(f"请填写更正后的内容 (最长 {MAX_TRANSCRIPT} 字)")
    return Correction(current["intent"], note, text)


_REVIEW_RETURN = re.compile(r"/review(\?page=\d{1,6})?")


def review_return(target: object) -> str:
    """The queue page a form came from (``/review`` or ``/review?page=3``); "" for anything else."""
    text = str(target or "")
    return text if _REVIEW_RETURN.fullmatch(text) else ""


NO_LISTEN_REFUSED = "确认前请先播放录音，或勾选“无需收听”并写明理由"


def listening_note(form: Mapping[str, str], *, has_recording: bool, listened: bool) -> str:
    """A confirm needs ears on the recording: played by this supervisor, or 无需收听 with a reason.

    Returns the note to keep with the confirmation ("" when the recording was
    played or there is none); raises ValueError when the confirm must be refused.
    """
    if str(form.get("decision", "")) != "confirm" or not has_recording or listened:
        return ""
    reason = str(form.get("no_listen_reason", "")).strip()
    if str(form.get("no_listen", "")) != "1" or not reason:
        raise ValueError(NO_LISTEN_REFUSED)
    if len(reason) > MAX_REASON:
        raise ValueError(f"无需收听的理由最长 {MAX_REASON} 个字")
    return f"无需收听: {reason}"


@dataclass
class ParsedAttemptQuery:
    filter: AttemptFilter
    after: AttemptKey | None
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)


def encode_key(key: AttemptKey) -> str:
    return encode_page_key(key.created_at, key.id)


def decode_key(raw: str) -> AttemptKey:
    at, ident = split_page_key(raw)
    try:
        return AttemptKey(at, uuid.UUID(ident))
    except ValueError:
        raise ValueError(BAD_KEY) from None


def parse_attempt_query(query: Mapping[str, str]) -> ParsedAttemptQuery:
    """Every problem reported at once; a bad parameter is dropped, not guessed at."""
    values = {name: str(query.get(name, "")).strip() for name in LIST_PARAMS}
    errors: list[str] = []
    outcome = values["outcome"] or None
    if outcome is not None and outcome not in OUTCOME_LABELS:
        errors.append(f"未知结果: {outcome[:40]}")
        outcome = None
    review = {"": None, "1": True, "0": False}.get(values["review"], "bad")
    if review == "bad":
        errors.append("待审核筛选应为 1 或 0")
        review = None
    start = end = None
    day = optional_day(values["day"], errors, f"日期格式应为 YYYY-MM-DD: {values['day'][:40]}")
    if day:
        start = datetime.combine(day, time(), OFFICE_TZ)
        end = start + timedelta(days=1)
    campaign = optional_id(values["campaign"], errors, f"回访活动无效: {values['campaign'][:40]}")
    after = after_key(query, decode_key, errors)
    # The list opens on answered calls (what a reviewer works on); calls=all shows unanswered attempts too.
    if values["calls"] not in ("", "all"):
        errors.append("通话筛选应为 all")
        values["calls"] = ""
    answered_only = values["calls"] != "all" and outcome is None
    return ParsedAttemptQuery(AttemptFilter(outcome, review, start, end, campaign, answered_only), after, values,
                              errors)
