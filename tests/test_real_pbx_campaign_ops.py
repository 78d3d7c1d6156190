"""An operator steers campaigns on the real Asterisk 22 while calls are live: `serve` and the CLI as processes.

One run, the order an acceptance tester would try things in: the trunk's channels lowered below the calls
live and a campaign paused mid-call; a second, overlapping campaign started meanwhile (it must wait for the
channel and leave the first one's tickets alone); the limit raised and the first resumed (the retry born
while paused is dialled now); the first stopped while its call rings (the outcome is kept, nothing is left
pending, the second takes the ticket in a round of its own); `serve` stopped (SIGTERM) with calls live and
started again (they finish first, nothing is called twice or lost); ``campaign status`` agreeing with the ledger.
"""
from __future__ import annotations

import asyncio
import re
import signal
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from callcenter.telephony import agi_service
from tests import campaign_harness as h
from tests.factories import insert_ticket
from tests.real_asterisk import SilentSynthesizer

pytestmark = pytest.mark.real_asterisk
CITIZENS = "Local/{number}@citizens"
RETRIED = "13900003001"          # rings 4 s, picks up and hangs up: not reached, retried
SLOW = "13900001001"             # answers 1 1 1 (a whole survey, ~7 s)
LATER = ("13900001002", "13900001003")


