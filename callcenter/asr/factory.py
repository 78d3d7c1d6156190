"""Choosing the recognizer at start-up: vosk when a model is there, DTMF-only (said loudly) when not."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from .base import NoSpeech, Recognizer

log = logging.getLogger(__name__)

#: Files every vosk model directory has; their absence means the path is not a model.
MODEL_MARKERS = ("am/final.mdl", "conf/model.conf")


@dataclass(frozen=True)
class SpeechStatus:
    """What /healthz and the dashboard show about speech."""
    mode: str                     # "speech" | "dtmf-only"
    model: str | None
    detail: str

    def as_dict(self) -> dict:
        return {"mode": self.mode, "model": self.model, "detail": self.detail}

    health = as_dict          # what /healthz asks every component for


def speech_status(settings: Settings) -> SpeechStatus:
    """Whether speech can run with these settings, and if not, why (cheap: no model is loaded)."""
    path = settings.vosk_model
    if path is None:
        return SpeechStatus("dtmf-only", None, "语音识别未启用：未配置 CALLCENTER_VOSK_MODEL，仅按键应答 "
                                               "(no speech model configured: DTMF only)")
    problem = model_problem(path)
    if problem:
        return SpeechStatus("dtmf-only", str(path), f"语音识别未启用 (speech disabled): {problem}; DTMF only")
    return SpeechStatus("speech", str(path), f"vosk model {path}, {settings.asr_workers} worker(s)")


def model_problem(path: Path) -> str | None:
    """Why ``path`` is not a usable vosk model directory, or None."""
    if not path.exists():
        return f"model directory {path} does not exist"
    missing = [m for m in MODEL_MARKERS if not (path / m).is_file()]
    if missing:
        return f"{path} is not a vosk model (missing {', '.join(missing)})"
    return None


def build_recognizer(settings: Settings) -> Recognizer:
    """The recognizer for these settings; call ``await recognizer.start()`` to load models up front."""
    status = speech_status(settings)
    if status.mode != "speech":
        log.warning("!!! %s !!!", status.detail)
        return NoSpeech(status.detail)
    from .pool import WorkerPool
    from .recognizer import VoskRecognizer
    pool = WorkerPool(settings.vosk_model, workers=settings.asr_workers,
                      memory_mb=settings.asr_worker_memory_mb or None)
    log.info("speech: %s", status.detail)
    return VoskRecognizer(pool, review_threshold=settings.asr_review_threshold)
