"""A question's answer phrases → a vosk grammar the loaded model can actually use.

vosk only decodes words in its model's vocabulary and ignores others.  A
Mandarin model's words are segmented (满意, 不, 基本 …), while our phrases are
written whole (基本满意), so each phrase is segmented greedily, longest word
first, into words the model knows.  A phrase with a part the model cannot say
is dropped whole (dropping only the word could turn 不满意 into 满意) and
reported, so the caller can warn; nothing here raises on vocabulary.

The model's "anything else" word ([unk], or <UNK> in some models) is added so
stray speech is not forced onto an answer.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterable

#: Spellings of the out-of-vocabulary word, in the order models tend to use them.
UNK_WORDS = ("[unk]", "<UNK>", "<unk>")
#: Longest vocabulary word tried when segmenting unspaced CJK text.
MAX_WORD_CHARS = 8


@dataclass(frozen=True)
class Grammar:
    phrases: tuple[str, ...]          # space-separated model words, plus the unk word last
    dropped: tuple[str, ...]          # phrases left out: some part is not in the vocabulary
    unk: str | None                   # the model's unknown-word symbol, None if it has none


def build_grammar(phrases: Iterable[str], known: Callable[[str], bool]) -> Grammar:
    """Segment ``phrases`` into model words; ``known(word)`` says whether the model has a word."""
    kept: list[str] = []
    dropped: list[str] = []
    for phrase in dict.fromkeys(p.strip() for p in phrases if p and p.strip()):
        words = segment(phrase, known)
        if words is None:
            dropped.append(phrase)
        elif " ".join(words) not in kept:
            kept.append(" ".join(words))
    unk = next((w for w in UNK_WORDS if known(w)), None)
    return Grammar(tuple(kept) + ((unk,) if unk else ()), tuple(dropped), unk)


def segment(phrase: str, known: Callable[[str], bool]) -> list[str] | None:
    """Model words for ``phrase``, or None when some part of it is not in the vocabulary."""
    words: list[str] = []
    for token in phrase.split():
        if known(token):
            words.append(token)
        elif _is_cjk(token):
            parts = _max_match(token, known)
            if parts is None:
                return None
            words.extend(parts)
        else:
            return None
    return words or None


def _max_match(text: str, known: Callable[[str], bool]) -> list[str] | None:
    parts, i = [], 0
    while i < len(text):
        for size in range(min(MAX_WORD_CHARS, len(text) - i), 0, -1):
            if known(text[i:i + size]):
                parts.append(text[i:i + size])
                i += size
                break
        else:
            return None
    return parts


def _is_cjk(token: str) -> bool:
    return all(unicodedata.name(ch, "").startswith("CJK") for ch in token)