@pytest.fixture(autouse=True)
def _no_tts(monkeypatch):
    monkeypatch.setattr(agi_service, "EspeakSynthesizer", lambda *_a, **_k: SilentSynthesizer())


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _until(pool, query: str, *args, timeout: float = 30, what: str = "") -> None:
    """Poll until ``query`` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with pool.acquire() as conn:
            if await conn.fetchval(query, *args):
                return
            if loop.time() > deadline:
                rows = await conn.fetch("""SELECT c.name, a.phone, a.state, a.outcome, a.dialed_at, a.ended_at
                                             FROM callback_attempts a JOIN campaigns c ON c.id = a.campaign_id
                                            ORDER BY a.created_at""")
                trace = "\n".join(map(str, map(dict, rows)))
                raise AssertionError(f"not so after {timeout}s: {what or query}\n{trace}")
        await asyncio.sleep(0.1)


def _status_counts(text: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^  (\S+)\s+(\d+)$", text, re.M)}


async def test_pause_lower_resume_stop_with_calls_live_and_a_second_campaign_beside(
        db, settings, real_asterisk, tmp_path):
    async with db.pool.acquire() as conn:
        tickets = {RETRIED: await insert_ticket(conn, "OPS1", status="awaiting_callback", phone=RETRIED,
                                                category_l1="环境保护"),
                   SLOW: await insert_ticket(conn, "OPS2", status="awaiting_callback", phone=SLOW,
                                             category_l1="环境保护")}
        for i, number in enumerate(LATER):
            tickets[number] = await insert_ticket(conn, f"OPS{3 + i}", status="awaiting_callback", phone=number)

    async def cli(*argv: str) -> str:
        return await h.cli(settings, *argv)

    live_a = """SELECT count(*) FROM callback_attempts a JOIN campaigns c ON c.id = a.campaign_id
                 WHERE c.name = '甲' AND a.state IN ('dialing', 'answered')"""
    log_path = tmp_path / "serve.log"
    grace = dict(PATH=str(Path(sys.executable).parent), CALLCENTER_SHUTDOWN_GRACE="20")
    served = h.serve(settings, real_asterisk.ami_port, real_asterisk.agi_port, log_path, **grace)
    try:
        await cli("trunk", "add", "citizens", "--dial", CITIZENS, "--channels", "3", "--cps", "5",
                  "--caller-id", "<01082345678>")
        await cli("campaign", "create", "甲", "--trunk", "citizens", "--window", "00:00-23:59", "--category",
                  "环境保护", "--max-attempts", "3", "--retry-no-answer", "1s", "--no-answer-same-window")
        await cli("campaign", "create", "乙", "--trunk", "citizens", "--window", "00:00-23:59",
                  "--max-attempts", "1", "--daily-cap", "3")
        await cli("campaign", "start", "甲")
        await _until(db.pool, live_a.replace("count(*)", "count(*) = 2"), what="both of 甲's calls live")

        # Two calls live: 甲 pauses, the limit goes down to one, 乙 (every ticket at 待回访) starts.
        await cli("campaign", "pause", "甲")
        paused_at = _now()
        lowered = await cli("trunk", "add", "citizens", "--channels", "1")
        started = await cli("campaign", "start", "乙")
        assert "2 ticket(s) waiting at 待回访 match" in started, started      # not 甲's two, held by 甲
        await _until(db.pool, f"SELECT ({live_a}) = 0", what="甲's calls end while paused")
        await _until(db.pool, """SELECT count(*) = 1 FROM callback_attempts WHERE phone = $1 AND state = 'pending'""",
                     RETRIED, what="the retry born while paused")
        await asyncio.sleep(2.5)                  # two refreshes: a paused campaign's retry stays put
        await cli("trunk", "add", "citizens", "--channels", "3")
        resumed_at = _now()
        await cli("campaign", "resume", "甲")
        await _until(db.pool, """SELECT count(*) = 1 FROM callback_attempts
                                  WHERE phone = $1 AND state IN ('dialing', 'answered')""", RETRIED,
                     what="the retry dialled after resume")
        stopped = await cli("campaign", "stop", "甲")          # while it rings
        assert "1 call(s) still live finish and are recorded" in stopped, stopped
        # SIGTERM with calls live: they finish within the grace (no citizen cut off), then a new start.
        async with db.pool.acquire() as conn:
            live_at_term = await conn.fetchval(
                "SELECT count(*) FROM callback_attempts WHERE state IN ('dialing', 'answered')")
        served.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(served.wait, 30) == 0, log_path.read_text()[-3000:]
        async with db.pool.acquire() as conn:
            live_after_term = await conn.fetchval(
                "SELECT count(*) FROM callback_attempts WHERE state IN ('dialing', 'answered')")
        served = h.serve(settings, real_asterisk.ami_port, real_asterisk.agi_port, log_path, **grace)
        await _until(db.pool, """SELECT count(*) = 0 FROM tickets WHERE status = 'awaiting_callback'""",
                     timeout=40, what="every ticket's callback over")
        await _until(db.pool, """SELECT count(*) = 0 FROM callback_attempts
                                  WHERE state IN ('pending', 'dialing', 'answered') OR NOT settled""")
        status = {name: await cli("campaign", "status", name) for name in ("甲", "乙")}
        served.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(served.wait, 30) == 0, log_path.read_text()[-3000:]
    finally:
        h.reap(served)

    async with db.pool.acquire() as conn:
        attempts = [dict(r) for r in await conn.fetch(
            """SELECT c.name AS campaign, a.phone, a.state, a.outcome, a.created_at, a.dialed_at, a.ended_at
                 FROM callback_attempts a JOIN campaigns c ON c.id = a.campaign_id ORDER BY a.attempt_no""")]
        states = {number: await conn.fetchval("SELECT status FROM tickets WHERE id = $1", ticket)
                  for number, ticket in tickets.items()}
        trunk = await conn.fetchrow("SELECT max_channels, max_cps, caller_id FROM trunks WHERE name = 'citizens'")
        ledger = {name: {r["k"]: r["n"] for r in await conn.fetch(
            """SELECT coalesce(a.outcome, a.state) AS k, count(*) AS n FROM callback_attempts a
                 JOIN campaigns c ON c.id = a.campaign_id WHERE c.name = $1 GROUP BY 1""", name)}
            for name in ("甲", "乙")}
    trace = "\n".join(map(str, attempts))
    assert live_at_term >= 2 and live_after_term == 0, (live_at_term, live_after_term, trace)
    calls = {number: [(a["campaign"], a["outcome"] or a["state"]) for a in attempts if a["phone"] == number]
             for number in tickets}
    assert calls == {
        SLOW: [("甲", "answered-complete")],
        # 1st: live at the pause; 2nd: born while paused, dialled after resume, live at the stop (kept);
        # its retry cancelled by the stop; then 乙's own round (one attempt allowed).
        RETRIED: [("甲", "no-answer"), ("甲", "no-answer"), ("甲", "cancelled"), ("乙", "no-answer")],
        LATER[0]: [("乙", "answered-complete")], LATER[1]: [("乙", "answered-complete")],
    }, trace
    assert states == {SLOW: "called_back", RETRIED: "callback_failed",
                      LATER[0]: "called_back", LATER[1]: "called_back"}
    first_a = [a for a in attempts if a["campaign"] == "甲" and a["dialed_at"] is not None][:2]
    retry = [a for a in attempts if a["phone"] == RETRIED][1]
    b_calls = [a for a in attempts if a["campaign"] == "乙" and a["dialed_at"] is not None]
    # The lowered limit held: 乙 waited until both of 甲's calls were over (one channel, two calls on it).
    assert min(a["dialed_at"] for a in b_calls) >= max(a["ended_at"] for a in first_a) - timedelta(seconds=0.5), trace
    # Paused: the retry was born during the pause and waited for the resume.
    assert paused_at < retry["created_at"] < resumed_at <= retry["dialed_at"], trace
    assert not [a for a in attempts if a["campaign"] == "甲" and a["dialed_at"]
                and paused_at < a["dialed_at"] < resumed_at], trace
    # `trunk add NAME --channels N` on an existing trunk changed the channels only.
    assert "1 channels, 5 setups/s, caller ID <01082345678>" in lowered, lowered
    assert (trunk["max_channels"], float(trunk["max_cps"]), trunk["caller_id"]) == (3, 5.0, "<01082345678>")
    for name, text in status.items():
        shown = _status_counts(text)
        assert {k: shown.get(k, 0) for k in ledger[name]} == ledger[name], (name, text)
        assert shown["open_tickets"] == 0 and shown.get("pending", 0) == 0, (name, text)
    assert "(finished)" in status["甲"] and "done: every ticket's callback is over" in status["乙"], status
    assert real_asterisk.cli("core show channels count").startswith("0 active channels")
    assert "Traceback" not in log_path.read_text()
