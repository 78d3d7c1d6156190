"""The callback IVR against the real Asterisk 22, as an acceptance tester's citizens behave.

Each citizen in tests/fixtures/real_pbx/test-extensions.conf (13900000500…) does one awkward
thing: presses a key during the greeting, a key then '#', two keys at once, '*' again and again,
hangs up at each point, explains 不满意 after the beep, answers slowly or not at all.  All of them
are called in one campaign (one attempt each, so the run takes as long as the slowest citizen);
afterwards the ledger must hold what each one said and the right verdict.
"""
from __future__ import annotations

import pytest

from callcenter.db import callbacks
from callcenter.ivr.runner import KEY_SETTLE_S
from callcenter.web.core.recording_files import contained_file
from tests import campaign_harness as h
from tests.factories import insert_ticket
from tests.test_real_pbx_campaign import CITIZENS, _no_tts, _wait  # noqa: F401  (_no_tts: autouse)

pytestmark = pytest.mark.real_asterisk

# number → (verdict, the answers stored: question → intent)
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
