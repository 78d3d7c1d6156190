"""The vosk-backed :class:`~callcenter.asr.base.Recognizer` the IVR uses when a model is loaded.

It turns a question into a grammar (the question's phrases plus the Mandarin
cue vocabulary, so negations and hedges can be heard), has a worker decode
the recording in grammar and free-form mode at once, and lets
:mod:`callcenter.asr.interpret` decide.  Vocabulary problems are warned about
once per phrase, never raised.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

from .base import Recognition
from .interpret import interpret
from .intents import vocabulary
from .pool import Job, WorkerPool

log = logging.getLogger(__name__)


class VoskRecognizer:
    available = True

    def __init__(self, pool: WorkerPool, *, review_threshold: float = 0.6, free_form: bool = True):
        self.pool = pool
        self.review_threshold = review_threshold
        self.free_form = free_form
        self._warned: set[tuple[str, str]] = set()

    async def start(self) -> None:
        """Load the model in every worker now rather than on the first call."""
        await self.pool.start()

    async def close(self) -> None:
        await self.pool.close()

    async def recognize(self, audio: Path, *, question: str, phrases: Mapping[str, str]) -> Recognition:
        grammar = grammar_phrases(question, phrases)
        result = await self.pool.run(Job(str(audio), grammar or None, free_form=self.free_form or not grammar))
        self._warn_dropped(question, result.get("dropped", ()))
        heard = result.get("grammar")
        free = result.get("free")
        return interpret(question, phrases,
                         [tuple(w) for w in heard["words"]] if heard is not None else None,
                         [tuple(w) for w in free["words"]] if free is not None else None,
                         self.review_threshold)

    def _warn_dropped(self, question: str, dropped) -> None:
        new = [p for p in dropped if (question, p) not in self._warned]
        if new:
            self._warned.update((question, p) for p in new)
            log.warning("speech: %d phrase(s) of question %s have words missing from the model's vocabulary "
                        "and were left out of its grammar: %s", len(new), question, " / ".join(new))


def grammar_phrases(question: str, phrases: Mapping[str, str]) -> tuple[str, ...]:
    """The script's phrases first, then the question's Mandarin cues; empty for free speech."""
    return tuple(dict.fromkeys([*phrases, *vocabulary(question)]))
