"""The code that runs inside one recognition worker process.

Each worker loads the model once, then decodes jobs sent over its pipe until
the pipe closes.  Decoding is CPU-bound C++ that would freeze the event loop,
which is why it lives in a separate process; a crash (or the memory cap being
hit) kills only this process, and the pool notices the closed pipe.

Messages (pickled tuples over a multiprocessing Pipe):
  worker → pool  ("ready", info) | ("failed", message)            once, at start
  pool → worker  ("job", job_id, wav_path, grammar phrases | None, free_form)
  worker → pool  ("done", job_id, result) | ("error", job_id, message)
"""
from __future__ import annotations

import json
import os
import resource
import time
from typing import Any

from .audio import BadAudio, read_wav
from .grammar import build_grammar

#: Bytes fed to vosk at a time: 0.25 s at 8 kHz, 0.125 s at 16 kHz.
CHUNK_BYTES = 4000


def main(conn, model_path: str, memory_mb: int | None) -> None:
    """Process entry point: cap memory, load the model, serve jobs."""
    try:
        if memory_mb:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        import vosk
        vosk.SetLogLevel(-1)
        started = time.perf_counter()
        model = vosk.Model(model_path)
        info = {"pid": os.getpid(), "load_seconds": time.perf_counter() - started, "rss_mb": rss_mb(),
                "vm_peak_mb": rss_mb("VmPeak:")}
    except BaseException as exc:              # the pool reports it; nothing to serve
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        conn.close()
        return
    conn.send(("ready", info))
    known = _vocabulary_lookup(model)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        _, job_id, wav_path, phrases, free_form = message
        try:
            conn.send(("done", job_id, decode(vosk, model, known, wav_path, phrases, free_form)))
        except BadAudio as exc:
            conn.send(("error", job_id, str(exc)))


def decode(vosk: Any, model: Any, known, wav_path: str, phrases: list[str] | None, free_form: bool) -> dict:
    """One pass over the audio, feeding a grammar recognizer and a free-form one side by side."""
    pcm = read_wav(wav_path)
    started = time.perf_counter()
    recognizers: dict[str, Any] = {}
    grammar = None
    if phrases:
        grammar = build_grammar(phrases, known)
        if len(grammar.phrases) > (1 if grammar.unk else 0):
            recognizers["grammar"] = _recognizer(vosk, model, pcm.rate, grammar.phrases)
    if free_form or not recognizers:
        recognizers["free"] = _recognizer(vosk, model, pcm.rate, None)
    for start in range(0, len(pcm.data), CHUNK_BYTES):
        chunk = pcm.data[start:start + CHUNK_BYTES]
        for rec in recognizers.values():
            rec.AcceptWaveform(chunk)
    result = {name: _final(rec) for name, rec in recognizers.items()}
    result.update(seconds=pcm.seconds, rate=pcm.rate, decode_seconds=time.perf_counter() - started, rss_mb=rss_mb(),
                  pid=os.getpid(), grammar_phrases=list(grammar.phrases) if grammar else None,
                  dropped=list(grammar.dropped) if grammar else [], unk=grammar.unk if grammar else None)
    return result


_recognizers: dict[tuple[int, tuple[str, ...] | None], Any] = {}
#: Recognizers kept per worker: compiling a grammar costs more than decoding a short answer.
KEEP_RECOGNIZERS = 32


def _recognizer(vosk: Any, model: Any, rate: int, phrases: tuple[str, ...] | None) -> Any:
    """A recognizer for this rate and grammar, reused across jobs (FinalResult leaves it reset)."""
    key = (rate, phrases)
    rec = _recognizers.pop(key, None)
    if rec is None:
        if phrases is None:
            rec = vosk.KaldiRecognizer(model, rate)
        else:
            rec = vosk.KaldiRecognizer(model, rate, json.dumps(list(phrases), ensure_ascii=False))
        rec.SetWords(True)
    _recognizers[key] = rec                  # most recently used last
    while len(_recognizers) > KEEP_RECOGNIZERS:
        _recognizers.pop(next(iter(_recognizers)))
    return rec


def _final(rec: Any) -> dict:
    """vosk's final result as {"text", "words": [[word, conf], ...]}."""
    raw = json.loads(rec.FinalResult())
    return {"text": raw.get("text", ""), "words": [[w["word"], float(w["conf"])] for w in raw.get("result", [])]}


def _vocabulary_lookup(model: Any):
    cache: dict[str, bool] = {}

    def known(word: str) -> bool:
        if word not in cache:
            cache[word] = model.vosk_model_find_word(word) >= 0
        return cache[word]
    return known


def rss_mb(field: str = "VmRSS:") -> float:
    """Resident memory (or another /proc/self/status figure, e.g. VmPeak) of this process, in MiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
