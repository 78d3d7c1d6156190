"""Campaign throughput: N callbacks through `callcenter serve` against the simulator over real TCP.

    .venv/bin/python bench/campaign.py                      # 10,000 calls, 500 channels, 3 runs
    .venv/bin/python bench/campaign.py --calls 2000 --channels 100 --runs 1
    .venv/bin/python bench/campaign.py --asterisk --sweep 25 50 100 --runs 3   # the real Asterisk 22

The service runs as its own process (as in production), so its CPU time is
measured alone: CPU-seconds of that process and of the Python workers it
starts (web workers, the speech synthesis worker) ÷ calls; the programs they
run (espeak-ng, sox) are not counted, as PostgreSQL is not.  A scheduled
report falls due at 08:00 office time and is drawn in a child process of its
own: whether a run meets one depends on the hour it starts, so that child's
CPU is printed apart and kept out of the per-call figure.  The simulator (AMI
server, call engine, FastAGI citizens) runs in this process; PostgreSQL is
the embedded one (or CALLCENTER_DSN's server).  One attempt per ticket, so
calls = tickets.

Channel utilisation = channel-seconds the simulated PBX had in use ÷
(trunk channels × time), over the busy phase: from the first Originate until
no ticket is left to dial (the draining tail, when nothing is left to start,
is reported separately).  Durations are compressed by --time-scale.

Every figure is measured --runs times (3 by default), each run on a fresh
database and a fresh service, and printed as min / median / max with the
machine (bench/spread.py): one run on a shared box is not a figure.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_web_ledger import fill  # noqa: E402  (bench/bench_web_ledger.py)
from machine import describe, describe_checkout  # noqa: E402  (bench/machine.py)
from proc_cpu import process_cpu_seconds, reaped_children_seconds, stat_fields  # noqa: E402  (bench/proc_cpu.py)
from spread import add_runs_argument, print_table  # noqa: E402  (bench/spread.py)

from callcenter.db import campaigns as campaign_repo  # noqa: E402
from callcenter.db.database import _init_connection, drop_database_on, ensure_database  # noqa: E402
from callcenter.db.embedded import start_embedded  # noqa: E402
from callcenter.db.migrations import migrate  # noqa: E402
from callcenter.netutil import free_port  # noqa: E402
from callcenter.sim.citizens import CitizenBook  # noqa: E402
from callcenter.sim.simulator import SimConfig, Simulator  # noqa: E402

DATABASE = "callcenter_bench_campaign"


def service_processes(pid: int) -> list[int]:
    """The service and the Python processes it started (web workers, the speech synthesis worker).

    Programs those run (espeak-ng, sox) are left out, as PostgreSQL is: their
    CPU is the program's, and a reaped child's lands in its parent's *c*utime,
    which process_cpu_seconds does not read.  Spawned workers' command lines start with
    the service's own interpreter, which is how they are told apart.
    """
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat_fields(stat.parent.name)[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            argv0 = Path(f"/proc/{current}/cmdline").read_bytes().split(b"\0", 1)[0].decode()
        except OSError:
            continue
        if current == pid or argv0 == sys.executable:
            found.append(current)
            todo.extend(children.get(current, []))
    return found


def process_role(pid: int) -> str:
    """What one of the service's processes is, from its command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return "ended process"
    if "--web-worker" in argv:
        return "web worker"
    if "resource_tracker" in argv:
        return "multiprocessing resource tracker"
    return "speech synthesis worker" if "multiprocessing" in argv else "process"


def call_work_seconds(pid: int) -> float:
    """CPU-seconds of the service's processes that work on calls (itself and the speech worker).

    For --asterisk, whose short runs start timing while a web worker may still be booting (and web
    workers take no part in a campaign): their start-up would otherwise land on 100 calls.
    """
    return sum(seconds for p, seconds in service_cpu(pid).items() if process_role(p) != "web worker")


def service_cpu(pid: int) -> dict[int, float]:
    """CPU-seconds so far of each of the service's processes (see service_processes)."""
    seconds = {}
    for p in service_processes(pid):
        try:
            seconds[p] = process_cpu_seconds(p)
        except OSError:
            pass                       # it ended between the listing and the read
    return seconds


