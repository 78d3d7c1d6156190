"""``callcenter asr``: fetch the Mandarin model, and recognise recordings from the command line."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from ..asr.audio import BadAudio
from ..asr.factory import model_problem
from ..asr.fetch import (OFFICIAL_NAME, OFFICIAL_SHA256, OFFICIAL_URL, ChecksumMismatch, FetchError,
                         fetch_model)
from ..asr.intents import QUESTIONS
from ..asr.pool import JobFailed, PoolError, WorkerPool
from ..asr.recognizer import VoskRecognizer
from .common import CliError, ExitCode, async_handler, settings_from

ORDER = 55


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("asr", help="speech recognition: fetch the model, recognise recordings",
                       description="Speech recognition (vosk) for spoken callback answers.")
    asr = p.add_subparsers(dest="asr_command", metavar="ACTION", required=True)

    f = asr.add_parser("fetch-model", help=f"download {OFFICIAL_NAME} (needs internet)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=f"Download a vosk model zip, check its sha256, and unpack it atomically.\n\n"
                                   f"The default is the official Mandarin model {OFFICIAL_NAME}.  Its host\n"
                                   f"publishes no checksum and none is built in yet, so pass the expected\n"
                                   f"hash with --sha256 (e.g. from a copy you trust: `sha256sum FILE.zip`),\n"
                                   f"or --insecure-skip-verify to accept the download unverified.\n"
                                   f"Afterwards point CALLCENTER_VOSK_MODEL at the printed directory.")
    f.add_argument("--url", default=OFFICIAL_URL, help="zip to download (default: %(default)s)")
    f.add_argument("--dest", type=Path, help="directory to unpack into (default: <home>/models)")
    f.add_argument("--sha256", default=OFFICIAL_SHA256, metavar="HEX", help="expected sha256 of the zip")
    f.add_argument("--insecure-skip-verify", action="store_true",
                   help="unpack even though no checksum was given (the hash is printed so you can record it)")
    f.set_defaults(handler=run_fetch)

    r = asr.add_parser("recognize", help="recognise spoken answers in WAV files; one JSON line per file",
                       description="Recognise each FILE (8 or 16 kHz mono 16-bit WAV) as an answer to QUESTION "
                                   "and print one JSON line: file, transcript, intent, confidence, review "
                                   "(true when it would go to the review queue), free_text.  Exit 3 if any "
                                   "file was unreadable, 1 if recognition failed.")
    r.add_argument("--question", required=True, choices=sorted(QUESTIONS))
    r.add_argument("--model", type=Path, help="vosk model directory (default: $CALLCENTER_VOSK_MODEL)")
    r.add_argument("--phrase", action="append", default=[], metavar="TEXT=INTENT",
                   help="an extra answer phrase for the grammar (repeatable), e.g. 不需要=refuse")
    r.add_argument("--workers", type=int, help="worker processes (default: asr_workers setting)")
    r.add_argument("--threshold", type=float, help="review threshold 0–1 (default: asr_review_threshold)")
    r.add_argument("files", nargs="+", type=Path, metavar="FILE")
    r.set_defaults(handler=run_recognize)


def run_fetch(args: argparse.Namespace) -> int:
    dest = args.dest or settings_from(args).home / "models"
    progress = _progress_bar() if sys.stderr.isatty() else None
    try:
        fetched = fetch_model(args.url, dest, sha256=args.sha256, insecure_skip_verify=args.insecure_skip_verify,
                              progress=progress)
    except ChecksumMismatch as exc:
        raise CliError(str(exc), ExitCode.REJECTED) from exc
    except FetchError as exc:
        code = ExitCode.USAGE if args.sha256 is None and not args.insecure_skip_verify else ExitCode.FAILURE
        raise CliError(str(exc), code) from exc
    finally:
        if progress:
            progress.stop()
    print(f"model: {fetched.model_dir}")
    print(f"sha256: {fetched.sha256} ({'verified' if fetched.verified else 'NOT verified'}), {fetched.bytes} bytes")
    print(f"use it: export CALLCENTER_VOSK_MODEL={fetched.model_dir}")
    return ExitCode.OK


def _progress_bar():
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    bar = Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(),
                   console=__import__("rich.console").console.Console(stderr=True))
    task = bar.add_task("download", total=None)
    bar.start()

    def update(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)
    update.stop = bar.stop
    return update


@async_handler
async def run_recognize(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    model = args.model or settings.vosk_model
    if model is None:
        raise CliError("no speech model: set CALLCENTER_VOSK_MODEL or pass --model "
                       "(`callcenter asr fetch-model` downloads the Mandarin one)", ExitCode.USAGE)
    problem = model_problem(model)
    if problem:
        raise CliError(problem, ExitCode.USAGE)
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise CliError("--threshold must be between 0 and 1", ExitCode.USAGE)
    if args.workers is not None and args.workers < 1:
        raise CliError("--workers must be at least 1", ExitCode.USAGE)
    phrases = _phrases(args.phrase)
    settings = replace(settings, asr_workers=args.workers or min(settings.asr_workers, len(args.files)))
    threshold = settings.asr_review_threshold if args.threshold is None else args.threshold
    if not args.verbose:
        logging.getLogger("callcenter.asr.recognizer").setLevel(logging.ERROR)
    pool = WorkerPool(model, workers=settings.asr_workers, memory_mb=settings.asr_worker_memory_mb or None)
    recognizer = VoskRecognizer(pool, review_threshold=threshold)
    worst = ExitCode.OK
    try:
        await recognizer.start()
        for path in args.files:
            line: dict = {"file": str(path)}
            try:
                heard = await recognizer.recognize(path, question=args.question, phrases=phrases)
                line.update(transcript=heard.transcript, intent=heard.intent, confidence=heard.confidence,
                            review=heard.needs_review, free_text=heard.free_text)
            except (JobFailed, BadAudio) as exc:
                line.update(error=str(exc), review=True)
                worst = max(worst, ExitCode.REJECTED)
            except PoolError as exc:
                line.update(error=str(exc), review=True)
                worst = max(worst, ExitCode.FAILURE) if worst != ExitCode.REJECTED else worst
            print(json.dumps(line, ensure_ascii=False), flush=True)
    except PoolError as exc:
        raise CliError(str(exc)) from exc
    finally:
        await recognizer.close()
    return worst


def _phrases(items: list[str]) -> dict[str, str]:
    phrases = {}
    for item in items:
        text, sep, intent = item.partition("=")
        if not sep or not text.strip() or not intent.strip():
            raise CliError(f"--phrase {item!r}: expected TEXT=INTENT", ExitCode.USAGE)
        phrases[text.strip()] = intent.strip()
    return phrases
