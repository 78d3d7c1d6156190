"""What the engine heard → the answer, with one honest confidence figure.

Pure (no engine): takes the words vosk returned (grammar pass and free-form
pass) and the question's phrases, and decides.

Order of evidence:
1. the whole answer is exactly one of the question's phrases (e.g. 不需要);
2. the Mandarin understanding of the three callback questions (negation, hedging);
3. any of the question's phrases inside the answer (language-agnostic; this is
   how a Korean phrase list, or a script's own extra phrases, are understood);
4. the same on the free-form transcript, trusted less, when the grammar pass
   heard nothing usable.

confidence = clarity of the match × mean word confidence of the words heard
× a penalty for the share of the answer that was [unk].  Below the review
threshold the answer goes to a supervisor with the recording.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from .base import Recognition
from .grammar import UNK_WORDS
from .intents import normalize, understand

Words = Sequence[tuple[str, float]]

#: Clarity of a phrase found inside a longer answer (vs. the answer being exactly the phrase).
CONTAINED = 0.8
#: How much less a free-form transcript is trusted than the grammar pass.
FREE_FORM_DISCOUNT = 0.8
_UNK = {w.lower() for w in UNK_WORDS}


@dataclass(frozen=True)
class Match:
    intent: str | None
    clarity: float


def interpret(question: str, phrases: Mapping[str, str], grammar: Words | None, free: Words | None,
              threshold: float) -> Recognition:
    """Decide the answer from the grammar pass (``grammar``) and/or the free-form pass (``free``)."""
    free_text = _text(free or ())
    if grammar is None and not phrases and understand(question, "") is None:
        # Free speech (e.g. the reason for dissatisfaction): a transcript, no intent.
        conf = round(word_confidence(free or ()), 4)
        return Recognition(free_text, None, conf, needs_review=conf < threshold,
                           words=_tuple(free or ()), free_text=free_text)
    primary = grammar if grammar is not None else (free or ())
    match = match_answer(question, phrases, _text(primary))
    confidence = match.clarity * word_confidence(primary)
    if match.intent is None and grammar is not None and free:
        fallback = match_answer(question, phrases, free_text)
        if fallback.intent is not None:
            match = fallback
            confidence = FREE_FORM_DISCOUNT * fallback.clarity * word_confidence(free)
    confidence = round(confidence, 4)
    return Recognition(_text(primary), match.intent, confidence,
                       needs_review=match.intent is None or confidence < threshold,
                       words=_tuple(primary), free_text=free_text)


def match_answer(question: str, phrases: Mapping[str, str], text: str) -> Match:
    """The intent ``text`` gives to ``question``, and how clearly."""
    core = normalize(text)
    if not core:
        understood = understand(question, text)      # a bare 嗯 / 对 still answers a yes/no question
        return Match(understood.intent, understood.clarity) if understood else Match(None, 0.0)
    by_phrase = {normalize(p): intent for p, intent in phrases.items() if normalize(p)}
    if core in by_phrase:
        return Match(by_phrase[core], 1.0)
    understood = understand(question, text)
    if understood is not None and understood.intent is not None:
        return Match(understood.intent, understood.clarity)
    found = _phrases_in(core, by_phrase)
    if len(found) == 1:
        return Match(found.pop(), CONTAINED)
    return Match(None, 0.0)


def word_confidence(words: Words) -> float:
    """Mean vosk confidence of the real words, scaled down by the share of [unk]."""
    if not words:
        return 0.0
    real = [conf for word, conf in words if word.lower() not in _UNK]
    if not real:
        return 0.0
    coverage = len(real) / len(words)
    return sum(real) / len(real) * (0.5 + 0.5 * coverage)


def _phrases_in(core: str, by_phrase: Mapping[str, str]) -> set[str]:
    """Intents of the phrases inside ``core``, longest phrase first, without overlaps."""
    covered = [False] * len(core)
    intents: set[str] = set()
    for phrase in sorted(by_phrase, key=len, reverse=True):
        start = core.find(phrase)
        while start >= 0:
            end = start + len(phrase)
            if not any(covered[start:end]):
                covered[start:end] = [True] * len(phrase)
                intents.add(by_phrase[phrase])
            start = core.find(phrase, start + 1)
    return intents


def _text(words: Words) -> str:
    return " ".join(word for word, _ in words)


def _tuple(words: Words) -> tuple[tuple[str, float], ...]:
    return tuple((str(w), float(c)) for w, c in words)