async def prepare(dsn: str, calls: int, channels: int, cps: float, *,
                  dial: str = "Local/{number}@citizen-sim", start: bool = True) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await _init_connection(conn)
        await fill(conn, calls)
        # Every ticket at 待回访 with a number of its own (the sample-style fill repeats none below 1e8).
        await conn.execute("UPDATE tickets SET status = 'awaiting_callback', awaiting_since = now()")
        await campaign_repo.upsert_trunk(conn, "bench", dial, channels, cps, "<01082345678>")
        campaign_id = await campaign_repo.create_campaign(conn, campaign_repo.CampaignSpec(
            name="bench", trunk="bench", windows=("00:00-23:59",), max_attempts=1, daily_cap_per_number=5))
        if start:
            await campaign_repo.change_state(conn, campaign_id, "start", actor="bench")
        return campaign_id
    finally:
        await conn.close()


async def serving(log: Path, service: subprocess.Popen, timeout: float = 120.0) -> None:
    """Wait until serve.log says the service and each of its web workers are serving."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise SystemExit(f"service exited: see {log}")
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        running = re.search(r"service running with (\d+) web process", text)
        if running and len(re.findall(r"web worker \d+ serving", text)) >= int(running.group(1)) - 1:
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"the service did not start within {timeout:.0f} s: see {log}")


async def counts(conn: asyncpg.Connection) -> tuple[int, int, int]:
    row = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
                  count(*) FILTER (WHERE state IN ('dialing', 'answered')) AS live,
                  count(*) FILTER (WHERE state = 'finished' AND settled) AS done
             FROM callback_attempts""")
    return row["pending"], row["live"], row["done"]


async def ledger_lags(conn: asyncpg.Connection, sim: Simulator) -> dict[str, tuple[float, float, int]]:
    """Per outcome: seconds from claim to the PBX ringing, and from the PBX hang-up to the ledger's end
    (medians, count, then the means: a tail the medians hide still holds channels).

    Together they are the channel time the trunk loses to the service on each call.
    """
    offset = time.time() - time.monotonic()
    rows = await conn.fetch(
        """SELECT channel_id::text AS channel_id, outcome, extract(epoch FROM dialed_at) AS dialed,
                  extract(epoch FROM ended_at) AS ended, extract(epoch FROM updated_at) AS written
             FROM callback_attempts WHERE channel_id IS NOT NULL""")
    calls = {c.channel_id: c for c in sim.engine.log.calls}
    by_outcome: dict[str, tuple[list[float], list[float]]] = {}
    written: list[float] = []
    for r in rows:
        call = calls.get(r["channel_id"])
        if call is None or call.ended is None or r["ended"] is None:
            continue
        setup, teardown = by_outcome.setdefault(r["outcome"], ([], []))
        setup.append(call.started + offset - float(r["dialed"]))
        teardown.append(float(r["ended"]) - (call.ended + offset))
        written.append(float(r["written"]) - (call.ended + offset))
    if written:
        print(f"  hang-up → attempt row last written (finished and settled): median {statistics.median(written) * 1000:.0f} ms, "
              f"mean {statistics.fmean(written) * 1000:.0f} ms, 95th percentile "
              f"{statistics.quantiles(written, n=20)[-1] * 1000:.0f} ms, all calls")
    return {k: (statistics.median(a), statistics.median(b), len(a), statistics.fmean(a), statistics.fmean(b))
            for k, (a, b) in by_outcome.items()}


