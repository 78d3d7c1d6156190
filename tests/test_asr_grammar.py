"""Phrases → a vosk grammar over the model's real vocabulary (pure: the vocabulary is a set here)."""
from __future__ import annotations

from callcenter.asr.grammar import build_grammar, segment

VOCAB = {"满意", "基本", "不", "太", "没有", "解决", "了", "[unk]", "네", "아니요"}
known = VOCAB.__contains__


def test_unspaced_mandarin_is_segmented_into_model_words():
    assert segment("基本满意", known) == ["基本", "满意"]
    assert segment("不太满意", known) == ["不", "太", "满意"]
    assert segment("没有 解决 了", known) == ["没有", "解决", "了"]


def test_a_phrase_with_an_unknown_part_is_dropped_whole_not_shortened():
    grammar = build_grammar(["满意", "不怎么满意", "만족합니다"], known)
    assert grammar.phrases == ("满意", "[unk]")
    assert grammar.dropped == ("不怎么满意", "만족합니다")      # never shortened to 满意


def test_the_models_unknown_word_is_appended_whichever_way_it_is_spelled():
    assert build_grammar(["네"], known).unk == "[unk]"
    korean = build_grammar(["네", "아니요"], {"네", "아니요", "<UNK>"}.__contains__)
    assert korean.phrases == ("네", "아니요", "<UNK>") and korean.unk == "<UNK>"
    none = build_grammar(["네"], {"네"}.__contains__)
    assert none.phrases == ("네",) and none.unk is None


def test_duplicates_and_blanks_are_ignored():
    grammar = build_grammar(["满意", " 满意 ", "", "满 意"], {"满意", "满", "意"}.__contains__)
    assert grammar.phrases == ("满意", "满 意")
