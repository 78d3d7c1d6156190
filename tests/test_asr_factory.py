"""Start-up: a vosk recognizer when a model is there, DTMF-only (said loudly) when it is not."""
from __future__ import annotations

import logging

import pytest

from callcenter.asr.base import NoSpeech, Recognizer, SpeechUnavailable
from callcenter.asr.factory import build_recognizer, speech_status
from callcenter.asr.recognizer import VoskRecognizer
from callcenter.config import Settings


def fake_model(path):
    (path / "am").mkdir(parents=True)
    (path / "conf").mkdir()
    (path / "am" / "final.mdl").write_bytes(b"")
    (path / "conf" / "model.conf").write_text("")
    return path


async def test_no_model_means_dtmf_only_said_loudly(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        recognizer = build_recognizer(Settings(home=tmp_path))
    assert isinstance(recognizer, NoSpeech) and isinstance(recognizer, Recognizer) and not recognizer.available
    assert "DTMF only" in caplog.text and caplog.records[-1].levelno == logging.WARNING
    with pytest.raises(SpeechUnavailable, match="DTMF only"):
        await recognizer.recognize(tmp_path / "a.wav", question="contacted", phrases={})
    await recognizer.start()
    await recognizer.close()


@pytest.mark.parametrize("make,problem", [
    (lambda p: p / "nowhere", "does not exist"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "not a vosk model"),
])
def test_a_bad_model_path_falls_back_to_dtmf_with_the_reason(tmp_path, caplog, make, problem):
    settings = Settings(home=tmp_path, vosk_model=make(tmp_path))
    status = speech_status(settings)
    assert status.mode == "dtmf-only" and problem in status.detail
    with caplog.at_level(logging.WARNING):
        assert isinstance(build_recognizer(settings), NoSpeech)
    assert problem in caplog.text


def test_a_model_directory_gives_a_vosk_recognizer_with_the_settings(tmp_path):
    settings = Settings(home=tmp_path, vosk_model=fake_model(tmp_path / "m"), asr_workers=3,
                        asr_worker_memory_mb=700, asr_review_threshold=0.75)
    recognizer = build_recognizer(settings)
    assert isinstance(recognizer, VoskRecognizer) and recognizer.available
    assert recognizer.review_threshold == 0.75
    assert (recognizer.pool.size, recognizer.pool.memory_mb) == (3, 700)
    assert speech_status(settings).as_dict()["mode"] == "speech"
