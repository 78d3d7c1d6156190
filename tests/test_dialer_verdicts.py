"""The IVR of the same process hands its verdict to the dialer directly (Service wires them together).

The dialer then finishes an answered call without a query and without the
polling delay; anything that is not an outcome is ignored, and only calls the
dialer follows are listened for.
"""
from __future__ import annotations

import asyncio
import uuid

from callcenter.campaigns.dialer import Dialer, DialerOptions
from callcenter.campaigns.outcomes import Outcome


def _dialer(wait: float = 5.0) -> Dialer:
    dialer = Dialer(pool=None, pbx=None, options=DialerOptions(ivr_verdict_wait=wait))   # no pool: no query
    dialer.verdicts_in_process = True
    return dialer


async def test_a_given_verdict_is_used_without_a_query():
    dialer, attempt = _dialer(), uuid.uuid4()
    dialer._verdicts[str(attempt)] = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(dialer._verdict(attempt))
    await asyncio.sleep(0.01)
    assert not waiting.done()                         # the hang-up came first: it waits for the IVR
    dialer.verdict_given(attempt, "refused")
    assert await asyncio.wait_for(waiting, 1) is Outcome.REFUSED


async def test_a_verdict_given_before_the_hang_up_is_kept():
    dialer, attempt = _dialer(), uuid.uuid4()
    dialer._verdicts[str(attempt)] = asyncio.get_running_loop().create_future()
    dialer.verdict_given(str(attempt), "answered-complete")
    assert await asyncio.wait_for(dialer._verdict(attempt), 1) is Outcome.ANSWERED_COMPLETE


async def test_what_is_not_an_outcome_or_not_followed_is_ignored():
    dialer, attempt = _dialer(), uuid.uuid4()
    future = asyncio.get_running_loop().create_future()
    dialer._verdicts[str(attempt)] = future
    dialer.verdict_given(attempt, "hung-up-somehow")
    dialer.verdict_given(uuid.uuid4(), "refused")     # a call this dialer does not follow: nothing to tell
    assert not future.done() and len(dialer._verdicts) == 1
