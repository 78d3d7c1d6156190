"""What the IVR needs from speech recognition, independent of the engine.

The IVR runner depends only on this interface; vosk (callcenter.asr.vosk…)
and the test fakes implement it.  A question hands over its answer phrases
(phrase → intent) so the engine can build a grammar and map the transcript.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Protocol, runtime_checkable


class SpeechUnavailable(RuntimeError):
    """No speech model is loaded: the service runs DTMF-only."""


@dataclass(frozen=True)
class Recognition:
    transcript: str                      # what was heard, as the engine wrote it
    intent: str | None                   # e.g. "yes", "partly", "dissatisfied"; None = not understood
    confidence: float                    # 0.0 – 1.0, engine word confidences combined with match clarity
    needs_review: bool                   # below the threshold: a supervisor decides, never a silent guess
    words: tuple[tuple[str, float], ...] = field(default=())   # (word, confidence) as the engine gave them
    free_text: str = ""                  # free-form transcription of the same audio, for the supervisor to read


@runtime_checkable
class Recognizer(Protocol):
    @property
    def available(self) -> bool:
        """False when no model is loaded (DTMF-only mode)."""

    async def recognize(self, audio: Path, *, question: str, phrases: Mapping[str, str]) -> Recognition:
        """Transcribe ``audio`` (8 or 16 kHz mono WAV) and map it to one of ``phrases``' intents."""


class NoSpeech:
    """The recognizer used when no model is configured: every call says so."""

    available = False

    def __init__(self, reason: str = "no vosk model configured (CALLCENTER_VOSK_MODEL)"):
        self.reason = reason

    async def recognize(self, audio: Path, *, question: str, phrases: Mapping[str, str]) -> Recognition:
        raise SpeechUnavailable(f"{self.reason}: DTMF only")

    async def start(self) -> None:
        """Nothing to load (every recognizer may be started and closed the same way)."""

    async def close(self) -> None:
        """Nothing to release."""
