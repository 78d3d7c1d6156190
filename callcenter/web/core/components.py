"""What the service's live components (AMI link, speech, dialer) say, in the shapes pages need.

The service hands them to ``create_app(extras=...)`` as whatever objects it
has; these readers accept the real classes (AmiLink.snapshot(), a
SpeechStatus, a VoskRecognizer with its WorkerPool, the Dialer) and plain
callables, and never raise: a broken component must not break a page.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ...asr.factory import speech_status
from . import keys

log = logging.getLogger(__name__)

#: AMI snapshot fields safe to publish (no host, user or secret is ever among them).
AMI_PUBLIC_FIELDS = ("state", "connected", "logged_in", "events_per_second", "events_received", "reconnects",
                     "ping_timeouts", "actions_in_flight", "calls_tracked", "last_pong_latency")


def ami_snapshot(component: Any) -> dict[str, Any] | None:
    """The AMI link's public counters, or None when there is no link or it cannot say."""
    snapshot = getattr(component, "snapshot", None)
    if snapshot is None:
        return None
    try:
        raw = snapshot()
    except Exception as exc:
        log.warning("AMI snapshot failed: %s", exc)
        return None
    return {k: raw[k] for k in AMI_PUBLIC_FIELDS if k in raw}


@dataclass(frozen=True)
class SpeechView:
    mode: str                 # speech | dtmf-only | unknown
    detail: str
    workers: int | None       # recognition worker processes configured
    busy: int | None          # of which decoding right now

    @property
    def dtmf_only(self) -> bool:
        return self.mode == "dtmf-only"

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "detail": self.detail, "workers": self.workers, "busy": self.busy}


def speech_view(app: web.Application) -> SpeechView:
    """Speech as the service runs it (extras 'asr'), else as the settings would run it."""
    component = app.get(keys.ASR)
    settings = app[keys.SETTINGS]
    if component is None:
        status = speech_status(settings)
        workers = settings.asr_workers if status.mode == "speech" else 0
        return SpeechView(status.mode, status.detail, workers, None)
    try:
        if hasattr(component, "as_dict"):                       # a SpeechStatus
            d = component.as_dict()
            return SpeechView(str(d.get("mode", "unknown")), str(d.get("detail", "")),
                              settings.asr_workers if d.get("mode") == "speech" else 0, None)
        if getattr(component, "available", None) is False:       # NoSpeech
            return SpeechView("dtmf-only", str(getattr(component, "reason", "语音识别未启用")), 0, None)
        pool = getattr(component, "pool", None)
        if pool is not None:                                     # VoskRecognizer over a WorkerPool
            return SpeechView("speech", f"vosk, {pool.size} worker(s)", pool.size, len(pool.busy_pids()))
        if callable(component):
            d = component()
            if isinstance(d, dict):
                mode = d.get("mode") or ("speech" if d.get("workers") else "unknown")
                return SpeechView(str(mode), str(d.get("detail", "")), d.get("workers"), d.get("busy"))
    except Exception as exc:
        log.warning("speech status failed: %s", exc)
    return SpeechView("unknown", "", None, None)


def dialer_live_calls(app: web.Application) -> int | None:
    """Calls this instance's dialer is following right now (None: no dialer here)."""
    dialer = app.get(keys.DIALER)
    value = getattr(dialer, "live_calls", None) if dialer is not None else None
    return value if isinstance(value, int) else None
