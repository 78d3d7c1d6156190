"""`bench/campaign.py --asterisk`: the campaign against the real Asterisk 22 (../shared/asterisk-22).

Every citizen is dialplan behind Local/{number}@bench-citizens and answers
the whole survey by keys (about 6 s of call with the tests' 0.4 s tone
prompts).  `callcenter serve` runs as its own process and Asterisk as its
own, so the CPU of each is read from /proc side by side in the same run.
For each channel count of the sweep it reports calls per second, how many
calls completed, and CPU per call of the service and of Asterisk; the
highest channel count at which at least 99 % of calls complete the survey
is what the box sustains.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from spread import print_table  # bench/ is on sys.path (bench/campaign.py puts it there)

from callcenter.db.database import drop_database_on, ensure_database
from callcenter.db.embedded import start_embedded
from callcenter.netutil import free_port
from tests.real_asterisk import RealAsterisk, missing_reason

DATABASE = "callcenter_bench_asterisk"
SUSTAINED = 0.99           # share of calls that must complete the survey for a channel count to count


async def one_run(args, channels: int, server: str, prepare, cpu_seconds, service_seconds) -> dict:
    """One campaign of ``calls`` through ``channels`` channels; figures of this run."""
    calls = args.calls or 4 * channels
    home = Path(tempfile.mkdtemp(prefix="cc-bench-asterisk-"))
    await drop_database_on(server, DATABASE)
    dsn = await ensure_database(server, DATABASE)
    await prepare(dsn, calls, channels, args.cps, dial="Local/{number}@bench-citizens")
    pbx = RealAsterisk(home / "asterisk", globals_={"TRUNK_MAX_CHANNELS": str(channels)}).start()
    env = dict(os.environ, CALLCENTER_DSN=dsn, CALLCENTER_HOME=str(home), CALLCENTER_AMI_PORT=str(pbx.ami_port),
               CALLCENTER_AGI_PORT=str(pbx.agi_port), CALLCENTER_WEB_PORT=str(free_port()),
               CALLCENTER_INSTANCE="bench",
               PATH=str(Path(sys.executable).parent))        # no espeak-ng: prompts are tones, no per-call TTS
    env.pop("CALLCENTER_CONFIG", None)
    log = (home / "serve.log").open("wb")
    service = subprocess.Popen([sys.executable, "-m", "callcenter", "serve"], env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    watch = await asyncpg.connect(dsn)
    peak = 0
    try:
        waited = time.monotonic()
        while not await watch.fetchval("SELECT count(*) FROM callback_attempts WHERE dialed_at IS NOT NULL"):
            if service.poll() is not None or time.monotonic() - waited > 60:
                raise SystemExit(f"service exited or never dialled: see {home / 'serve.log'}")
            await asyncio.sleep(0.05)
        cpu0 = (service_seconds(service.pid), cpu_seconds(pbx.proc.pid))      # from the first call: start-up excluded
        started = time.monotonic()
        while True:
            row = await watch.fetchrow(
                """SELECT count(*) FILTER (WHERE state IN ('dialing', 'answered')) AS live,
                          count(*) FILTER (WHERE state = 'finished' AND settled) AS done FROM callback_attempts""")
            peak = max(peak, row["live"])
            if row["done"] >= calls:
                break
            if service.poll() is not None or time.monotonic() - started > args.max_seconds:
                raise SystemExit(f"service exited or run too long: see {home / 'serve.log'}")
            await asyncio.sleep(0.25)
        wall = time.monotonic() - started
        cpu = (service_seconds(service.pid) - cpu0[0], cpu_seconds(pbx.proc.pid) - cpu0[1])
        complete = await watch.fetchval("SELECT count(*) FROM callback_attempts WHERE outcome = 'answered-complete'")
    finally:
        await watch.close()
        service.send_signal(signal.SIGTERM)
        service.wait(60)
        log.close()
        pbx.stop()
    return {"calls": calls, "wall": wall, "cps": calls / wall, "complete": complete / calls, "peak": peak,
            "service_ms": cpu[0] / calls * 1000, "asterisk_ms": cpu[1] / calls * 1000}


async def run(args, prepare, cpu_seconds, describe, service_seconds=None) -> None:
    """``service_seconds(pid)``: CPU-seconds of the service's processes (default: the one process)."""
    service_seconds = service_seconds or cpu_seconds
    reason = missing_reason()
    if reason:
        raise SystemExit(reason)
    home = Path(tempfile.mkdtemp(prefix="cc-bench-asterisk-pg-"))
    server = os.environ.get("CALLCENTER_DSN") or start_embedded(home / "pgdata")
    print(f"machine: {describe()}")
    print("real Asterisk 22, Local-channel citizens answering the whole survey by keys; "
          f"{args.runs} run(s) per channel count; min/median/max")
    sustained = None
    for channels in args.sweep:
        runs = [await one_run(args, channels, server, prepare, cpu_seconds, service_seconds) for _ in range(args.runs)]
        complete = min(r["complete"] for r in runs)
        if complete >= SUSTAINED:
            sustained = channels
        print_table(f"{channels} channels, {runs[0]['calls']} calls: peak live {max(r['peak'] for r in runs)}; "
                    f"complete {complete:.1%} (worst run)",
                    {"calls/s": [r["cps"] for r in runs],
                     "complete surveys": [r["complete"] * 100 for r in runs],
                     "service CPU per call": [r["service_ms"] for r in runs],
                     "Asterisk CPU per call": [r["asterisk_ms"] for r in runs]},
                    fmt="{:,.2f}", units={"complete surveys": "%", "service CPU per call": "ms",
                                          "Asterisk CPU per call": "ms"})
    print(f"  highest concurrency sustained (≥ {SUSTAINED:.0%} of calls complete): "
          f"{sustained if sustained is not None else 'none of the sweep'} channels")
