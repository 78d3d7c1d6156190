"""Faults mid-campaign with the real Asterisk 22: the PBX restarted, the service killed with -9.

What must hold: every ticket ends final, nothing is dialled twice (counted
in Asterisk's own log of the dial-out context), no call lost to the fault is
taken for a wrong number, and the answers stored before the fault survive.
"""
from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from callcenter.ivr.runner import KEY_SETTLE_S
from callcenter.telephony import agi_service
from tests import campaign_harness as h
from tests.factories import insert_ticket
from tests.real_asterisk import SilentSynthesizer

pytestmark = pytest.mark.real_asterisk
CITIZENS = "Local/{number}@citizens"
SLOW = [f"139000020{i:02d}" for i in range(16)]       # ring 3 s, then answer 1 1 1


async def seed(pool, numbers) -> None:
    async with pool.acquire() as conn:
        for i, number in enumerate(numbers):
            await insert_ticket(conn, f"F{i:04d}", status="awaiting_callback", phone=number)


def dials_at_the_pbx(pbx, since: int) -> Counter:
    """How often Asterisk really dialled each number through the dial-out context (its log from
    offset ``since``, not ours)."""
    return Counter(re.findall(r"Executing \[(\d+)@callback-dialout:\d+\] Dial\(", pbx.messages()[since:]))


async def attempts(pool) -> list[dict]:
    async with pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch(
            "SELECT phone, outcome, note, channel_id IS NOT NULL AS sent FROM callback_attempts WHERE dialed_at IS NOT NULL")]


async def assert_final_and_dialled_once(db, pbx, since: int) -> list[dict]:
    """An Originate written as the link died may never reach the PBX (the ledger then holds a failed
    attempt the PBX never saw), but the PBX never dials more than the ledger holds."""
    rows = await attempts(db.pool)
    ledger = Counter(r["phone"] for r in rows)
    at_pbx = dials_at_the_pbx(pbx, since)
    assert set(at_pbx) == set(ledger) and all(at_pbx[n] <= ledger[n] for n in ledger), (at_pbx, ledger)
    unseen = sum(ledger.values()) - sum(at_pbx.values())
    assert unseen <= sum(r["outcome"] == "failed" for r in rows), "an attempt the PBX never saw is not failed"
    assert max(ledger.values()) <= 3
    assert "invalid-number" not in {r["outcome"] for r in rows}, \
        "a call lost to the fault was taken for a wrong number"
    async with db.pool.acquire() as conn:
        open_ = await conn.fetchval("SELECT count(*) FROM tickets WHERE status = 'awaiting_callback'")
    assert open_ == 0
    assert pbx.cli("core show channels count").startswith("0 active channels")
    return rows


async def wait_live(pool, at_least: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with pool.acquire() as conn:
            live = await conn.fetchval("SELECT count(*) FROM callback_attempts WHERE state IN ('dialing', 'answered')")
        if live >= at_least:
            return
        assert loop.time() < deadline, f"only {live} calls live after {timeout}s"
        await asyncio.sleep(0.1)


async def test_asterisk_restarted_mid_campaign(db, settings, real_asterisk, monkeypatch):
    monkeypatch.setattr(agi_service, "EspeakSynthesizer", lambda *_a, **_k: SilentSynthesizer())
    since = len(real_asterisk.messages())
    await seed(db.pool, SLOW)
    await h.start_campaign(db.pool, channels=8, max_attempts=3, dial=CITIZENS)
    async with h.service(settings, real_asterisk.ami_port, real_asterisk.agi_port, "restart-1",
                         key_settle_s=KEY_SETTLE_S):
        await wait_live(db.pool, 8, 20)
        await asyncio.sleep(1.0)                           # ringing, not yet answered
        real_asterisk.cli("core restart now")
        await asyncio.to_thread(real_asterisk.wait_gone_then_booted, 30)
        await h.wait_until_all_final(db.pool, timeout=60)
    rows = await assert_final_and_dialled_once(db, real_asterisk, since)
    # No attempt spent on a PBX going down or still booting (Shutdown and FullyBooted gate the link).
    assert dials_at_the_pbx(real_asterisk, since) == Counter(r["phone"] for r in rows)
    lost = [r for r in rows if r["outcome"] != "answered-complete"]
    assert len(lost) >= 8 and {r["outcome"] for r in lost} <= {"failed", "no-answer"}, lost
    async with db.pool.acquire() as conn:
        done = await conn.fetchval("SELECT count(*) FROM tickets WHERE status = 'called_back'")
    assert done == len(SLOW)                                # each lost call was retried and completed


def serve(settings, pbx, log_path: Path):
    """`callcenter serve` against the real PBX.  PATH holds only the interpreter's directory: no
    espeak-ng, so no per-call speech synthesis (prompts are tones; the citizens' keys are timed to them)."""
    return h.serve(settings, pbx.ami_port, pbx.agi_port, log_path, PATH=str(Path(sys.executable).parent))


async def test_service_killed_mid_campaign_is_reconciled_from_the_real_channels(db, settings, real_asterisk,
                                                                                tmp_path):
    numbers = [f"139000021{i:02d}" for i in range(10)]      # not SLOW's: the PBX's log is shared
    since = len(real_asterisk.messages())
    await seed(db.pool, numbers)
    await h.start_campaign(db.pool, channels=10, max_attempts=3, dial=CITIZENS)
    log_path = tmp_path / "serve.log"
    first = serve(settings, real_asterisk, log_path)
    second = None
    try:
        await wait_live(db.pool, 10, 30)
        first.send_signal(signal.SIGKILL)
        first.wait()
        ringing = int(real_asterisk.cli("core show channels count").split()[0])
        assert ringing > 0, "the calls should outlive the service (still ringing at the PBX)"
        second = serve(settings, real_asterisk, log_path)
        await h.wait_until_all_final(db.pool, timeout=60)
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log_path.read_text()[-3000:]
    finally:
        h.reap(first, second)
    rows = await assert_final_and_dialled_once(db, real_asterisk, since)
    followed = [r for r in rows if "reconciled" in (r["note"] or "")]
    assert followed, "no call was reconciled against the PBX's channel list"
    # Calls that rang through the kill were answered by the new instance's IVR and judged by their answers.
    assert {r["outcome"] for r in followed} <= {"answered-complete", "answered-partial", "failed", "no-answer"}
