"""Faults on the AMI link: connection drops mid-campaign, half-open sockets, a PBX restart.

The invariants: an Originate reaches Asterisk at most once, every call still
gets an outcome (saying where it came from), and the link heals by itself.
"""
from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from callcenter.sim.citizens import CitizenBook, CitizenScript, Pickup
from callcenter.sim.simulator import SimConfig, Simulator
from callcenter.telephony.ami import AmiDisconnected, AmiLink, AmiNotReady
from callcenter.telephony.ami_originate import CallStatus, OriginateUnknown, OutcomeSource

from .test_ami_link import call, link_config

PICKUPS = [Pickup.ANSWER, Pickup.BUSY, Pickup.NO_ANSWER, Pickup.ANSWER, Pickup.REJECTED]
EXPECTED = {  # pickup → (status, OriginateResponse Reason, first non-zero Hangup cause)
    Pickup.ANSWER.value: (CallStatus.ANSWERED, 4, 0),
    Pickup.BUSY.value: (CallStatus.NOT_ANSWERED, 5, 17),
    Pickup.NO_ANSWER.value: (CallStatus.NOT_ANSWERED, 3, 19),
    Pickup.REJECTED.value: (CallStatus.NOT_ANSWERED, 0, 21),
}
NUMBERS = [f"1380000{i:04d}" for i in range(20)]