async def one_run(args: argparse.Namespace, server: str, home: Path) -> dict[str, float]:
    """One campaign of ``args.calls`` calls on a fresh database; prints its details, returns its figures.

    ``home`` is the run's own CALLCENTER_HOME: no run finds the titles an earlier one synthesised
    (the prompt cache lives there), nor reads an earlier run's serve.log."""
    await drop_database_on(server, DATABASE)        # a fixed name: the last run's leftovers go first
    dsn = await ensure_database(server, DATABASE)
    t0 = time.perf_counter()
    campaign_id = await prepare(dsn, args.calls, args.channels, args.cps, start=False)
    print(f"seeded {args.calls} tickets in {time.perf_counter() - t0:.1f} s")

    agi_port = free_port()
    sim = Simulator(SimConfig(ami_port=0, agi_url=f"agi://127.0.0.1:{agi_port}/callback",
                              time_scale=args.time_scale, noise_per_call=0, book=CitizenBook(seed=args.seed)))
    sim_port = await sim.start()
    config = home / "callcenter.toml"
    config.write_text(f"db_pool_max = {args.pool}\n", encoding="utf-8")
    env = dict(os.environ, CALLCENTER_DSN=dsn, CALLCENTER_HOME=str(home), CALLCENTER_CONFIG=str(config),
               CALLCENTER_AMI_PORT=str(sim_port), CALLCENTER_AGI_PORT=str(agi_port),
               CALLCENTER_WEB_PORT=str(free_port()), CALLCENTER_INSTANCE="bench",
               # This checkout's code, not whatever an editable install points at (A/B between worktrees).
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    log = (home / "serve.log").open("ab")
    service = subprocess.Popen([sys.executable, "-m", "callcenter", "serve"], env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    watch = await asyncpg.connect(dsn)
    samples: list[tuple[float, int, int]] = []          # (time, channels live at the PBX, live in the ledger)
    try:
        # The campaign starts once every process of the service is up, as when a supervisor starts one:
        # the figures are a running service's, not its start-up's.
        await serving(home / "serve.log", service)
        await _init_connection(watch)                  # the service's codecs (the event's jsonb)
        await campaign_repo.change_state(watch, campaign_id, "start", actor="bench")
        while not sim.engine.log.calls:
            if service.poll() is not None:
                raise SystemExit(f"service exited: see {home / 'serve.log'}")
            await asyncio.sleep(0.05)
        started = time.monotonic()
        cpu_start = service_cpu(service.pid)
        reaped_start = reaped_children_seconds(service.pid)
        sim_cpu_start = time.process_time()
        busy_end = None
        while True:
            pending, live, done = await counts(watch)
            now = time.monotonic()
            if pending == 0 and busy_end is None:
                busy_end = now
            if busy_end is None:
                samples.append((now, sim.engine.log.live, live))
            if done >= args.calls:
                break
            if service.poll() is not None:
                raise SystemExit(f"service exited: see {home / 'serve.log'}")
            await asyncio.sleep(0.25)
        finished = time.monotonic()
        cpu_end = service_cpu(service.pid)
        reaped = reaped_children_seconds(service.pid) - reaped_start
        roles = {pid: process_role(pid) for pid in cpu_end}
        cpu_main = cpu_end.get(service.pid, 0.0) - cpu_start.get(service.pid, 0.0)
        cpu_used = sum(cpu_end.values()) - sum(cpu_start.get(p, 0.0) for p in cpu_end)
        sim_cpu = time.process_time() - sim_cpu_start
        lags = await ledger_lags(watch, sim)
        if os.environ.get("BENCH_TRACE"):
            for t, pbx, led in samples[::8]:
                print(f"    t+{t - started:5.1f}s pbx {pbx:4d} ledger {led:4d}")
    finally:
        await watch.close()
        service.send_signal(signal.SIGTERM)
        service.wait(60)
        await sim.close()
        log.close()

    calls = len(sim.engine.log.calls)
    busy_end = busy_end or finished
    busy_s = sim.engine.log.busy_seconds(until=finished)
    in_busy = sum(min(c.ended or finished, busy_end) - c.started for c in sim.engine.log.calls if c.started < busy_end)
    util_busy = in_busy / (args.channels * (busy_end - started))
    util_all = busy_s / (args.channels * (finished - started))
    print(f"calls {calls} over {args.channels} channels (cps limit {args.cps}, time scale {args.time_scale}); "
          f"max channels in use {sim.engine.log.max_live}")
    print(f"  wall {finished - started:.1f} s; busy phase {busy_end - started:.1f} s; "
          f"throughput {calls / (finished - started):.1f} calls/s")
    print(f"  channel utilisation: busy phase {util_busy:.1%}; whole run incl. draining tail {util_all:.1%}")
    if samples:
        pbx_live = sum(s[1] for s in samples) / len(samples)
        ledger_live = sum(s[2] for s in samples) / len(samples)
        print(f"  busy phase means: {pbx_live:.1f} channels live at the PBX, {ledger_live:.1f} calls live in the "
              f"ledger (the gap: calls ended at the PBX and not yet finished in the ledger, or not yet rung)")
    for outcome, (setup, teardown, n, setup_mean, teardown_mean) in sorted(lags.items()):
        print(f"  {outcome:<18} {n:>6} calls: claim → ringing {setup * 1000:6.0f} ms; "
              f"hang-up → ledger finished {teardown * 1000:6.0f} ms (medians; means {setup_mean * 1000:.0f} and "
              f"{teardown_mean * 1000:.0f} ms)")
    for pid in cpu_end:
        if pid != service.pid:
            print(f"    {roles[pid]} (pid {pid}): {(cpu_end[pid] - cpu_start.get(pid, 0.0)) / calls * 1000:.2f} "
                  f"ms per call")
    print(f"  service CPU {cpu_used:.1f} s = {cpu_used / calls * 1000:.2f} ms per call, all its processes "
          f"({cpu_main / calls * 1000:.2f} ms in the call-handling process, {(cpu_used - cpu_main) / calls * 1000:.2f} "
          f"ms in its web and speech workers; espeak-ng and sox themselves not counted)")
    # Not per-call work: the daily/weekly report falls due at 08:00 office time, so whether a run
    # draws one depends on the hour it starts; its child's CPU is shown apart, never in the figure.
    print(f"  short-lived child processes that ended during the run (a scheduled report drawn): {reaped:.1f} s "
          f"of CPU, not in the per-call figure")
    print(f"  simulator (this process) CPU {sim_cpu:.1f} s = {sim_cpu / (finished - started):.0%} of one core; "
          f"machine has {os.cpu_count()} cores")
    twice, overlapping = len(sim.engine.log.channel_ids_dialed_twice()), len(sim.engine.log.overlapping_numbers)
    print(f"  double dials {twice}, numbers rung while live {overlapping}")
    complete = lags.get("answered-complete", (float("nan"), float("nan"), 0, float("nan"), float("nan")))
    return {"service CPU per call": cpu_used / calls * 1000,
            "  of which the call-handling process": cpu_main / calls * 1000,
            "utilisation, busy phase": util_busy * 100,
            "utilisation incl. tail": util_all * 100,
            "calls/s": calls / (finished - started),
            "hang-up → ledger finished (complete)": complete[1] * 1000,
            "claim → ringing (complete)": complete[0] * 1000,
            "double dials + numbers rung while live": twice + overlapping}


UNITS = {"service CPU per call": "ms", "  of which the call-handling process": "ms", "utilisation, busy phase": "%", "utilisation incl. tail": "%",
         "hang-up → ledger finished (complete)": "ms (median)", "claim → ringing (complete)": "ms (median)"}


async def run(args: argparse.Namespace) -> None:
    """``args.runs`` campaigns, each on a fresh database and a fresh service; min / median / max of each figure."""
    home = Path(tempfile.mkdtemp(prefix="cc-bench-campaign-"))
    server = os.environ.get("CALLCENTER_DSN") or start_embedded(home / "pgdata")
    print(f"machine: {describe()}")
    print(f"code: {describe_checkout(ROOT)}")
    runs: list[dict[str, float]] = []
    for n in range(1, args.runs + 1):
        print(f"\nrun {n} of {args.runs}")
        run_home = home / f"run-{n}"
        run_home.mkdir()
        runs.append(await one_run(args, server, run_home))
    print_table(f"{args.calls} calls over {args.channels} channels, {args.runs} run(s); machine: {describe()}",
                {name: [r[name] for r in runs] for name in runs[0]}, fmt="{:,.2f}", units=UNITS)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=10_000)
    p.add_argument("--channels", type=int, default=500)
    p.add_argument("--cps", type=float, default=250)
    p.add_argument("--time-scale", type=float, default=0.25,
                   help="simulated durations × this (0.25: a 90 s survey takes 22 s)")
    p.add_argument("--pool", type=int, default=20, help="service's database pool size")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--asterisk", action="store_true", help="against the real Asterisk 22 in ../shared/asterisk-22")
    p.add_argument("--sweep", type=int, nargs="+", default=[25, 50, 100],
                   help="--asterisk: channel counts to try (calls = 4 × channels unless --calls is given)")
    add_runs_argument(p)          # both modes: each run (each channel count with --asterisk) is repeated
    p.add_argument("--max-seconds", type=float, default=600, help="--asterisk: give up on a run after this long")
    args = p.parse_args()
    if args.asterisk:
        from campaign_asterisk import run as run_asterisk
        if "--calls" not in sys.argv:
            args.calls = 0
        asyncio.run(run_asterisk(args, prepare, process_cpu_seconds, describe, service_seconds=call_work_seconds))
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
