"""Deciding an answer from what the engine heard (pure: no engine needed)."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from callcenter.asr.interpret import CONTAINED, FREE_FORM_DISCOUNT, interpret, match_answer, word_confidence

IVR_SATISFACTION = {"满意": "satisfied", "基本满意": "basic", "不满意": "dissatisfied", "不需要": "refuse"}


def words(text: str, conf: float = 0.9) -> list[tuple[str, float]]:
    return [(w, conf) for w in text.split()]


def test_mandarin_negation_beats_naive_phrase_matching():
    heard = interpret("satisfaction", IVR_SATISFACTION, words("不 太 满意"), None, 0.6)
    assert heard.intent == "dissatisfied" and heard.confidence == 0.9 and not heard.needs_review


def test_an_exact_script_phrase_wins():
    # 不需要 holds 不, a weak "no" cue for the Mandarin mapper; the script's own phrase decides.
    heard = interpret("contacted", {"是": "yes", "否": "no", "不需要": "refuse"}, words("不 需要"), None, 0.6)
    assert heard.intent == "refuse" and heard.confidence == 0.9


def test_phrases_in_other_languages_are_matched_inside_the_answer():
    heard = interpret("contacted", {"네": "yes", "아니요": "no"}, words("아니요 고맙습니다"), None, 0.6)
    assert heard.intent == "no"
    assert heard.confidence == pytest.approx(CONTAINED * 0.9, abs=1e-4)


def test_two_intents_in_one_answer_are_not_guessed():
    heard = interpret("contacted", {"네": "yes", "아니요": "no"}, words("네 아니요"), None, 0.6)
    assert heard.intent is None and heard.needs_review


def test_unk_lowers_confidence_and_low_confidence_goes_to_review():
    clean = interpret("satisfaction", IVR_SATISFACTION, words("满意"), None, 0.6)
    noisy = interpret("satisfaction", IVR_SATISFACTION, [("[unk]", 0.9)] * 3 + [("满意", 0.9)], None, 0.6)
    assert noisy.intent == clean.intent == "satisfied"
    assert noisy.confidence < clean.confidence
    assert noisy.needs_review and not clean.needs_review


def test_the_free_form_pass_is_a_discounted_fallback():
    heard = interpret("satisfaction", IVR_SATISFACTION, [("[unk]", 0.8)], words("还 可以 吧"), 0.6)
    assert heard.intent == "basic"
    assert heard.confidence == pytest.approx(FREE_FORM_DISCOUNT * 0.9, abs=1e-4)
    assert heard.transcript == "[unk]" and heard.free_text == "还 可以 吧"


def test_silence_is_not_understood():
    heard = interpret("satisfaction", IVR_SATISFACTION, [], [], 0.6)
    assert heard.intent is None and heard.confidence == 0.0 and heard.needs_review and heard.transcript == ""


def test_free_speech_has_a_transcript_and_no_intent():
    heard = interpret("dissatisfaction_reason", {}, None, words("太 慢 了", 0.4), 0.6)
    assert heard.intent is None and heard.transcript == "太 慢 了" and heard.needs_review
    assert not interpret("dissatisfaction_reason", {}, None, words("太 慢 了", 0.8), 0.6).needs_review


def test_bare_assent_is_an_answer_for_review():
    match = match_answer("contacted", {"是": "yes"}, "嗯")
    assert match.intent == "yes" and match.clarity < 0.6


@given(st.lists(st.tuples(st.sampled_from(["满意", "[unk]", "基本", "不"]), st.floats(0, 1)), max_size=6))
def test_word_confidence_stays_in_range(heard):
    assert 0.0 <= word_confidence(heard) <= 1.0
