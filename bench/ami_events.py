"""Events/s through AmiLink's input path vs panoramisk 1.4's bare parser, on the same bytes, in the same run.

The byte stream is the real Asterisk traffic of transcripts 02–09 (all
events, VarSet noise included, i.e. an unfiltered session), repeated with
fresh Uniqueids.  Ours = parse + route (ActionID / Uniqueid / Linkedid /
event name) + dispatch to handlers, with 50 tracked channels and a
per-event-name handler.  panoramisk = AMIProtocol.data_received with a
no-op dispatch.  Both are fed 4 KiB chunks, as a socket would.

    .venv/bin/python bench/ami_events.py [--repeat N] [--runs 3]

Each side is timed --runs times (alternating, same bytes) and printed as
min / median / max events/s; the ratio is of the medians.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402
from spread import add_runs_argument, print_table, summary  # noqa: E402

from panoramisk.ami_protocol import AMIProtocol  # noqa: E402

from callcenter.sim import transcripts  # noqa: E402
from callcenter.telephony.ami import AmiLink, AmiLinkConfig, _LinkProtocol  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "asterisk"
SCENARIOS = ["02-answered-dtmf-111", "03-answered-speech-record", "04-answered-hangup-mid-question", "05-busy",
             "06-congestion", "07-no-answer-timeout", "08-rejected-21", "09-no-such-extension"]
CHUNK = 4096


class _NullTransport(asyncio.Transport):
    def write(self, data) -> None:
        pass

    def abort(self) -> None:
        pass


def build_stream(repeat: int) -> tuple[bytes, int, list[str]]:
    """Call traffic only (no login/logoff), ids renamed per copy so routing tables see distinct calls."""
    calls = []
    for name in SCENARIOS:
        segments = transcripts.load(FIXTURES / f"{name}.ami.txt")
        messages = [m for s in segments if s.direction == transcripts.RECEIVED for m in s.messages
                    if m[0][0] == "Event" and m[0][1] != "FullyBooted"]
        calls.append(transcripts.received_bytes([transcripts.Segment(transcripts.RECEIVED, messages)]))
    ids = [b"chan-dtmf", b"other-dtmf", b"chan-speech", b"other-speech", b"chan-hup", b"other-hup",
           b"chan-05", b"other-05", b"chan-06", b"other-06", b"chan-07", b"other-07", b"chan-08", b"other-08",
           b"chan-noext", b"other-noext"]
    parts, tracked = [], []
    for i in range(repeat):
        for block in calls:
            copy = block
            for uid in ids:
                copy = copy.replace(uid, uid + b"-%d" % i)
            parts.append(copy)
        if i < 50:
            tracked.append(f"chan-05-{i}")
    stream = b"".join(parts)
    return stream, stream.count(b"\r\n\r\n"), tracked


def run_ours(stream: bytes, tracked: list[str]) -> tuple[float, int]:
    async def go() -> tuple[float, int]:
        link = AmiLink(AmiLinkConfig())
        hits = [0]

        def count(message) -> None:
            hits[0] += 1

        for name in ("Newchannel", "Newstate", "Hangup", "DialEnd", "OriginateResponse"):
            link.on_event(name, count)
        for uid in tracked:
            link.on_channel(uid, count)
        protocol = _LinkProtocol(link)
        protocol.connection_made(_NullTransport())
        started = time.perf_counter()
        for i in range(0, len(stream), CHUNK):
            protocol.data_received(stream[i:i + CHUNK])
        elapsed = time.perf_counter() - started
        assert link.counters.handler_errors == 0
        return elapsed, link.counters.events_received
    return asyncio.run(go())


class _Factory:
    save_stream = None
    forgetable_actions = ()
    awaiting_actions: deque = deque()

    def __init__(self) -> None:
        self.events = 0

    def dispatch(self, message) -> None:
        self.events += 1


def run_panoramisk(stream: bytes) -> tuple[float, int]:
    protocol = AMIProtocol()
    protocol.connection_made(_NullTransport())
    factory = _Factory()
    protocol.factory = factory
    protocol.encoding = "utf8"
    started = time.perf_counter()
    for i in range(0, len(stream), CHUNK):
        protocol.data_received(stream[i:i + CHUNK])
    return time.perf_counter() - started, factory.events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="copies of the 8 scenarios (default 200)")
    add_runs_argument(parser)
    args = parser.parse_args()
    stream, events, tracked = build_stream(args.repeat)
    ours, theirs = [], []
    for _ in range(args.runs):
        elapsed, seen = run_ours(stream, tracked)
        assert seen == events, (seen, events)
        ours.append(events / elapsed)
        elapsed, seen = run_panoramisk(stream)
        assert seen == events, (seen, events)
        theirs.append(events / elapsed)
    print(f"machine: {describe()}")
    print(f"platform.processor()={platform.processor()!r} cpu_count={os.cpu_count()} "
          f"python={platform.python_version()}")
    print(f"stream: {events} events, {len(stream) / 2**20:.1f} MiB, {CHUNK} B chunks, {args.runs} run(s)")
    print_table("events/s", {"AmiLink parse+route+dispatch": ours, "panoramisk bare parser": theirs}, fmt="{:,.0f}")
    print(f"ratio ours/panoramisk (medians): {summary(ours)[1] / summary(theirs)[1]:.2f}")


if __name__ == "__main__":
    main()
