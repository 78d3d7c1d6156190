"""The callback FastAGI service as ``callcenter serve`` runs it, built from settings in one call.

Why a factory: the scripts must be validated before Asterisk can connect
(a bad script stops start-up with FILE:LINE errors, not a citizen's call),
and the pieces (scripts, recordings directory, speech, synthesised prompts)
come from settings the same way everywhere: service, demo, tests.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..asr.base import Recognizer
from ..config import Settings
from ..ivr.loader import ScriptLibrary
from ..ivr.session import CallbackIvr
from ..ivr.tts import EspeakSynthesizer, Synthesizer
from .agi import AgiServer


def callback_agi_server(settings: Settings, pool: Any, *, recognizer: Recognizer | None = None,
                        synthesizer: Synthesizer | None = None, scripts: Path | None = None,
                        sounds_dir: Path | None = None,
                        on_verdict: Callable[[Any, str], None] | None = None,
                        key_settle_s: float | None = None) -> AgiServer:
    """An unstarted :class:`AgiServer` on ``settings.agi_host:agi_port`` serving route ``callback``.

    Raises :class:`callcenter.ivr.loader.ScriptError` listing every problem of
    every script.  ``synthesizer`` defaults to espeak-ng with a cache under
    ``settings.home/tts`` (the greeting's date and title; skipped if espeak-ng
    is missing), rendered in a worker process that the server's close stops.
    Recordings go to ``settings.recordings/<attempt id>/``; Asterisk
    must be able to write there (same host, or a shared mount at the same path).
    ``on_verdict(attempt_id, outcome)`` is told each call's verdict as the script reaches it (the dialer
    of the same process).  ``key_settle_s``: the pause after an answering key (default
    :data:`callcenter.ivr.runner.KEY_SETTLE_S`; a simulator on a scaled clock needs none).
    """
    library = ScriptLibrary.from_directory(scripts, sounds_dir=sounds_dir)
    ivr = CallbackIvr(pool, library, recognizer=recognizer,
                      synthesizer=synthesizer or EspeakSynthesizer(settings.home / "tts", separate_process=True),
                      recordings_dir=settings.recordings, on_verdict=on_verdict,
                      **({} if key_settle_s is None else {"key_settle_s": key_settle_s}))
    return AgiServer(ivr, host=settings.agi_host, port=settings.agi_port)