class SlowAgi:
    """Keeps answered calls in the IVR for a while, so some are live across the outage."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def __call__(self, agi_url, env, script, variables, *, time_scale):
        await asyncio.sleep(self.seconds)
        return type("Result", (), {"hung_up_by": "ivr"})()


@pytest.fixture
async def sim():
    book = CitizenBook(by_number={n: CitizenScript(pickup=PICKUPS[i % len(PICKUPS)], ring_seconds=5 + i)
                                  for i, n in enumerate(NUMBERS)})
    simulator = Simulator(SimConfig(ami_port=0, time_scale=0.01, noise_per_call=20, book=book),
                          agi_session=SlowAgi(0.25))
    await simulator.start()
    yield simulator
    await simulator.close()


async def test_drop_mid_campaign_never_dials_twice_and_every_call_gets_an_outcome(sim):
    async with AmiLink(link_config(sim.port, ping_interval=0.5)) as link:
        await link.wait_ready(5)
        handles = []
        refused_while_down = 0
        pending = list(NUMBERS)
        while pending:
            if len(handles) == 8:
                sim.ami.drop_on_next("Originate")          # Asterisk gets it, the "queued" reply is lost
            if len(handles) == 14 and link.counters.reconnects == 1:
                sim.ami.kill_connections()                 # a second outage with calls in flight
            try:
                handles.append(call(link, pending[0], timeout_ms=30000))
                pending.pop(0)
            except AmiNotReady:                            # nothing was sent: the dialer retries later
                refused_while_down += 1
                await link.wait_ready(5)
            await asyncio.sleep(0.01)
        outcomes = await asyncio.wait_for(asyncio.gather(*(h.outcome for h in handles)), 15)

        # No Originate reached the PBX twice.  One written into a socket the PBX had already reset never
        # arrives at all: that is what "unknown — reconcile" is for.
        received = sim.ami.originates_received()
        assert len(received) == len(set(received))
        assert set(received) <= {h.action_id for h in handles} and len(received) >= 18
        for handle in handles:
            if handle.action_id not in received:
                with pytest.raises(OriginateUnknown):
                    handle.queued.result()
                assert handle.outcome.result().status is CallStatus.UNKNOWN
                assert handle.channel_id not in sim.engine.outcomes     # it really never dialed
        assert link.counters.reconnects >= 2
        # The one whose "queued" was lost is reported unknown — reconcile, never resent…
        with pytest.raises(OriginateUnknown):
            handles[8].queued.result()
        # …and every call's outcome agrees with what the simulator actually did.
        sources = Counter()
        for handle, outcome in zip(handles, outcomes):
            if handle.action_id not in received:
                continue
            status, reason, cause = EXPECTED[sim.engine.outcomes[handle.channel_id]]
            sources[outcome.source] += 1
            if outcome.source is OutcomeSource.ORIGINATE_RESPONSE:
                assert (outcome.status, outcome.reason) == (status, reason)
                if outcome.cause is not None:
                    assert outcome.cause == cause
            elif outcome.source is OutcomeSource.HANGUP:
                assert outcome.status in (status, CallStatus.UNKNOWN) and outcome.cause == cause
            else:
                assert outcome.source is OutcomeSource.RECONCILE and outcome.status is CallStatus.UNKNOWN
                assert handle.channel_id not in {c.uniqueid for c in sim.engine.channels.live()}
        assert link.unsettled() == []
        print(f"\noutcome sources: {dict(sources)}; refused while down: {refused_while_down}")


async def test_originate_response_lost_in_outage_settles_from_hangup(sim):
    async with AmiLink(link_config(sim.port, ping_interval=0.5)) as link:
        await link.wait_ready(5)
        sim.ami.kill_before_event("OriginateResponse")
        handle = call(link, NUMBERS[0], timeout_ms=30000)         # answered; the IVR holds it 0.25 s
        outcome = await asyncio.wait_for(handle.outcome, 5)
        assert not handle.response.done()                       # the OriginateResponse never arrived…
        assert handle.live_after_reconnect                      # …reconcile found the channel still up…
        assert outcome.source is OutcomeSource.HANGUP           # …and its Hangup, after reconnect, settled it
        assert (outcome.status, outcome.cause) == (CallStatus.ANSWERED, 0)
        assert link.counters.reconnects == 1


async def test_call_finished_during_outage_is_unknown_after_reconcile(sim):
    async with AmiLink(link_config(sim.port, ping_interval=0.5, backoff_initial=0.5, backoff_max=0.5)) as link:
        await link.wait_ready(5)
        sim.ami.kill_before_event("Newstate")
        handle = call(link, NUMBERS[2], timeout_ms=1000)        # no answer: all over in 10 ms, during the outage
        outcome = await asyncio.wait_for(handle.outcome, 5)
        assert handle.queued.result().success and not handle.response.done()
        assert (outcome.status, outcome.source) == (CallStatus.UNKNOWN, OutcomeSource.RECONCILE)


async def test_half_open_link_is_detected_by_ping_and_replaced(sim):
    async with AmiLink(link_config(sim.port, ping_interval=0.05, ping_timeout=0.2)) as link:
        await link.wait_ready(5)
        sim.ami.go_half_open()
        stuck = asyncio.create_task(link.send_action({"Action": "CoreShowChannels"}, timeout=5))
        with pytest.raises(AmiDisconnected):
            await stuck                                    # failed, not silently resent on the new link
        for _ in range(250):
            if link.ready and link.counters.reconnects >= 1:
                break
            await asyncio.sleep(0.02)
        assert link.counters.ping_timeouts >= 1 and link.counters.reconnects >= 1 and link.ready
        assert (await link.send_action({"Action": "Ping"})).response.get("Ping") == "Pong"
        assert "CoreShowChannels" not in [r.name for r in sim.ami.received]
        outcome = await asyncio.wait_for(call(link, NUMBERS[1]).outcome, 5)
        assert (outcome.status, outcome.reason) == (CallStatus.NOT_ANSWERED, 5)


async def test_drop_fails_waiting_actions_at_once(sim):
    async with AmiLink(link_config(sim.port, ping_interval=30, action_timeout=60)) as link:
        await link.wait_ready(5)
        sim.ami.go_half_open()
        waiting = asyncio.create_task(link.send_action({"Action": "Status"}))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        sim.ami.kill_connections()
        with pytest.raises(AmiDisconnected):
            await asyncio.wait_for(waiting, 5)          # not after the 60 s action timeout
        await link.wait_ready(5)


async def test_reconnects_after_the_pbx_restarts():
    first = Simulator(SimConfig(ami_port=0, time_scale=0.01))
    port = await first.start()
    async with AmiLink(link_config(port)) as link:
        await link.wait_ready(5)
        await first.close()
        for _ in range(100):
            if not link.ready:
                break
            await asyncio.sleep(0.01)
        assert not link.ready
        await asyncio.sleep(0.3)                           # several refused connects, backing off
        second = Simulator(SimConfig(ami_port=port, time_scale=0.01))
        await second.start()
        try:
            await link.wait_ready(5)
            assert link.counters.reconnects == 1
            assert (await link.send_action({"Action": "Ping"})).response.get("Ping") == "Pong"
        finally:
            await second.close()


def test_backoff_is_exponential_and_capped():
    link = AmiLink(link_config(1, backoff_initial=0.5, backoff_max=30.0))
    delays = [link._backoff(n) for n in range(1, 12)]
    assert 0.45 <= delays[0] <= 0.55
    assert all(b >= a * 1.5 for a, b in zip(delays[:5], delays[1:6]))
    assert max(delays) <= 33.0 and delays[-1] >= 27.0
