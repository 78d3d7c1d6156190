"""Hotline scenarios on the simulator that the real Asterisk 22 showed (tests/test_real_pbx_hotline_accept.py):
the simulator must send what Asterisk sends, so the service sees the same thing in both."""
from __future__ import annotations

import asyncio

from callcenter.hotline.hub import agent_topic
from callcenter.sim.queues import AgentScript

from .test_hotline_e2e import running_hotline, until
from .test_real_pbx_hotline_accept import messages, rows, stored


async def test_a_member_signed_out_mid_call_gets_no_status_after_removal_and_leaves_the_wall(db, settings):
    """Asterisk 22 sends AgentComplete for a member removed mid-call, but no QueueMemberStatus any more."""
    async with running_hotline(db, settings, time_scale=0.1, talk_seconds=10) as (sim, link, service):
        seen: list[str] = []
        link.on_event("*", lambda m: seen.append(m.event) if m.event.startswith(("Queue", "Agent")) else None)
        await service.login_agent("agent")
        sim.engine.queues.inbound("13800000201")
        await until(lambda: service.state.agent_by_name("agent")
                    and service.state.agent_by_name("agent").talking_to, 5)
        await service.logout_agent("agent")
        (row,) = (await stored(service, db, 1)).values()
        assert (row["outcome"], row["agent"]) == ("answered", "agent")
        await asyncio.sleep(0.1)
        after = seen[seen.index("QueueMemberRemoved") + 1:]
        assert "AgentComplete" in after and "QueueMemberStatus" not in after, after
        assert service.live()["agents"] == []


async def test_an_agent_who_does_not_pick_up_has_the_pop_withdrawn(db, settings):
    async with running_hotline(db, settings, time_scale=0.1, talk_seconds=2) as (sim, link, service):
        queues = sim.engine.queues
        queues.agents["slowpoke"] = AgentScript(answers=False)
        pops = service.hub.subscribe(agent_topic("slowpoke"))
        await service.login_agent("slowpoke")
        sim.engine.queues.inbound("13800000202")
        await until(lambda: service.state.agent_by_name("slowpoke").ringing_for, 5)
        await service.login_agent("agent")
        (row,) = (await stored(service, db, 1)).values()
        assert (row["outcome"], row["agent"]) == ("answered", "agent")
        kinds = [m["type"] for m in messages(pops)]
        assert kinds[0] == "screen_pop" and "ring_ended" in kinds, kinds
        assert len(await rows(db)) == 1


async def test_a_withheld_number_pressing_1_stays_in_the_queue_as_on_asterisk(db, settings):
    """[hotline-exit] matches only a callable caller ID (docker/asterisk/extensions.conf)."""
    from callcenter.sim.queues import CallerScript
    async with running_hotline(db, settings, time_scale=0.1, talk_seconds=2) as (sim, link, service):
        for number in ("anonymous", "13800000203"):
            sim.engine.queues.inbound(number, script=CallerScript(patience=4, press_one_after=1))
        got = await stored(service, db, 2)
        assert sorted((r["caller_phone"], r["outcome"]) for r in got.values()) == [
            ("", "abandoned"), ("13800000203", "callback_requested")]
        async with db.pool.acquire() as conn:
            assert [r["caller_phone"] for r in await conn.fetch("SELECT caller_phone FROM callback_tasks")] == [
                "13800000203"]
